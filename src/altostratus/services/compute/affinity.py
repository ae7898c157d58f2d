"""Affinity groups: VMs of one account kept on the same host, or on different hosts.

The scheduler (``services.scheduler``) reads the groups of a VM being placed: a ``host
affinity`` group pins the host its other members run on, a ``host anti-affinity`` group
excludes theirs. A group belongs to one account, and only that account's VMs join it.

A group with live member VMs cannot be deleted (536): CloudStack would silently drop the
rule for VMs already placed under it, and the next restart could then break the
separation an operator relied on. Expunged VMs no longer count.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from sqlalchemy import and_, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.core.context import ServiceContext
from altostratus.core.paging import Page, PageRequest, equal_if_given, keyword_filter, paginate
from altostratus.db.models import AffinityGroup, VirtualMachine
from altostratus.db.models.compute import VmState
from altostratus.db.models.tenancy import affinity_group_members as members
from altostratus.errors import InvalidParameter, PermissionDenied, ResourceInUse, invalid
from altostratus.services.shared import tags
from altostratus.services.shared.events import record_event
from altostratus.services.shared.ownership import (
    OwnerScope,
    may_use,
    named_owner,
    owned_rows,
    owner_account,
)

__all__ = [
    "RESOURCE_TYPE",
    "AffinityType",
    "add_members",
    "create_group",
    "delete_group",
    "find_group",
    "groups_for_deploy",
    "groups_of",
    "list_groups",
    "members_of",
    "replace_groups",
]


#: Its name for tags and events.
RESOURCE_TYPE = "AffinityGroup"


class AffinityType(enum.StrEnum):
    """CloudStack's affinity group types (``listAffinityGroupTypes``)."""

    HOST_AFFINITY = "host affinity"
    HOST_ANTI_AFFINITY = "host anti-affinity"


async def _record(ctx: ServiceContext, event_type: str, text: str, group: AffinityGroup) -> None:
    await record_event(
        ctx,
        event_type,
        f"{text} affinity group {group.name} ({group.uuid})",
        resource_type=RESOURCE_TYPE,
        resource_uuid=group.uuid,
        owner=group.account,
    )


async def create_group(
    ctx: ServiceContext,
    *,
    name: str,
    group_type: AffinityType,
    description: str | None,
    account: str | None,
    domain_uuid: str | None,
    project_uuid: str | None,
) -> AffinityGroup:
    owner = await owner_account(ctx, account, domain_uuid, project_uuid)
    clash = await ctx.session.scalar(
        select(AffinityGroup.uuid).where(
            AffinityGroup.account_id == owner.id, AffinityGroup.name == name
        )
    )
    if clash is not None:
        raise invalid(
            "name",
            f"the account {owner.name} already has an affinity group of this name ({clash})",
            value=name,
        )
    group = AffinityGroup(
        name=name,
        type=group_type.value,
        description=description,
        account=owner,
        domain=owner.domain,
    )
    ctx.session.add(group)
    await ctx.session.flush()
    await _record(ctx, "AG.CREATE", "Created", group)
    return group


async def find_group(
    ctx: ServiceContext,
    *,
    group_uuid: str | None,
    name: str | None,
    account: str | None,
    domain_uuid: str | None,
    project_uuid: str | None,
) -> AffinityGroup:
    """The group by id, or by name in the caller's (or the named) account.

    Groups are private to their account: one the caller neither owns nor administers is
    "not found" (431), like an unknown id.
    """
    if group_uuid is not None:
        await named_owner(ctx, account, domain_uuid, project_uuid)
        query = select(AffinityGroup).where(AffinityGroup.uuid == group_uuid)
        wanted = f"id {group_uuid}"
    elif name is not None:
        owner = await owner_account(ctx, account, domain_uuid, project_uuid)
        query = select(AffinityGroup).where(
            AffinityGroup.account_id == owner.id, AffinityGroup.name == name
        )
        wanted = f"name {name}"
    else:
        raise InvalidParameter("Either the id or the name of the affinity group must be given")
    group = await ctx.session.scalar(query)
    if group is None or not await may_use(ctx, group.account):
        raise InvalidParameter(f"Unable to find affinity group with {wanted}")
    return group


async def _live_members(session: AsyncSession, group_id: int) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(members)
        .join(VirtualMachine, VirtualMachine.id == members.c.vm_id)
        .where(members.c.affinity_group_id == group_id, VirtualMachine.removed.is_(None))
    )
    return count or 0


async def delete_group(ctx: ServiceContext, group: AffinityGroup) -> None:
    """Delete an empty group (536 while live VMs are members; see the module's docstring)."""
    live = await _live_members(ctx.session, group.id)
    if live:
        raise ResourceInUse(
            f"Affinity group {group.name} still has {live} VM(s); remove them from it "
            "(updateVMAffinityGroup) or expunge them first"
        )
    await ctx.session.execute(delete(members).where(members.c.affinity_group_id == group.id))
    await tags.delete_tags_of(ctx.session, RESOURCE_TYPE, group.uuid)
    await _record(ctx, "AG.DELETE", "Deleted", group)
    await ctx.session.delete(group)


async def list_groups(
    ctx: ServiceContext,
    *,
    group_uuid: str | None,
    name: str | None,
    group_type: AffinityType | None,
    vm_uuid: str | None,
    keyword: str | None,
    scope: OwnerScope,
    page: PageRequest,
) -> Page[AffinityGroup]:
    query = (
        await owned_rows(
            ctx, AffinityGroup, scope, finding=group_uuid is not None or vm_uuid is not None
        )
    ).where(
        equal_if_given(
            (AffinityGroup.uuid, group_uuid),
            (AffinityGroup.name, name),
            (AffinityGroup.type, group_type and group_type.value),
        ),
        keyword_filter(keyword, AffinityGroup.name, AffinityGroup.description),
    )
    if vm_uuid is not None:
        query = query.where(
            AffinityGroup.id.in_(
                select(members.c.affinity_group_id)
                .join(VirtualMachine, VirtualMachine.id == members.c.vm_id)
                .where(VirtualMachine.uuid == vm_uuid)
            )
        )
    return await paginate(ctx.session, query.order_by(AffinityGroup.id), page)


async def members_of(session: AsyncSession, group_ids: Sequence[int]) -> dict[int, list[str]]:
    """The UUIDs of the live member VMs of each group (``virtualmachineIds``)."""
    rows = await session.execute(
        select(members.c.affinity_group_id, VirtualMachine.uuid)
        .join(VirtualMachine, VirtualMachine.id == members.c.vm_id)
        .where(members.c.affinity_group_id.in_(group_ids), VirtualMachine.removed.is_(None))
        .order_by(VirtualMachine.id)
    )
    found: dict[int, list[str]] = {group_id: [] for group_id in group_ids}
    for group_id, vm_uuid in rows:
        found[group_id].append(vm_uuid)
    return found


async def groups_for_deploy(
    ctx: ServiceContext, account_id: int, ids: Sequence[str], names: Sequence[str]
) -> list[AffinityGroup]:
    """The groups a VM of ``account_id`` joins, by ids or by names (not both); else 431.

    Only groups of the VM's own account qualify: another account's group is "not found",
    whoever the caller is, so a VM never joins a group it could not be listed with.
    """
    if ids and names:
        raise InvalidParameter(
            "Either affinitygroupids or affinitygroupnames can be given, not both"
        )
    column, parameter = (
        (AffinityGroup.uuid, "affinitygroupids")
        if ids
        else (AffinityGroup.name, "affinitygroupnames")
    )
    wanted = list(dict.fromkeys(ids or names))
    if not wanted:
        return []
    found = {
        getattr(group, column.key): group
        for group in await ctx.session.scalars(
            select(AffinityGroup).where(AffinityGroup.account_id == account_id, column.in_(wanted))
        )
    }
    missing = [key for key in wanted if key not in found]
    if missing:
        raise invalid(parameter, f"unable to find affinity group {missing[0]} in the VM's account")
    return [found[key] for key in wanted]


async def add_members(session: AsyncSession, groups: Sequence[AffinityGroup], vm_id: int) -> None:
    """Make the VM a member of ``groups`` (those it already belongs to are skipped)."""
    present = set(
        await session.scalars(select(members.c.affinity_group_id).where(members.c.vm_id == vm_id))
    )
    rows = [
        {"affinity_group_id": group.id, "vm_id": vm_id}
        for group in groups
        if group.id not in present
    ]
    if rows:
        await session.execute(insert(members), rows)


async def groups_of(session: AsyncSession, vm_ids: Sequence[int]) -> dict[int, list[AffinityGroup]]:
    """Each VM's groups (every id of ``vm_ids`` is a key), in creation order."""
    rows = await session.execute(
        select(members.c.vm_id, AffinityGroup)
        .join(AffinityGroup, AffinityGroup.id == members.c.affinity_group_id)
        .where(members.c.vm_id.in_(vm_ids))
        .order_by(AffinityGroup.id)
    )
    found: dict[int, list[AffinityGroup]] = {vm_id: [] for vm_id in vm_ids}
    for vm_id, group in rows.unique():
        found[vm_id].append(group)
    return found


async def replace_groups(
    ctx: ServiceContext,
    vm: VirtualMachine,
    group_uuids: Sequence[str],
    group_names: Sequence[str],
) -> None:
    """Make the named groups the VM's only groups (``updateVMAffinityGroup``).

    Only a Stopped VM: the scheduler applies groups when it places a VM, so a running
    one would silently break the rule until its next start.
    """
    if vm.state != VmState.STOPPED:
        raise InvalidParameter(
            f"Unable to update the affinity groups of VM {vm.name}: it is {vm.state}, not Stopped"
        )
    groups = await groups_for_deploy(ctx, vm.account_id, group_uuids, group_names)
    if not await may_use(ctx, vm.account):
        raise PermissionDenied(f"Account {ctx.caller.account_name} may not change VM {vm.name}")
    kept = {group.id for group in groups}
    await ctx.session.execute(
        delete(members).where(
            and_(members.c.vm_id == vm.id, members.c.affinity_group_id.not_in(kept or {0}))
        )
    )
    await add_members(ctx.session, groups, vm.id)
    await record_event(
        ctx,
        "VM.AFFINITY.GROUP.UPDATE",
        f"Set the affinity groups of VM {vm.name} ({vm.uuid}) to "
        f"{', '.join(group.name for group in groups) or 'none'}",
        resource_type="VirtualMachine",
        resource_uuid=vm.uuid,
        owner=vm.account,
    )
