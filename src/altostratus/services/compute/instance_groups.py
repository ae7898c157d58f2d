"""Instance groups: names an account files its VMs under (``cs_instance``'s ``group``).

Unlike affinity groups they place nothing; a VM is in one group at most. As in
CloudStack, naming a group the account lacks in ``deployVirtualMachine`` or
``updateVirtualMachine`` creates it, and deleting a group takes its VMs out of it.
Groups are private to their account: one the caller neither owns nor administers is
"not found" (431).
"""

from __future__ import annotations

from sqlalchemy import select, update

from altostratus.core.context import ServiceContext
from altostratus.core.paging import Page, PageRequest, equal_if_given, keyword_filter, paginate
from altostratus.db.models import Account, InstanceGroup, VirtualMachine
from altostratus.errors import InvalidParameter, invalid
from altostratus.services.shared.events import record_event
from altostratus.services.shared.ownership import (
    OwnerScope,
    manages,
    owned_rows,
    owner_account,
)

__all__ = [
    "RESOURCE_TYPE",
    "create_group",
    "delete_group",
    "find_group",
    "group_named",
    "list_groups",
    "rename_group",
]

#: Its name in events.
RESOURCE_TYPE = "InstanceGroup"


async def _check_free(ctx: ServiceContext, account: Account, name: str) -> None:
    clash = await ctx.session.scalar(
        select(InstanceGroup.uuid).where(
            InstanceGroup.account_id == account.id, InstanceGroup.name == name
        )
    )
    if clash is not None:
        raise invalid(
            "name",
            f"the account {account.name} already has an instance group of this name ({clash})",
            value=name,
        )


async def _record(ctx: ServiceContext, event_type: str, text: str, group: InstanceGroup) -> None:
    await record_event(
        ctx,
        event_type,
        f"{text} instance group {group.name} ({group.uuid})",
        resource_type=RESOURCE_TYPE,
        resource_uuid=group.uuid,
        owner=group.account,
    )


async def _new_group(ctx: ServiceContext, account: Account, name: str) -> InstanceGroup:
    group = InstanceGroup(name=name, account=account, domain=account.domain)
    ctx.session.add(group)
    await ctx.session.flush()
    await _record(ctx, "VMGROUP.CREATE", "Created", group)
    return group


async def create_group(
    ctx: ServiceContext,
    *,
    name: str,
    account: str | None,
    domain_uuid: str | None,
    project_uuid: str | None = None,
) -> InstanceGroup:
    """A new group of the caller's account (for admins, of ``account`` in ``domainid``; of
    the project's account with ``projectid``)."""
    owner = await owner_account(ctx, account, domain_uuid, project_uuid)
    await _check_free(ctx, owner, name)
    return await _new_group(ctx, owner, name)


async def find_group(ctx: ServiceContext, uuid: str, parameter: str = "id") -> InstanceGroup:
    group = await ctx.session.scalar(select(InstanceGroup).where(InstanceGroup.uuid == uuid))
    if group is None or not manages(ctx.caller, group.account):
        raise InvalidParameter(
            f"Unable to find instance group with id {uuid} (parameter {parameter})"
        )
    return group


async def rename_group(ctx: ServiceContext, group: InstanceGroup, name: str | None) -> None:
    if name is None or name == group.name:
        return
    await _check_free(ctx, group.account, name)
    group.name = name
    await ctx.session.flush()
    await _record(ctx, "VMGROUP.UPDATE", "Renamed", group)


async def delete_group(ctx: ServiceContext, group: InstanceGroup) -> None:
    """Delete the group; its VMs stay, in no group."""
    await ctx.session.execute(
        update(VirtualMachine)
        .where(VirtualMachine.group_id == group.id)
        .values(group_id=None)
        .execution_options(synchronize_session=False)
    )
    await _record(ctx, "VMGROUP.DELETE", "Deleted", group)
    await ctx.session.delete(group)


async def group_named(ctx: ServiceContext, account: Account, name: str) -> InstanceGroup | None:
    """The account's group ``name``, created if it has none; ``""`` means no group."""
    if not name:
        return None
    found = await ctx.session.scalar(
        select(InstanceGroup).where(
            InstanceGroup.account_id == account.id, InstanceGroup.name == name
        )
    )
    return found if found is not None else await _new_group(ctx, account, name)


async def list_groups(
    ctx: ServiceContext,
    *,
    group_uuid: str | None,
    name: str | None,
    keyword: str | None,
    scope: OwnerScope,
    page: PageRequest,
) -> Page[InstanceGroup]:
    query = (await owned_rows(ctx, InstanceGroup, scope, finding=group_uuid is not None)).where(
        equal_if_given((InstanceGroup.uuid, group_uuid), (InstanceGroup.name, name)),
        keyword_filter(keyword, InstanceGroup.name),
    )
    return await paginate(ctx.session, query.order_by(InstanceGroup.id), page)
