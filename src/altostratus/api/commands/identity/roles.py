"""Dynamic role commands: roles (``createRole`` … ``listRoles``) and their permission rules.

``createRolePermission`` and ``importRole`` check that a rule without a wildcard names a
command, so they are declared by ``rule_commands(registry)`` over the registry they join.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from altostratus.api.declarations import ADMIN, ADMINS, SUCCESS, Command, CommandSet
from altostratus.api.params import ListParams, MapParam, Params, Uuid, UuidList, page_request
from altostratus.api.results import ListResult, ResponseObject, Single, Success
from altostratus.core.context import ServiceContext
from altostratus.db.models import Permission, Role, RolePermission, RoleState, RoleType
from altostratus.errors import InvalidParameter, invalid
from altostratus.services.identity import role_rules, roles
from altostratus.services.identity.role_rules import NewRule

__all__ = [
    "CreateRoleParams",
    "CreateRolePermissionParams",
    "DeleteRoleParams",
    "DeleteRolePermissionParams",
    "ImportRoleParams",
    "ListRolePermissionsParams",
    "ListRolesParams",
    "PermissionName",
    "RolePermissionResponse",
    "RoleResponse",
    "RoleTypeName",
    "UpdateRoleParams",
    "UpdateRolePermissionParams",
    "commands",
    "create_role",
    "delete_role",
    "delete_role_permission",
    "list_role_permissions",
    "list_roles",
    "role_view",
    "rule_commands",
    "rule_view",
    "update_role",
    "update_role_permission",
]

commands = CommandSet()


def _role_type(value: Any) -> Any:
    """CloudStack reads role types case-insensitively (``domainadmin`` is DomainAdmin)."""
    if isinstance(value, str):
        return next((kind for kind in RoleType if kind.value.lower() == value.lower()), value)
    return value


RoleTypeName = Annotated[RoleType, BeforeValidator(_role_type)]
PermissionName = Annotated[
    Permission, BeforeValidator(lambda v: v.lower() if isinstance(v, str) else v)
]
_RoleName = Annotated[str, Field(min_length=1, max_length=255)]


class RoleResponse(ResponseObject):
    id: str
    name: str
    type: str
    description: str
    isdefault: bool
    ispublic: bool
    state: str


def role_view(role: Role) -> RoleResponse:
    return RoleResponse(
        id=role.uuid,
        name=role.name,
        type=role.type.value,
        description=role.description,
        isdefault=role.is_default,
        ispublic=role.is_public,
        state=role.state.value.upper(),
    )


class RolePermissionResponse(ResponseObject):
    id: str
    roleid: str
    rolename: str
    roletype: str
    rule: str
    permission: str
    description: str


def rule_view(rule: RolePermission) -> RolePermissionResponse:
    return RolePermissionResponse(
        id=rule.uuid,
        roleid=rule.role.uuid,
        rolename=rule.role.name,
        roletype=rule.role.type.value,
        rule=rule.rule,
        permission=rule.permission.value,
        description=rule.description,
    )


class CreateRoleParams(Params):
    name: _RoleName = Field(description="The role's name, unique in the cloud")
    type: RoleTypeName | None = Field(
        None, description="Admin, ResourceAdmin, DomainAdmin or User; or give roleid"
    )
    roleid: Uuid | None = Field(None, description="A role to copy the type and rules of")
    description: str | None = Field(None, max_length=255, description="What the role is for")
    ispublic: bool = Field(True, description="false: only root admins see the role")


@commands.command(
    "createRole",
    CreateRoleParams,
    description="Creates a role, of a role type or as a copy of another role",
    allowed=ADMIN,
    response=("role", RoleResponse),
    related=("listRoles",),
)
async def create_role(ctx: ServiceContext, p: CreateRoleParams) -> Single:
    role = await roles.create_role(
        ctx,
        name=p.name,
        role_type=p.type,
        source_uuid=p.roleid,
        description=p.description,
        is_public=p.ispublic,
    )
    return Single("role", role_view(role))


class UpdateRoleParams(Params):
    id: Uuid = Field(description="The role to update (not a default role)")
    name: _RoleName | None = Field(None, description="New name of the role")
    type: RoleTypeName | None = Field(None, description="New role type (no account has it)")
    description: str | None = Field(None, max_length=255, description="New description")
    ispublic: bool | None = Field(None, description="false: only root admins see the role")


@commands.command(
    "updateRole",
    UpdateRoleParams,
    description="Renames a custom role, or changes its type, description or visibility",
    allowed=ADMIN,
    response=("role", RoleResponse),
    related=("listRoles",),
)
async def update_role(ctx: ServiceContext, p: UpdateRoleParams) -> Single:
    role = await roles.update_role(
        ctx,
        role_uuid=p.id,
        name=p.name,
        role_type=p.type,
        description=p.description,
        is_public=p.ispublic,
    )
    return Single("role", role_view(role))


class DeleteRoleParams(Params):
    id: Uuid = Field(description="The custom role to delete (no account may have it)")


@commands.command(
    "deleteRole",
    DeleteRoleParams,
    description="Deletes a custom role and its rules",
    allowed=ADMIN,
    response=SUCCESS,
)
async def delete_role(ctx: ServiceContext, p: DeleteRoleParams) -> Success:
    await roles.delete_role(ctx, role_uuid=p.id)
    return Success()


class ListRolesParams(ListParams):
    id: Uuid | None = Field(None, description="List the role with this id")
    name: str | None = Field(None, max_length=255, description="List the role with this name")
    type: RoleTypeName | None = Field(None, description="List roles of this type")
    state: Annotated[RoleState, BeforeValidator(lambda v: v.lower())] | None = Field(
        None, description="Enabled or Disabled"
    )


@commands.command(
    "listRoles",
    ListRolesParams,
    description="Lists roles: root admins all, others the public ones up to their own type",
    allowed=ADMINS,
    response=("role", RoleResponse),
    writes=False,
)
async def list_roles(ctx: ServiceContext, p: ListRolesParams) -> ListResult:
    page = await roles.list_roles(
        ctx,
        role_uuid=p.id,
        name=p.name,
        role_type=p.type,
        state=p.state,
        keyword=p.keyword,
        page=page_request(ctx, p),
    )
    return ListResult("role", [role_view(r) for r in page.items], page.total)


class ListRolePermissionsParams(Params):
    roleid: Uuid | None = Field(None, description="List the rules of this role (default: all)")


@commands.command(
    "listRolePermissions",
    ListRolePermissionsParams,
    description="Lists roles' permission rules, in the order they are checked",
    allowed=ADMIN,
    response=("rolepermission", RolePermissionResponse),
    writes=False,
)
async def list_role_permissions(ctx: ServiceContext, p: ListRolePermissionsParams) -> ListResult:
    found = await role_rules.list_rules(ctx, role_uuid=p.roleid)
    return ListResult("rolepermission", [rule_view(r) for r in found], len(found))


class UpdateRolePermissionParams(Params):
    roleid: Uuid = Field(description="The role whose rules change")
    ruleorder: UuidList | None = Field(
        None, description="Every rule id of the role, in the new order (not with ruleid)"
    )
    ruleid: Uuid | None = Field(None, description="The rule whose permission changes")
    permission: PermissionName | None = Field(None, description="allow or deny (with ruleid)")


@commands.command(
    "updateRolePermission",
    UpdateRolePermissionParams,
    description="Reorders a role's rules, or changes one rule's permission",
    allowed=ADMIN,
    response=SUCCESS,
)
async def update_role_permission(ctx: ServiceContext, p: UpdateRolePermissionParams) -> Success:
    if p.ruleorder is not None:
        if p.ruleid is not None or p.permission is not None:
            raise InvalidParameter(
                "Parameters permission and ruleid must be mutually exclusive with ruleorder"
            )
        await role_rules.reorder_rules(ctx, role_uuid=p.roleid, order=p.ruleorder)
    elif p.ruleid is not None and p.permission is not None:
        await role_rules.set_rule_permission(
            ctx, role_uuid=p.roleid, rule_uuid=p.ruleid, permission=p.permission
        )
    else:
        raise InvalidParameter("Give ruleorder, or ruleid with permission")
    return Success()


class DeleteRolePermissionParams(Params):
    id: Uuid = Field(description="The rule to delete")


@commands.command(
    "deleteRolePermission",
    DeleteRolePermissionParams,
    description="Deletes a rule of a role",
    allowed=ADMIN,
    response=SUCCESS,
)
async def delete_role_permission(ctx: ServiceContext, p: DeleteRolePermissionParams) -> Success:
    await role_rules.delete_rule(ctx, rule_uuid=p.id)
    return Success()


class CreateRolePermissionParams(Params):
    roleid: Uuid = Field(description="The role the rule is added to (after its last rule)")
    rule: str = Field(min_length=1, max_length=255, description="A command name, or list*")
    permission: PermissionName = Field(description="allow or deny")
    description: str | None = Field(None, max_length=255, description="What the rule is for")


class ImportRoleParams(Params):
    name: _RoleName = Field(description="The role's name, unique in the cloud")
    type: RoleTypeName = Field(description="Admin, ResourceAdmin, DomainAdmin or User")
    rules: MapParam = Field(
        description="The rules in order: rules[0].rule=list*&rules[0].permission=allow"
    )
    description: str | None = Field(None, max_length=255, description="What the role is for")
    forced: bool = Field(False, description="true: replace the custom role of this name")
    ispublic: bool = Field(True, description="false: only root admins see the role")


def _imported(entries: list[dict[str, str]]) -> list[NewRule]:
    rules = []
    for entry in entries:
        rule = entry.get("rule") or ""
        if not rule:
            raise invalid("rules", "every rule needs rules[n].rule")
        try:
            permission = Permission((entry.get("permission") or "").lower())
        except ValueError:
            raise invalid(
                "rules", "rules[n].permission is allow or deny", value=entry.get("permission")
            ) from None
        rules.append(NewRule(rule, permission, entry.get("description") or ""))
    return rules


def rule_commands(registry: Iterable[Command[Any]]) -> CommandSet:
    """``createRolePermission`` and ``importRole`` over ``registry`` (they check names in it)."""

    rule_set = CommandSet()

    def names() -> list[str]:
        return [command.name for command in registry]

    @rule_set.command(
        "createRolePermission",
        CreateRolePermissionParams,
        description="Adds a rule to a role: the first rule matching a command decides",
        allowed=ADMIN,
        response=("rolepermission", RolePermissionResponse),
        related=("listRolePermissions",),
    )
    async def create_role_permission(ctx: ServiceContext, p: CreateRolePermissionParams) -> Single:
        rule = NewRule(p.rule, p.permission, p.description or "")
        row = await role_rules.add_rule(ctx, role_uuid=p.roleid, rule=rule, commands=names())
        return Single("rolepermission", rule_view(row))

    @rule_set.command(
        "importRole",
        ImportRoleParams,
        description="Creates (or with forced=true replaces) a role with its rules, in order",
        allowed=ADMIN,
        response=("role", RoleResponse),
        related=("listRoles",),
    )
    async def import_role(ctx: ServiceContext, p: ImportRoleParams) -> Single:
        role = await role_rules.import_role(
            ctx,
            name=p.name,
            role_type=p.type,
            description=p.description,
            rules=_imported(p.rules),
            forced=p.forced,
            is_public=p.ispublic,
            commands=names(),
        )
        return Single("role", role_view(role))

    return rule_set
