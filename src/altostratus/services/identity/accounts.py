"""Accounts: creation with their first user, roles, enabling and ``listAccounts``.

An account's type follows its role (CloudStack keeps both: old clients read
``accounttype``, new ones ``roleid``). Domain admins never create or grant the root
admin role, and nobody changes the role of, disables or deletes their own account.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, select

from altostratus.core.context import ServiceContext
from altostratus.core.paging import (
    Page,
    PageRequest,
    equal_if_given,
    keyword_filter,
    paginate,
)
from altostratus.db.models import (
    Account,
    AccountType,
    Domain,
    EntityState,
    Role,
    RoleState,
    RoleType,
    User,
    VirtualMachine,
    new_uuid,
)
from altostratus.db.models.compute import VmState
from altostratus.errors import InvalidParameter, PermissionDenied, invalid
from altostratus.services.identity.users import NewUser, add_user
from altostratus.services.shared.access import (
    ListScope,
    container_domain,
    execute_delete,
    get_account,
    list_scope,
    require_fresh_uuid,
    require_managed_account,
    require_not_self,
)
from altostratus.services.shared.events import record_event
from altostratus.services.shared.limits import ResourceType, Usage, account_usage

__all__ = [
    "AccountRef",
    "AccountWithUsers",
    "create_account",
    "list_accounts",
    "remove_account",
    "set_account_state",
    "start_account_deletion",
    "update_account",
]


@dataclass(frozen=True)
class AccountRef:
    """How commands name an account: by id, or by name within a domain."""

    account_uuid: str | None
    name: str | None
    domain_uuid: str | None


@dataclass(frozen=True)
class AccountWithUsers:
    """An account with what its response shows: users, limits and use, VMs by state."""

    account: Account
    users: Sequence[User]
    usage: Mapping[ResourceType, Usage]
    vms_running: int
    vms_stopped: int


async def _vm_states(ctx: ServiceContext, account_ids: list[int]) -> dict[tuple[int, str], int]:
    """How many live VMs each account has in each state."""
    rows = await ctx.session.execute(
        select(VirtualMachine.account_id, VirtualMachine.state, func.count())
        .where(VirtualMachine.account_id.in_(account_ids), VirtualMachine.removed.is_(None))
        .group_by(VirtualMachine.account_id, VirtualMachine.state)
    )
    return {(account_id, state): count for account_id, state, count in rows}


async def _with_users(ctx: ServiceContext, accounts: Sequence[Account]) -> list[AccountWithUsers]:
    users: dict[int, list[User]] = {account.id: [] for account in accounts}
    found = await ctx.session.scalars(
        select(User).where(User.account_id.in_(users)).order_by(User.id)
    )
    for user in found:
        users[user.account_id].append(user)
    states = await _vm_states(ctx, list(users))
    return [
        AccountWithUsers(
            account,
            users[account.id],
            await account_usage(ctx.session, account),
            vms_running=states.get((account.id, VmState.RUNNING), 0),
            vms_stopped=states.get((account.id, VmState.STOPPED), 0),
        )
        for account in accounts
    ]


async def _managed_account(ctx: ServiceContext, ref: AccountRef) -> Account:
    account = await get_account(
        ctx, account_uuid=ref.account_uuid, name=ref.name, domain_uuid=ref.domain_uuid
    )
    require_managed_account(ctx.caller, account)
    return account


async def _grantable_role(ctx: ServiceContext, role: Role | None, wanted: str) -> Role:
    if role is None:
        raise InvalidParameter(f"Unable to find role {wanted}")
    if not ctx.caller.is_root_admin and (role.type is RoleType.ADMIN or not role.is_public):
        raise PermissionDenied(f"Only root admins may grant the role {role.name}")
    if role.state is not RoleState.ENABLED:
        raise InvalidParameter(f"The role {role.name} is disabled: it cannot be granted")
    return role


async def _role_by_uuid(ctx: ServiceContext, role_uuid: str) -> Role:
    role = await ctx.session.scalar(select(Role).where(Role.uuid == role_uuid))
    return await _grantable_role(ctx, role, f"with id {role_uuid}")


async def _role_for(
    ctx: ServiceContext, account_type: AccountType | None, role_uuid: str | None
) -> Role:
    if account_type is not None and role_uuid is not None:
        raise InvalidParameter("Give either the accounttype or the roleid parameter, not both")
    if role_uuid is not None:
        return await _role_by_uuid(ctx, role_uuid)
    if account_type is AccountType.PROJECT:
        raise invalid("accounttype", "project accounts come with createProject", value=5)
    if account_type is None:
        raise InvalidParameter("One of the accounttype and roleid parameters is required")
    # The type's default role (created at bootstrap), else its oldest role.
    role = await ctx.session.scalar(
        select(Role)
        .where(Role.type == account_type.role_type)
        .order_by(Role.is_default.desc(), Role.id)
        .limit(1)
    )
    return await _grantable_role(ctx, role, f"for accounttype {account_type.value}")


def _type_of(role: Role) -> AccountType:
    return next(kind for kind in AccountType if kind.role_type is role.type)


async def _require_free_name(ctx: ServiceContext, domain: Domain, name: str) -> None:
    clash = await ctx.session.scalar(
        select(Account.id).where(Account.domain_id == domain.id, Account.name == name)
    )
    if clash is not None:
        raise InvalidParameter(f"The account {name} already exists in domain {domain.path}")


async def create_account(
    ctx: ServiceContext,
    *,
    user: NewUser,
    account_type: AccountType | None,
    role_uuid: str | None,
    name: str | None,
    domain_uuid: str | None,
    network_domain: str | None,
    account_uuid: str | None,
    details: dict[str, str],
) -> AccountWithUsers:
    """An account with its first user; ``name`` defaults to the username."""
    role = await _role_for(ctx, account_type, role_uuid)
    domain = await container_domain(ctx, domain_uuid)
    await require_fresh_uuid(ctx, Account, account_uuid, "accountid")
    name = name or user.username
    await _require_free_name(ctx, domain, name)
    account = Account(
        uuid=account_uuid or new_uuid(),
        name=name,
        domain=domain,
        role=role,
        type=_type_of(role),
        state=EntityState.ENABLED,
        network_domain=network_domain,
        details=details,
    )
    ctx.session.add(account)
    await ctx.session.flush()
    await record_event(
        ctx,
        "ACCOUNT.CREATE",
        f"Created account {name} in domain {domain.path}",
        resource_type="Account",
        resource_uuid=account.uuid,
        owner=account,
    )
    await add_user(ctx, account, user)
    return (await _with_users(ctx, [account]))[0]


async def _record(ctx: ServiceContext, event_type: str, verb: str, account: Account) -> None:
    await record_event(
        ctx,
        event_type,
        f"{verb} account {account.name} in domain {account.domain.path}",
        resource_type="Account",
        resource_uuid=account.uuid,
        owner=account,
    )


async def update_account(
    ctx: ServiceContext,
    *,
    ref: AccountRef,
    new_name: str | None,
    network_domain: str | None,
    role_uuid: str | None,
) -> AccountWithUsers:
    account = await _managed_account(ctx, ref)
    if new_name is not None and new_name != account.name:
        await _require_free_name(ctx, account.domain, new_name)
        account.name = new_name
    if network_domain is not None:
        account.network_domain = network_domain
    if role_uuid is not None and role_uuid != account.role.uuid:
        require_not_self(ctx.caller, account, "change the role of")
        role = await _role_by_uuid(ctx, role_uuid)
        account.role = role
        account.type = _type_of(role)
    await ctx.session.flush()
    await _record(ctx, "ACCOUNT.UPDATE", "Updated", account)
    return (await _with_users(ctx, [account]))[0]


async def start_account_deletion(ctx: ServiceContext, *, account_uuid: str) -> Account:
    """Check that the caller may delete the account, and disable it for the cleanup.

    ``deleteAccount``'s job then removes what the account owns (``compute.teardown``)
    and finally the account (``remove_account``). Disabled at once, none of its users
    can create anything more meanwhile; if the cleanup fails it stays disabled, and
    ``deleteAccount`` may be called again.
    """
    account = await _managed_account(ctx, AccountRef(account_uuid, None, None))
    require_not_self(ctx.caller, account, "delete")
    account.state = EntityState.DISABLED
    await ctx.session.flush()
    return account


async def remove_account(ctx: ServiceContext, account: Account) -> None:
    """Delete an account and its users, once nothing else refers to it (a tombstone).

    The rows go through the ORM, so each deletion reaches the replication log.
    """
    await _record(ctx, "ACCOUNT.DELETE", "Deleted", account)
    users = (await ctx.session.scalars(select(User).where(User.account_id == account.id))).all()
    await execute_delete(ctx, [*users, account], f"Account {account.name}")


async def set_account_state(
    ctx: ServiceContext, *, ref: AccountRef, state: EntityState
) -> AccountWithUsers:
    """``enableAccount``, ``disableAccount`` (``disabled`` or ``locked``).

    Every user of a disabled or locked account loses API and session access at once
    (``authentication`` checks the account's state on every request).
    """
    account = await _managed_account(ctx, ref)
    if state is EntityState.ENABLED:
        event_type, verb = "ACCOUNT.ENABLE", "Enabled"
    else:
        require_not_self(ctx.caller, account, "disable")
        event_type, verb = (
            "ACCOUNT.DISABLE",
            "Locked" if state is EntityState.LOCKED else "Disabled",
        )
    account.state = state
    await _record(ctx, event_type, verb, account)
    return (await _with_users(ctx, [account]))[0]


async def _listed(
    ctx: ServiceContext, scope: ListScope, account_uuid: str | None
) -> ColumnElement[bool]:
    """CloudStack's ``listAccounts`` scope: without ``id``, ``listall`` (admins only) or an
    admin's ``domainid``, the caller's own account, for admins too."""
    caller = ctx.caller
    admin = caller.is_root_admin or caller.is_domain_admin
    own_only = not admin or scope.domain_uuid is None
    if account_uuid is None and not (scope.listall and admin) and own_only:
        own = Account.id == caller.account_id
        return own if scope.domain_uuid is None else and_(own, Domain.uuid == scope.domain_uuid)
    return await list_scope(ctx, scope, account_column=Account.id, by_id=account_uuid is not None)


async def list_accounts(
    ctx: ServiceContext,
    *,
    scope: ListScope,
    account_uuid: str | None,
    name: str | None,
    account_type: AccountType | None,
    state: EntityState | None,
    keyword: str | None,
    page: PageRequest,
) -> Page[AccountWithUsers]:
    query = (
        select(Account)
        .join(Domain, Account.domain_id == Domain.id)
        .where(
            await _listed(ctx, scope, account_uuid),
            keyword_filter(keyword, Account.name),
            Account.type != AccountType.PROJECT,  # listed through listProjects
        )
    )
    query = query.where(
        equal_if_given(
            (Account.uuid, account_uuid),
            (Account.name, name),
            (Account.type, account_type),
            (Account.state, state),
        )
    )
    found = await paginate(ctx.session, query.order_by(Account.id), page)
    return Page(items=await _with_users(ctx, found.items), total=found.total)
