"""Instance groups: ``createInstanceGroup``, ``listInstanceGroups``, ``updateInstanceGroup``,
``deleteInstanceGroup`` (synchronous, as in CloudStack); a VM joins one with ``group``."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from altostratus.api.declarations import ANYONE, SUCCESS, CommandSet
from altostratus.api.ownership import OwnedListParams, OwnerParams
from altostratus.api.params import Params, Uuid, page_request
from altostratus.api.results import ListResult, ResponseObject, Single, Success
from altostratus.core.context import ServiceContext
from altostratus.db.models import InstanceGroup
from altostratus.services.compute import instance_groups
from altostratus.timeutil import format_timestamp

__all__ = [
    "CreateGroupParams",
    "GroupIdParams",
    "InstanceGroupResponse",
    "ListGroupsParams",
    "UpdateGroupParams",
    "commands",
    "create_instance_group",
    "delete_instance_group",
    "instance_group_view",
    "list_instance_groups",
    "update_instance_group",
]

commands = CommandSet()

Name = Annotated[str, Field(min_length=1, max_length=255)]


class InstanceGroupResponse(ResponseObject):
    id: str
    name: str
    created: str
    account: str
    domainid: str
    domain: str


def instance_group_view(group: InstanceGroup) -> InstanceGroupResponse:
    return InstanceGroupResponse(
        id=group.uuid,
        name=group.name,
        created=format_timestamp(group.created),
        account=group.account.name,
        domainid=group.domain.uuid,
        domain=group.domain.name,
    )


class CreateGroupParams(OwnerParams):
    name: Name = Field(description="Name of the group; unique in the account")


@commands.command(
    "createInstanceGroup",
    CreateGroupParams,
    description="Creates an instance group, a name to file VMs under",
    allowed=ANYONE,
    response=("instancegroup", InstanceGroupResponse),
    related=("listInstanceGroups",),
)
async def create_instance_group(ctx: ServiceContext, p: CreateGroupParams) -> Single:
    group = await instance_groups.create_group(
        ctx, name=p.name, account=p.account, domain_uuid=p.domainid, project_uuid=p.projectid
    )
    return Single("instancegroup", instance_group_view(group))


class GroupIdParams(Params):
    id: Uuid = Field(description="The instance group")


class UpdateGroupParams(GroupIdParams):
    name: Name | None = Field(None, description="Its new name; unique in the account")


@commands.command(
    "updateInstanceGroup",
    UpdateGroupParams,
    description="Renames an instance group",
    allowed=ANYONE,
    response=("instancegroup", InstanceGroupResponse),
)
async def update_instance_group(ctx: ServiceContext, p: UpdateGroupParams) -> Single:
    group = await instance_groups.find_group(ctx, p.id)
    await instance_groups.rename_group(ctx, group, p.name)
    return Single("instancegroup", instance_group_view(group))


@commands.command(
    "deleteInstanceGroup",
    GroupIdParams,
    description="Deletes an instance group; its VMs stay, in no group",
    allowed=ANYONE,
    response=SUCCESS,
)
async def delete_instance_group(ctx: ServiceContext, p: GroupIdParams) -> Success:
    await instance_groups.delete_group(ctx, await instance_groups.find_group(ctx, p.id))
    return Success()


class ListGroupsParams(OwnedListParams):
    id: Uuid | None = Field(None, description="List the group of this id")
    name: str | None = Field(None, max_length=255, description="List groups of this name")


@commands.command(
    "listInstanceGroups",
    ListGroupsParams,
    description="Lists instance groups",
    allowed=ANYONE,
    response=("instancegroup", InstanceGroupResponse),
    writes=False,
)
async def list_instance_groups(ctx: ServiceContext, p: ListGroupsParams) -> ListResult:
    page = await instance_groups.list_groups(
        ctx,
        group_uuid=p.id,
        name=p.name,
        keyword=p.keyword,
        scope=p.scope(),
        page=page_request(ctx, p),
    )
    return ListResult("instancegroup", [instance_group_view(g) for g in page.items], page.total)
