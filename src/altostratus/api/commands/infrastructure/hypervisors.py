"""``listHypervisors``: the hypervisor names a template or cluster may be given."""

from __future__ import annotations

from pydantic import Field

from altostratus.api.declarations import ANYONE, CommandSet
from altostratus.api.params import Params, Uuid
from altostratus.api.results import ListResult, ResponseObject
from altostratus.core.context import ServiceContext
from altostratus.services.infrastructure.hypervisors import hypervisors_of

__all__ = ["HypervisorResponse", "ListHypervisorsParams", "commands", "list_hypervisors"]

commands = CommandSet()


class HypervisorResponse(ResponseObject):
    name: str = Field(description="the name of the hypervisor")


class ListHypervisorsParams(Params):
    zoneid: Uuid | None = Field(
        None, description="The zone whose clusters' hypervisors to list (default: all offered)"
    )


@commands.command(
    "listHypervisors",
    ListHypervisorsParams,
    description="Lists the hypervisors of a zone, or every hypervisor the cloud offers",
    allowed=ANYONE,
    response=("hypervisor", HypervisorResponse),
    writes=False,
)
async def list_hypervisors(ctx: ServiceContext, p: ListHypervisorsParams) -> ListResult:
    names = await hypervisors_of(ctx, p.zoneid)
    return ListResult("hypervisor", [HypervisorResponse(name=name) for name in names], len(names))
