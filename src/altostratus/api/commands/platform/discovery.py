"""``listApis`` and ``listCapabilities``: what clients discover, generated from declarations."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import Field

from altostratus import CLOUDSTACK_API_VERSION, __version__
from altostratus.api.declarations import ANYONE, Command, CommandSet
from altostratus.api.params import Params, api_type_of
from altostratus.api.results import ListResult, ResponseObject, Single
from altostratus.core.context import ServiceContext
from altostratus.errors import InvalidParameter

__all__ = [
    "Api",
    "ApiParam",
    "ApiResponseField",
    "CapabilitiesParams",
    "Capability",
    "ListApisParams",
    "command_set",
    "describe",
]

_DEFAULT_LENGTH = 255


class ApiParam(ResponseObject):
    name: str
    description: str
    type: str
    length: int
    required: bool
    since: str | None = None


class ApiResponseField(ResponseObject):
    name: str
    description: str
    type: str


class Api(ResponseObject):
    name: str
    description: str
    isasync: bool
    related: str
    since: str | None = None
    params: list[ApiParam]
    response: list[ApiResponseField]


def describe(command: Command[Any]) -> Api:
    params = []
    for name, field in command.params.model_fields.items():
        length = next(
            (
                getattr(m, "max_length", None)
                for m in field.metadata
                if getattr(m, "max_length", None)
            ),
            None,
        )
        params.append(
            ApiParam(
                name=name,
                description=field.description or "",
                type=api_type_of(field),
                length=length or _DEFAULT_LENGTH,
                required=field.is_required(),
            )
        )
    return Api(
        name=command.name,
        description=command.description,
        isasync=command.is_async,
        related=",".join(command.related),
        params=params,
        response=[ApiResponseField(name=command.response_name, description="", type="object")],
    )


class ListApisParams(Params):
    name: str | None = Field(None, description="Describe only the API of this name")


class CapabilitiesParams(Params):
    pass


class Capability(ResponseObject):
    cloudstackversion: str
    altostratusversion: str
    apilimitinterval: int
    apilimitmax: int
    securitygroupsenabled: bool
    userpublictemplateenabled: bool
    allowusercreateprojects: bool
    allowuserviewdestroyedvm: bool
    allowuserexpungerecovervm: bool
    customdiskofferingminsize: int
    customdiskofferingmaxsize: int
    regionsecondaryenabled: bool
    kvmsnapshotenabled: bool
    supportELB: str
    projectinviterequired: bool
    dynamicrolesenabled: bool


def command_set(registry: Iterable[Command[Any]]) -> CommandSet:
    """The discovery commands of ``registry`` (they describe the registry they join)."""

    commands = CommandSet()

    @commands.command(
        "listApis",
        ListApisParams,
        description="Lists the APIs the caller may use, with their parameters",
        allowed=ANYONE,
        response="api",
        writes=False,
    )
    async def list_apis(ctx: ServiceContext, p: ListApisParams) -> ListResult:
        role = ctx.caller.role_type
        visible = [c for c in registry if role in c.allowed]
        if p.name is not None:
            visible = [c for c in visible if c.name.lower() == p.name.lower()]
            if not visible:
                raise InvalidParameter(f"API {p.name} does not exist or is not available")
        return ListResult("api", [describe(c) for c in visible], len(visible))

    @commands.command(
        "listCapabilities",
        CapabilitiesParams,
        description="Lists the capabilities of the cloud",
        allowed=ANYONE,
        response="capability",
        writes=False,
    )
    async def list_capabilities(ctx: ServiceContext, _p: CapabilitiesParams) -> Single:
        return Single(
            "capability",
            Capability(
                cloudstackversion=CLOUDSTACK_API_VERSION,
                altostratusversion=__version__,
                apilimitinterval=1,
                apilimitmax=0,
                securitygroupsenabled=False,
                userpublictemplateenabled=True,
                allowusercreateprojects=False,
                allowuserviewdestroyedvm=True,
                allowuserexpungerecovervm=False,
                customdiskofferingminsize=1,
                customdiskofferingmaxsize=1024,
                regionsecondaryenabled=False,
                kvmsnapshotenabled=True,
                supportELB="false",
                projectinviterequired=False,
                dynamicrolesenabled=False,
            ),
        )

    return commands
