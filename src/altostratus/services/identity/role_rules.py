"""A role's permission rules: what narrows its role type, and the commands that edit them.

As CloudStack's dynamic role checker does, a role's rules are read in order and the first
one whose rule (a command name, or a wildcard such as ``list*``) matches decides; when
none matches, the role type decides. Unlike CloudStack, an ``allow`` never grants a
command the role type does not (the dispatcher checks both), so a User-type role cannot
be made an admin by its rules. The default Root Admin role has no rules and takes none.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.core.context import ServiceContext
from altostratus.db.models import Permission, Role, RolePermission, RoleType
from altostratus.errors import InvalidParameter, PermissionDenied, ResourceInUse, invalid
from altostratus.services.identity.roles import accounts_with, create_role, get_role, require_custom
from altostratus.services.shared.events import record_event

__all__ = [
    "NewRule",
    "RoleRules",
    "add_rule",
    "delete_rule",
    "import_role",
    "list_rules",
    "reorder_rules",
    "rules_of",
    "set_rule_permission",
]

_RULE = re.compile(r"[A-Za-z0-9*]+")


@dataclass(frozen=True)
class RoleRules:
    """A role's rules in order, as ``(pattern, permission)``."""

    rules: tuple[tuple[re.Pattern[str], Permission], ...] = ()

    def decides(self, command: str) -> Permission | None:
        """The permission of the first rule matching ``command``; ``None``: no rule does."""
        for pattern, permission in self.rules:
            if pattern.fullmatch(command):
                return permission
        return None

    def denies(self, command: str) -> bool:
        return self.decides(command) is Permission.DENY


def _pattern(rule: str) -> re.Pattern[str]:
    # Command names are matched case-insensitively, as the API looks them up.
    return re.compile(".*".join(re.escape(part) for part in rule.split("*")), re.IGNORECASE)


async def rules_of(session: AsyncSession, role_id: int) -> RoleRules:
    """The rules of the role ``role_id`` (one query; the dispatcher runs it per request)."""
    rows = await session.execute(
        select(RolePermission.rule, RolePermission.permission)
        .where(RolePermission.role_id == role_id)
        .order_by(RolePermission.sort_order, RolePermission.id)
    )
    return RoleRules(tuple((_pattern(rule), permission) for rule, permission in rows))


@dataclass(frozen=True)
class NewRule:
    rule: str
    permission: Permission
    description: str = ""


def _checked_rule(rule: str, commands: Collection[str], parameter: str) -> str:
    """A wildcard, or the name of a command that exists (as CloudStack requires)."""
    if not _RULE.fullmatch(rule):
        raise invalid(parameter, "a rule is a command name or a wildcard like list*", value=rule)
    if "*" not in rule and rule.lower() not in {name.lower() for name in commands}:
        raise invalid(parameter, "no command has this name", value=rule)
    return rule


async def _editable_role(ctx: ServiceContext, role_uuid: str) -> Role:
    role = await get_role(ctx, role_uuid, "roleid")
    if role.is_default and role.type is RoleType.ADMIN:
        raise PermissionDenied(f"The rules of the default role {role.name} cannot be changed")
    return role


async def _rules(ctx: ServiceContext, role: Role) -> list[RolePermission]:
    found = await ctx.session.scalars(
        select(RolePermission)
        .where(RolePermission.role_id == role.id)
        .order_by(RolePermission.sort_order, RolePermission.id)
    )
    return list(found)


async def list_rules(ctx: ServiceContext, *, role_uuid: str | None) -> Sequence[RolePermission]:
    query = select(RolePermission).join(Role, RolePermission.role_id == Role.id)
    if role_uuid is not None:
        query = query.where(Role.id == (await get_role(ctx, role_uuid, "roleid")).id)
    found = await ctx.session.scalars(
        query.order_by(Role.id, RolePermission.sort_order, RolePermission.id)
    )
    return found.unique().all()


async def add_rule(
    ctx: ServiceContext, *, role_uuid: str, rule: NewRule, commands: Collection[str]
) -> RolePermission:
    """Add ``rule`` after the role's last rule (a role holds each rule once)."""
    role = await _editable_role(ctx, role_uuid)
    _checked_rule(rule.rule, commands, "rule")
    existing = await _rules(ctx, role)
    if any(row.rule.lower() == rule.rule.lower() for row in existing):
        raise invalid("rule", f"the role {role.name} already has this rule", value=rule.rule)
    last = await ctx.session.scalar(
        select(func.max(RolePermission.sort_order)).where(RolePermission.role_id == role.id)
    )
    row = RolePermission(
        role=role,
        rule=rule.rule,
        permission=rule.permission,
        description=rule.description,
        sort_order=(last if last is not None else -1) + 1,
    )
    ctx.session.add(row)
    await ctx.session.flush()
    await record_event(
        ctx,
        "ROLE.PERMISSION.CREATE",
        f"Added rule {rule.rule} ({rule.permission.value}) to role {role.name}",
        resource_type="Role",
        resource_uuid=role.uuid,
    )
    return row


async def _rule(ctx: ServiceContext, rule_uuid: str, parameter: str) -> RolePermission:
    row = await ctx.session.scalar(select(RolePermission).where(RolePermission.uuid == rule_uuid))
    if row is None:
        raise invalid(parameter, "no such role permission", value=rule_uuid)
    return row


async def reorder_rules(ctx: ServiceContext, *, role_uuid: str, order: Sequence[str]) -> None:
    """Put the role's rules in ``order`` (every rule of the role, each once)."""
    role = await _editable_role(ctx, role_uuid)
    rules = {row.uuid: row for row in await _rules(ctx, role)}
    if sorted(order) != sorted(rules):
        raise invalid(
            "ruleorder", f"list every rule of the role {role.name} once, in the new order"
        )
    for position, rule_uuid in enumerate(order):
        rules[rule_uuid].sort_order = position
    await ctx.session.flush()
    await record_event(
        ctx,
        "ROLE.PERMISSION.UPDATE",
        f"Reordered the rules of role {role.name}",
        resource_type="Role",
        resource_uuid=role.uuid,
    )


async def set_rule_permission(
    ctx: ServiceContext, *, role_uuid: str, rule_uuid: str, permission: Permission
) -> None:
    role = await _editable_role(ctx, role_uuid)
    row = await _rule(ctx, rule_uuid, "ruleid")
    if row.role_id != role.id:
        raise invalid("ruleid", f"the rule is not one of role {role.name}", value=rule_uuid)
    row.permission = permission
    await ctx.session.flush()
    await record_event(
        ctx,
        "ROLE.PERMISSION.UPDATE",
        f"Rule {row.rule} of role {role.name} now {permission.value}",
        resource_type="Role",
        resource_uuid=role.uuid,
    )


async def delete_rule(ctx: ServiceContext, *, rule_uuid: str) -> None:
    row = await _rule(ctx, rule_uuid, "id")
    role = await _editable_role(ctx, row.role.uuid)
    await ctx.session.delete(row)
    await ctx.session.flush()
    await record_event(
        ctx,
        "ROLE.PERMISSION.DELETE",
        f"Removed rule {row.rule} from role {role.name}",
        resource_type="Role",
        resource_uuid=role.uuid,
    )


async def import_role(
    ctx: ServiceContext,
    *,
    name: str,
    role_type: RoleType,
    description: str | None,
    rules: Sequence[NewRule],
    forced: bool,
    is_public: bool,
    commands: Collection[str],
) -> Role:
    """A role with ``rules`` in order; ``forced`` replaces a custom role of that name."""
    if not rules:
        raise InvalidParameter("Unable to import a role without rules: give rules[0].rule=…")
    for rule in rules:
        _checked_rule(rule.rule, commands, "rules")
    if len({rule.rule.lower() for rule in rules}) != len(rules):
        raise invalid("rules", "each rule may appear once")
    existing = await ctx.session.scalar(select(Role).where(func.lower(Role.name) == name.lower()))
    if existing is not None and not forced:
        raise invalid("name", "a role with this name exists (forced=true replaces it)", value=name)
    if existing is not None:
        require_custom(existing, "replaced")
        if role_type is not existing.type and (in_use := await accounts_with(ctx, existing)):
            raise ResourceInUse(
                f"The type of role {name} cannot change: {in_use} account(s) have it"
            )
        for row in await _rules(ctx, existing):
            await ctx.session.delete(row)
        existing.type = role_type
        existing.description = description or ""
        existing.is_public = is_public
        role = existing
    else:
        role = await create_role(
            ctx,
            name=name,
            role_type=role_type,
            source_uuid=None,
            description=description,
            is_public=is_public,
        )
    await ctx.session.flush()
    ctx.session.add_all(
        RolePermission(
            role_id=role.id,
            rule=rule.rule,
            permission=rule.permission,
            description=rule.description,
            sort_order=position,
        )
        for position, rule in enumerate(rules)
    )
    await ctx.session.flush()
    await record_event(
        ctx, "ROLE.IMPORT", f"Imported role {name} with {len(rules)} rule(s)", resource_type="Role"
    )
    return role
