"""Security groups: stored and listed, with their ingress and egress rules.

Every account has a ``default`` group, created the first time something needs it (a
deploy without groups, or a listing of the account's groups); it cannot be created by
name or deleted. A group in use by a live VM cannot be deleted either (536).

Rules are kept as CloudStack shows them: one rule per CIDR or per source group, and a
rule equal to one the group already has is not added twice. Nothing enforces them on
hosts at this level.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from sqlalchemy import ColumnElement, delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.core.context import ServiceContext
from altostratus.core.paging import Page, PageRequest, equal_if_given, keyword_filter, paginate
from altostratus.db.models import (
    Account,
    ResourceTag,
    SecurityGroup,
    SecurityGroupRule,
    VirtualMachine,
)
from altostratus.db.models.network import vm_security_groups
from altostratus.errors import InvalidParameter, ResourceInUse, invalid
from altostratus.services.shared.events import record_event
from altostratus.services.shared.ownership import (
    OwnerScope,
    may_use,
    named_owner,
    owned_rows,
    owner_account,
)
from altostratus.services.shared.projects import ALL_PROJECTS, get_project

__all__ = [
    "DEFAULT_GROUP",
    "RESOURCE_TYPE",
    "Direction",
    "RuleRequest",
    "RuleSpec",
    "add_rules",
    "attach",
    "create_group",
    "delete_group",
    "find_group",
    "get_rule",
    "groups_for_deploy",
    "groups_of",
    "list_groups",
    "revoke_rule",
    "rule_specs",
    "vm_counts",
]

DEFAULT_GROUP = "default"
#: The resource type of security groups in tags and events.
RESOURCE_TYPE = "SecurityGroup"
_PORTED = ("tcp", "udp")

#: Which traffic a rule allows: to the group's members, or from them.
Direction = Literal["ingress", "egress"]


# --- groups ---


async def _record(ctx: ServiceContext, event_type: str, text: str, group: SecurityGroup) -> None:
    await record_event(
        ctx,
        event_type,
        f"{text} security group {group.name} ({group.uuid})",
        resource_type=RESOURCE_TYPE,
        resource_uuid=group.uuid,
        owner=group.account,
    )


async def create_group(
    ctx: ServiceContext,
    *,
    name: str,
    description: str | None,
    account: str | None,
    domain_uuid: str | None,
    project_uuid: str | None,
) -> SecurityGroup:
    owner = await owner_account(ctx, account, domain_uuid, project_uuid)
    await _default_group(ctx, owner)  # the account's first group, as it is in CloudStack
    if name.lower() == DEFAULT_GROUP:
        raise invalid(
            "name",
            f"the name {DEFAULT_GROUP} is reserved for the group every account has",
            value=name,
        )
    clash = await ctx.session.scalar(
        select(SecurityGroup.uuid).where(
            SecurityGroup.account_id == owner.id, SecurityGroup.name == name
        )
    )
    if clash is not None:
        raise invalid(
            "name",
            f"the account {owner.name} already has a security group of this name ({clash})",
            value=name,
        )
    group = SecurityGroup(
        name=name, description=description, account=owner, domain=owner.domain, rules=[]
    )
    ctx.session.add(group)
    await ctx.session.flush()
    await _record(ctx, "SG.CREATE", "Created", group)
    return group


async def _default_group(ctx: ServiceContext, owner: Account) -> SecurityGroup:
    """The account's ``default`` group, created on first use (safe under concurrency)."""
    query = select(SecurityGroup).where(
        SecurityGroup.account_id == owner.id, SecurityGroup.name == DEFAULT_GROUP
    )
    group = await ctx.session.scalar(query)
    if group is not None:
        return group
    group = SecurityGroup(
        name=DEFAULT_GROUP,
        description="Default Security Group",
        account=owner,
        domain=owner.domain,
        rules=[],
    )
    try:
        async with ctx.session.begin_nested():
            ctx.session.add(group)
    except IntegrityError:  # a concurrent request created it first
        return (await ctx.session.scalars(query)).one()
    await _record(ctx, "SG.CREATE", "Created", group)
    return group


async def find_group(
    ctx: ServiceContext,
    *,
    group_uuid: str | None,
    name: str | None,
    account: str | None,
    domain_uuid: str | None,
    project_uuid: str | None = None,
    parameters: tuple[str, str] = ("id", "name"),
) -> SecurityGroup:
    """The group by id, or by name in the caller's (or the named) account.

    ``parameters`` names the id and name parameters of the command, for its 431 texts.
    Groups are private to their account: one the caller does not manage is "not found".
    """
    id_parameter, name_parameter = parameters
    if group_uuid is not None:
        await named_owner(ctx, account, domain_uuid, project_uuid)
        query = select(SecurityGroup).where(SecurityGroup.uuid == group_uuid)
        wanted = f"id {group_uuid} (parameter {id_parameter})"
    elif name is not None:
        owner = await owner_account(ctx, account, domain_uuid, project_uuid)
        if name == DEFAULT_GROUP:
            return await _default_group(ctx, owner)
        query = select(SecurityGroup).where(
            SecurityGroup.account_id == owner.id, SecurityGroup.name == name
        )
        wanted = f"name {name} (parameter {name_parameter})"
    else:
        raise InvalidParameter(
            f"Either {id_parameter} or {name_parameter} of the security group must be given"
        )
    group = await ctx.session.scalar(query)
    if group is None or not await may_use(ctx, group.account):
        raise InvalidParameter(f"Unable to find security group with {wanted}")
    return group


def _live_vms() -> Any:
    return (
        select(vm_security_groups.c.security_group_id, func.count().label("vms"))
        .join(VirtualMachine, VirtualMachine.id == vm_security_groups.c.vm_id)
        .where(VirtualMachine.removed.is_(None))
        .group_by(vm_security_groups.c.security_group_id)
    )


async def vm_counts(session: AsyncSession, group_ids: Sequence[int]) -> dict[int, int]:
    """How many live VMs use each group (``virtualmachinecount``)."""
    rows = await session.execute(
        _live_vms().where(vm_security_groups.c.security_group_id.in_(group_ids))
    )
    counts = {group_id: 0 for group_id in group_ids}
    counts.update({group_id: vms for group_id, vms in rows})
    return counts


async def delete_group(ctx: ServiceContext, group: SecurityGroup) -> None:
    """Delete a group no live VM uses; never an account's ``default`` group."""
    if group.name == DEFAULT_GROUP:
        raise InvalidParameter("The default security group of an account cannot be deleted")
    in_use = (await vm_counts(ctx.session, [group.id]))[group.id]
    if in_use:
        raise ResourceInUse(
            f"Security group {group.name} is used by {in_use} VM(s); "
            "it can be deleted once they are expunged"
        )
    # Expunged VMs' memberships and other groups' rules naming this one go with it.
    await ctx.session.execute(
        delete(vm_security_groups).where(vm_security_groups.c.security_group_id == group.id)
    )
    await ctx.session.execute(
        delete(SecurityGroupRule).where(SecurityGroupRule.source_group_id == group.id)
    )
    await _record(ctx, "SG.DELETE", "Deleted", group)
    await ctx.session.delete(group)


async def list_groups(
    ctx: ServiceContext,
    *,
    group_uuid: str | None,
    name: str | None,
    vm_uuid: str | None,
    tags: Sequence[Mapping[str, str]],
    keyword: str | None,
    scope: OwnerScope,
    page: PageRequest,
) -> Page[SecurityGroup]:
    """Groups the caller may see; the listed owner's ``default`` group always exists (a
    project's too, even suspended: listing creates nothing the project asked for)."""
    if scope.project_uuid is not None:
        if scope.project_uuid != ALL_PROJECTS:
            await _default_group(ctx, (await get_project(ctx, scope.project_uuid)).account)
    elif not scope.domain_uuid or scope.account:
        await _default_group(ctx, await owner_account(ctx, scope.account, scope.domain_uuid))
    query = (
        await owned_rows(
            ctx, SecurityGroup, scope, finding=group_uuid is not None or vm_uuid is not None
        )
    ).where(
        equal_if_given((SecurityGroup.uuid, group_uuid), (SecurityGroup.name, name)),
        keyword_filter(keyword, SecurityGroup.name, SecurityGroup.description),
        *(_tagged(tag) for tag in tags),
    )
    if vm_uuid is not None:
        query = query.where(
            SecurityGroup.id.in_(
                select(vm_security_groups.c.security_group_id)
                .join(VirtualMachine, VirtualMachine.id == vm_security_groups.c.vm_id)
                .where(VirtualMachine.uuid == vm_uuid)
            )
        )
    return await paginate(ctx.session, query.order_by(SecurityGroup.id), page)


def _tagged(tag: Mapping[str, str]) -> ColumnElement[bool]:
    """``tags[i].key``/``.value``: groups carrying that tag (either part may be left out)."""
    matching = select(ResourceTag.resource_uuid).where(ResourceTag.resource_type == RESOURCE_TYPE)
    if "key" in tag:
        matching = matching.where(ResourceTag.key == tag["key"])
    if "value" in tag:
        matching = matching.where(ResourceTag.value == tag["value"])
    return SecurityGroup.uuid.in_(matching)


# --- rules ---


@dataclass(frozen=True)
class RuleRequest:
    """An authorize command's rule parameters, each well-formed; ``rule_specs`` relates them."""

    protocol: str
    start_port: int | None = None
    end_port: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    cidrs: tuple[str, ...] = ()
    #: ``usersecuritygrouplist``: ``{"account": …, "group": …}`` entries.
    user_groups: tuple[Mapping[str, str], ...] = ()


@dataclass(frozen=True)
class RuleSpec:
    """One rule to add, checked in the request; a job's payload carries it."""

    protocol: str
    start_port: int | None
    end_port: int | None
    icmp_type: int | None
    icmp_code: int | None
    cidr: str | None
    source_group_id: int | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def matches(self, rule: SecurityGroupRule) -> bool:
        return (
            self.protocol,
            self.start_port,
            self.end_port,
            self.icmp_type,
            self.icmp_code,
            self.cidr,
            self.source_group_id,
        ) == (
            rule.protocol,
            rule.start_port,
            rule.end_port,
            rule.icmp_type,
            rule.icmp_code,
            rule.cidr,
            rule.source_group_id,
        )


def _protocol(value: str) -> str:
    protocol = value.strip().lower()
    if protocol in (*_PORTED, "icmp", "all"):
        return protocol
    if protocol.isdigit() and 0 <= int(protocol) <= 255:
        return str(int(protocol))
    raise invalid(
        "protocol", "use tcp, udp, icmp, all or a protocol number from 0 to 255", value=value
    )


def _ports(request: RuleRequest, protocol: str) -> tuple[int | None, ...]:
    """(start port, end port, icmp type, icmp code) as the protocol allows them."""
    ports_given = request.start_port is not None or request.end_port is not None
    icmp_given = request.icmp_type is not None or request.icmp_code is not None
    if protocol in _PORTED:
        if icmp_given:
            raise InvalidParameter("icmptype and icmpcode apply to protocol icmp only")
        if request.start_port is None:
            raise InvalidParameter(f"startport is required for protocol {protocol}")
        end = request.end_port if request.end_port is not None else request.start_port
        if request.start_port > end:
            raise invalid("endport", f"it is below startport {request.start_port}", value=end)
        return request.start_port, end, None, None
    if ports_given:
        raise InvalidParameter("startport and endport apply to protocols tcp and udp only")
    if protocol == "icmp":
        icmp_type = request.icmp_type if request.icmp_type is not None else -1
        icmp_code = request.icmp_code if request.icmp_code is not None else -1
        return None, None, icmp_type, icmp_code
    if icmp_given:
        raise InvalidParameter("icmptype and icmpcode apply to protocol icmp only")
    return None, None, None, None


async def _source_group(
    ctx: ServiceContext, group: SecurityGroup, entry: Mapping[str, str]
) -> SecurityGroup:
    """``usersecuritygrouplist[i]``: a group of an account in the target group's domain."""
    account_name, group_name = entry.get("account"), entry.get("group")
    if not account_name or not group_name:
        raise invalid("usersecuritygrouplist", "every entry needs account and group")
    source = await ctx.session.scalar(
        select(SecurityGroup)
        .join(Account, SecurityGroup.account_id == Account.id)
        .where(
            Account.name == account_name,
            Account.domain_id == group.domain_id,
            SecurityGroup.name == group_name,
        )
    )
    if source is None:
        raise invalid(
            "usersecuritygrouplist", f"account {account_name} has no security group {group_name}"
        )
    return source


async def rule_specs(
    ctx: ServiceContext, group: SecurityGroup, request: RuleRequest
) -> list[RuleSpec]:
    """The rules an authorize command asks for (431 naming what does not fit)."""
    protocol = _protocol(request.protocol)
    start, end, icmp_type, icmp_code = _ports(request, protocol)
    if not request.cidrs and not request.user_groups:
        raise InvalidParameter("At least one of cidrlist and usersecuritygrouplist must be given")
    sources = [await _source_group(ctx, group, entry) for entry in request.user_groups]
    base = RuleSpec(protocol, start, end, icmp_type, icmp_code, cidr=None, source_group_id=None)
    return [
        *(replace(base, cidr=cidr) for cidr in request.cidrs),
        *(replace(base, source_group_id=source.id) for source in sources),
    ]


async def add_rules(
    ctx: ServiceContext, group_uuid: str, direction: str, specs: Sequence[RuleSpec]
) -> list[str]:
    """Add the rules the group lacks; the UUIDs of the rules added."""
    group = (
        await ctx.session.scalars(select(SecurityGroup).where(SecurityGroup.uuid == group_uuid))
    ).one()
    existing = [rule for rule in group.rules if rule.direction == direction]
    added: list[SecurityGroupRule] = []
    for spec in specs:
        if any(spec.matches(rule) for rule in [*existing, *added]):
            continue
        rule = SecurityGroupRule(direction=direction, **spec.to_json())
        group.rules.append(rule)
        added.append(rule)
    await ctx.session.flush()
    if added:
        await _record(
            ctx, f"SG.AUTH.{direction.upper()}", f"Added {len(added)} {direction} rule(s) to", group
        )
    return [rule.uuid for rule in added]


async def get_rule(ctx: ServiceContext, rule_uuid: str, direction: str) -> SecurityGroupRule:
    """A rule of ``direction`` in a group the caller manages; else 431 as for an unknown id."""
    rule = await ctx.session.scalar(
        select(SecurityGroupRule).where(
            SecurityGroupRule.uuid == rule_uuid, SecurityGroupRule.direction == direction
        )
    )
    if rule is None or not await may_use(ctx, (await _group_of(ctx, rule)).account):
        raise InvalidParameter(f"Unable to find {direction} rule with id {rule_uuid}")
    return rule


async def _group_of(ctx: ServiceContext, rule: SecurityGroupRule) -> SecurityGroup:
    return (
        await ctx.session.scalars(
            select(SecurityGroup).where(SecurityGroup.id == rule.security_group_id)
        )
    ).one()


async def revoke_rule(ctx: ServiceContext, rule_uuid: str) -> None:
    """Delete the rule; already gone is done (a resumed job)."""
    rule = await ctx.session.scalar(
        select(SecurityGroupRule).where(SecurityGroupRule.uuid == rule_uuid)
    )
    if rule is None:
        return
    group = await _group_of(ctx, rule)
    group.rules.remove(rule)
    await ctx.session.flush()
    await _record(ctx, f"SG.REVOKE.{rule.direction.upper()}", "Removed a rule from", group)


# --- what deployVirtualMachine uses ---


async def groups_for_deploy(
    ctx: ServiceContext,
    account_id: int,
    ids: Sequence[str] | None,
    names: Sequence[str] | None,
) -> list[SecurityGroup]:
    """The groups a new VM of the account joins: the named ones, else its ``default`` group.

    Only the account's own groups may be named (431 naming the parameter otherwise).
    """
    if ids and names:
        raise InvalidParameter(
            "securitygroupids and securitygroupnames are mutually exclusive; give one of them"
        )
    owner = await ctx.session.get_one(Account, account_id)
    if not ids and not names:
        return [await _default_group(ctx, owner)]
    parameter, column, wanted = (
        ("securitygroupids", SecurityGroup.uuid, ids)
        if ids
        else ("securitygroupnames", SecurityGroup.name, names)
    )
    assert wanted is not None
    groups: list[SecurityGroup] = []
    for value in dict.fromkeys(wanted):
        if column is SecurityGroup.name and value == DEFAULT_GROUP:
            groups.append(await _default_group(ctx, owner))
            continue
        group = await ctx.session.scalar(
            select(SecurityGroup).where(SecurityGroup.account_id == owner.id, column == value)
        )
        if group is None:
            raise InvalidParameter(
                f"Unable to find security group {value} of account {owner.name} "
                f"(parameter {parameter})"
            )
        groups.append(group)
    return groups


async def attach(session: AsyncSession, vm_id: int, groups: Sequence[SecurityGroup]) -> None:
    """Make the VM a member of ``groups`` (the ones it is not yet in)."""
    current = set(
        await session.scalars(
            select(vm_security_groups.c.security_group_id).where(
                vm_security_groups.c.vm_id == vm_id
            )
        )
    )
    new = [group.id for group in groups if group.id not in current]
    if new:
        await session.execute(
            insert(vm_security_groups),
            [{"vm_id": vm_id, "security_group_id": group_id} for group_id in new],
        )


async def groups_of(session: AsyncSession, vm_ids: Sequence[int]) -> dict[int, list[SecurityGroup]]:
    """Each VM's groups by name; every id is a key, with ``[]`` for none."""
    found: dict[int, list[SecurityGroup]] = {vm_id: [] for vm_id in vm_ids}
    if not vm_ids:
        return found
    rows = await session.execute(
        select(vm_security_groups.c.vm_id, SecurityGroup)
        .join(SecurityGroup, SecurityGroup.id == vm_security_groups.c.security_group_id)
        .where(vm_security_groups.c.vm_id.in_(vm_ids))
        .order_by(SecurityGroup.name)
    )
    for vm_id, group in rows.unique():
        found[vm_id].append(group)
    return found
