"""Dynamic roles: the four default roles, and ``createRole`` … ``listRoles`` for the others.

Roles are global (replicated like accounts). The default roles carry the same UUIDs in
every region, so a role id written in one region's playbook works in the next, and they
can be neither deleted nor changed. A custom role has a role type (the most it may ever
do) and permission rules that narrow it (``role_rules``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from altostratus.core.context import ServiceContext
from altostratus.core.paging import Page, PageRequest, equal_if_given, keyword_filter, paginate
from altostratus.db.models import Account, Role, RolePermission, RoleState, RoleType
from altostratus.errors import InvalidParameter, PermissionDenied, ResourceInUse, invalid
from altostratus.services.shared.events import record_event

__all__ = [
    "DEFAULT_ROLES",
    "DefaultRole",
    "accounts_with",
    "create_role",
    "default_roles",
    "delete_role",
    "get_role",
    "list_roles",
    "require_custom",
    "update_role",
]


@dataclass(frozen=True)
class DefaultRole:
    uuid: str
    name: str
    type: RoleType


#: CloudStack's four default roles, with UUIDs fixed here so every region has the same.
DEFAULT_ROLES = (
    DefaultRole("51467f39-9bf3-5cff-bc96-dc439bc0d771", "Root Admin", RoleType.ADMIN),
    DefaultRole("572755ba-a09e-5840-a17d-9aa5beef194d", "Resource Admin", RoleType.RESOURCE_ADMIN),
    DefaultRole("814909a1-3387-50f9-ab2e-9cb5418cdd95", "Domain Admin", RoleType.DOMAIN_ADMIN),
    DefaultRole("62f798f0-9544-5887-a50e-38a6e7622ccf", "User", RoleType.USER),
)

#: Most powerful first: a caller below root admin sees no role above its own type.
_RANK = [RoleType.ADMIN, RoleType.RESOURCE_ADMIN, RoleType.DOMAIN_ADMIN, RoleType.USER]


def default_roles() -> dict[RoleType, Role]:
    """New rows for the default roles (bootstrap adds them to a new region)."""
    return {
        role.type: Role(
            uuid=role.uuid,
            name=role.name,
            type=role.type,
            description=f"Default {role.name} role",
            is_default=True,
        )
        for role in DEFAULT_ROLES
    }


def _visible_types(ctx: ServiceContext) -> list[RoleType]:
    return _RANK[_RANK.index(ctx.caller.role_type) :]


async def get_role(ctx: ServiceContext, role_uuid: str, parameter: str = "id") -> Role:
    """The role ``role_uuid`` as the caller may see it (431 naming ``parameter`` if not)."""
    role = await ctx.session.scalar(select(Role).where(Role.uuid == role_uuid))
    hidden = role is not None and not ctx.caller.is_root_admin and not role.is_public
    if role is None or hidden or role.type not in _visible_types(ctx):
        raise invalid(parameter, "no such role", value=role_uuid)
    return role


def require_custom(role: Role, doing: str) -> None:
    """Default roles are the same in every region and never change (CloudStack: 531)."""
    if role.is_default:
        raise PermissionDenied(f"The default role {role.name} cannot be {doing}")


async def _require_free_name(ctx: ServiceContext, name: str, role: Role | None = None) -> None:
    query = select(Role.uuid).where(func.lower(Role.name) == name.lower())
    if role is not None:
        query = query.where(Role.id != role.id)
    if await ctx.session.scalar(query) is not None:
        raise invalid("name", "a role with this name already exists", value=name)


async def list_roles(
    ctx: ServiceContext,
    *,
    role_uuid: str | None,
    name: str | None,
    role_type: RoleType | None,
    state: RoleState | None,
    keyword: str | None,
    page: PageRequest,
) -> Page[Role]:
    """Non-root callers see the public roles of their own type and the types below it."""
    query = select(Role).where(
        equal_if_given((Role.uuid, role_uuid), (Role.name, name), (Role.type, role_type)),
        equal_if_given((Role.state, state)),
        keyword_filter(keyword, Role.name, Role.description),
        Role.type.in_(_visible_types(ctx)),
    )
    if not ctx.caller.is_root_admin:
        query = query.where(Role.is_public.is_(True))
    return await paginate(ctx.session, query.order_by(Role.id), page)


async def create_role(
    ctx: ServiceContext,
    *,
    name: str,
    role_type: RoleType | None,
    source_uuid: str | None,
    description: str | None,
    is_public: bool,
) -> Role:
    """A new role of ``role_type``, or a copy of ``source_uuid``'s type and rules."""
    source = await get_role(ctx, source_uuid, "roleid") if source_uuid is not None else None
    if source is not None and role_type is not None and role_type is not source.type:
        raise invalid("type", f"the role to copy is of type {source.type.value}", value=role_type)
    kind = source.type if source is not None else role_type
    if kind is None:
        raise InvalidParameter("One of the type and roleid parameters is required")
    await _require_free_name(ctx, name)
    role = Role(name=name, type=kind, description=description or "", is_public=is_public)
    ctx.session.add(role)
    await ctx.session.flush()
    if source is not None:
        rules = await ctx.session.scalars(
            select(RolePermission)
            .where(RolePermission.role_id == source.id)
            .order_by(RolePermission.sort_order)
        )
        ctx.session.add_all(
            RolePermission(
                role_id=role.id,
                rule=rule.rule,
                permission=rule.permission,
                description=rule.description,
                sort_order=rule.sort_order,
            )
            for rule in rules
        )
        await ctx.session.flush()
    await record_event(
        ctx, "ROLE.CREATE", f"Created role {name} ({kind.value})", resource_type="Role"
    )
    return role


async def accounts_with(ctx: ServiceContext, role: Role) -> int:
    """How many accounts have ``role``: its type cannot change under them, nor it go."""
    count = await ctx.session.scalar(
        select(func.count()).select_from(Account).where(Account.role_id == role.id)
    )
    return count or 0


async def update_role(
    ctx: ServiceContext,
    *,
    role_uuid: str,
    name: str | None,
    role_type: RoleType | None,
    description: str | None,
    is_public: bool | None,
) -> Role:
    role = await get_role(ctx, role_uuid)
    require_custom(role, "changed")
    if name is not None and name != role.name:
        await _require_free_name(ctx, name, role)
        role.name = name
    if role_type is not None and role_type is not role.type:
        # An account's type follows its role: changing it under them would change theirs.
        if in_use := await accounts_with(ctx, role):
            raise ResourceInUse(
                f"The type of role {role.name} cannot change: {in_use} account(s) have it"
            )
        role.type = role_type
    if description is not None:
        role.description = description
    if is_public is not None:
        role.is_public = is_public
    await ctx.session.flush()
    await record_event(ctx, "ROLE.UPDATE", f"Updated role {role.name}", resource_type="Role")
    return role


async def delete_role(ctx: ServiceContext, *, role_uuid: str) -> None:
    role = await get_role(ctx, role_uuid)
    require_custom(role, "deleted")
    if in_use := await accounts_with(ctx, role):
        raise ResourceInUse(f"The role {role.name} cannot be deleted: {in_use} account(s) have it")
    rules = await ctx.session.scalars(
        select(RolePermission).where(RolePermission.role_id == role.id)
    )
    for rule in rules:
        await ctx.session.delete(rule)
    await ctx.session.flush()
    await ctx.session.delete(role)
    await ctx.session.flush()
    await record_event(ctx, "ROLE.DELETE", f"Deleted role {role.name}", resource_type="Role")
