"""Affinity groups: keep VMs on the same host or apart.

``createAffinityGroup`` and ``deleteAffinityGroup`` are asynchronous in CloudStack, so
clients poll a job; the change is a database write only (no host is involved), so it
commits with the job row in the request and the job is already finished when polled.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import Field

from altostratus.api.declarations import ANYONE, SUCCESS, CommandSet
from altostratus.api.ownership import OwnedListParams, OwnerParams
from altostratus.api.params import ListParams, Uuid, page_request
from altostratus.api.results import ListResult, ResponseObject, Single, Success
from altostratus.core.context import ServiceContext
from altostratus.db.models import AffinityGroup
from altostratus.services.compute import affinity
from altostratus.services.compute.affinity import AffinityType

__all__ = [
    "AffinityGroupResponse",
    "AffinityTypeResponse",
    "CreateGroupParams",
    "DeleteGroupParams",
    "ListGroupsParams",
    "affinity_group_view",
    "commands",
    "create_group",
    "delete_group",
    "list_group_types",
    "list_groups",
]

commands = CommandSet()

Name = Annotated[str, Field(min_length=1, max_length=255)]


class AffinityGroupResponse(ResponseObject):
    id: str
    name: str
    type: str
    description: str | None = None
    account: str
    domainid: str
    domain: str
    #: CloudStack's spelling; left out where a VM's answer embeds its groups.
    virtualmachineIds: list[str] | None = None


def affinity_group_view(
    group: AffinityGroup, members: Sequence[str] | None = None
) -> AffinityGroupResponse:
    """``members`` (VM UUIDs) for listings of groups; VMs embed their groups without."""
    return AffinityGroupResponse(
        id=group.uuid,
        name=group.name,
        type=group.type,
        description=group.description,
        account=group.account.name,
        domainid=group.domain.uuid,
        domain=group.domain.name,
        virtualmachineIds=list(members) if members is not None else None,
    )


class CreateGroupParams(OwnerParams):
    name: Name = Field(description="Name of the group; unique in the account")
    type: AffinityType = Field(description="host affinity or host anti-affinity")
    description: str | None = Field(None, max_length=4096, description="What the group is for")


@commands.command(
    "createAffinityGroup",
    CreateGroupParams,
    description="Creates an affinity group (VMs on one host) or anti-affinity group (apart)",
    allowed=ANYONE,
    response=("affinitygroup", AffinityGroupResponse),
    is_async=True,
    related=("listAffinityGroups",),
)
async def create_group(ctx: ServiceContext, p: CreateGroupParams) -> Single:
    group = await affinity.create_group(
        ctx,
        name=p.name,
        group_type=p.type,
        description=p.description,
        account=p.account,
        domain_uuid=p.domainid,
        project_uuid=p.projectid,
    )
    return Single("affinitygroup", affinity_group_view(group, []))


class DeleteGroupParams(OwnerParams):
    id: Uuid | None = Field(None, description="The group to delete; or give name")
    name: Name | None = Field(None, description="Name of the group to delete; or give id")


@commands.command(
    "deleteAffinityGroup",
    DeleteGroupParams,
    description="Deletes an affinity group that no live VM is a member of",
    allowed=ANYONE,
    response=SUCCESS,
    is_async=True,
)
async def delete_group(ctx: ServiceContext, p: DeleteGroupParams) -> Success:
    group = await affinity.find_group(
        ctx,
        group_uuid=p.id,
        name=p.name,
        account=p.account,
        domain_uuid=p.domainid,
        project_uuid=p.projectid,
    )
    await affinity.delete_group(ctx, group)
    return Success()


class ListGroupsParams(OwnedListParams):
    id: Uuid | None = Field(None, description="List the group of this id")
    name: str | None = Field(None, max_length=255, description="List groups of this name")
    type: AffinityType | None = Field(None, description="host affinity or host anti-affinity")
    virtualmachineid: Uuid | None = Field(None, description="List the groups of this VM")


@commands.command(
    "listAffinityGroups",
    ListGroupsParams,
    description="Lists affinity groups with their member VMs",
    allowed=ANYONE,
    response=("affinitygroup", AffinityGroupResponse),
    writes=False,
)
async def list_groups(ctx: ServiceContext, p: ListGroupsParams) -> ListResult:
    page = await affinity.list_groups(
        ctx,
        group_uuid=p.id,
        name=p.name,
        group_type=p.type,
        vm_uuid=p.virtualmachineid,
        keyword=p.keyword,
        scope=p.scope(),
        page=page_request(ctx, p),
    )
    members = await affinity.members_of(ctx.session, [group.id for group in page.items])
    views = [affinity_group_view(group, members[group.id]) for group in page.items]
    return ListResult("affinitygroup", views, page.total)


class AffinityTypeResponse(ResponseObject):
    type: str


@commands.command(
    "listAffinityGroupTypes",
    ListParams,
    description="Lists the affinity group types",
    allowed=ANYONE,
    response=("affinityGroupType", AffinityTypeResponse),
    writes=False,
)
async def list_group_types(ctx: ServiceContext, p: ListParams) -> ListResult:
    kinds = [AffinityTypeResponse(type=kind.value) for kind in AffinityType]
    return ListResult("affinityGroupType", kinds, len(kinds))
