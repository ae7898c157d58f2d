"""Users: their lifecycle, their API keys and ``listUsers``.

A user acts on itself (its profile, password and keys) but never disables, locks or
deletes itself: an administrator locked out of its own cloud has nobody to call.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from altostratus.core.context import ServiceContext
from altostratus.core.paging import (
    Page,
    PageRequest,
    equal_if_given,
    keyword_filter,
    paginate,
)
from altostratus.db.models import Account, AccountType, Domain, EntityState, User, new_uuid
from altostratus.errors import InvalidParameter, PermissionDenied, invalid
from altostratus.security.apikeys import KeyPair
from altostratus.services.identity.credentials import (
    change_password,
    issue_key_pair,
    set_password,
)
from altostratus.services.shared.access import (
    ListScope,
    execute_delete,
    get_account,
    get_user,
    list_scope,
    require_fresh_uuid,
    require_managed_account,
    require_managed_user,
    require_not_self,
)
from altostratus.services.shared.events import record_event

__all__ = [
    "NewUser",
    "add_user",
    "create_user",
    "delete_user",
    "get_user_by_api_key",
    "get_user_keys",
    "list_users",
    "move_user",
    "register_user_keys",
    "set_user_state",
    "update_user",
]


@dataclass(frozen=True)
class NewUser:
    """What ``createUser`` and ``createAccount`` both need to create a user."""

    username: str
    password: str
    email: str
    firstname: str
    lastname: str
    timezone: str | None
    user_uuid: str | None


async def _require_free_username(ctx: ServiceContext, domain_id: int, username: str) -> None:
    """A user name must be new to its domain, look-alikes included.

    CloudStack compares names in MySQL's default collation, where ``Admin`` and ``admin ``
    are the same name as ``admin``: an ordinary user may rename itself, but never into
    something listed as the domain's administrator. So names are compared without case,
    and surrounding blanks are refused outright.
    """
    if not username.strip():
        raise invalid("username", "Username cannot be empty", value=repr(username))
    if username != username.strip():
        raise invalid("username", "a user name cannot begin or end with blanks")
    clash = await ctx.session.scalar(
        select(Domain.path)
        .join(User, User.domain_id == Domain.id)
        .where(User.domain_id == domain_id, func.lower(User.username) == username.lower())
    )
    if clash is not None:
        raise InvalidParameter(f"The user {username} already exists in domain {clash}")


async def add_user(ctx: ServiceContext, account: Account, spec: NewUser) -> User:
    """Create a user in ``account`` (checked by the caller) and record ``USER.CREATE``."""
    await require_fresh_uuid(ctx, User, spec.user_uuid, "userid")
    await _require_free_username(ctx, account.domain_id, spec.username)
    user = User(
        uuid=spec.user_uuid or new_uuid(),
        username=spec.username,
        account=account,
        domain_id=account.domain_id,
        firstname=spec.firstname,
        lastname=spec.lastname,
        email=spec.email,
        timezone=spec.timezone,
        state=EntityState.ENABLED,
        failed_logins=0,
    )
    await set_password(user, spec.password, ctx.deps.passwords)
    ctx.session.add(user)
    await ctx.session.flush()
    await record_event(
        ctx,
        "USER.CREATE",
        f"Created user {user.username} in account {account.name}",
        resource_type="User",
        resource_uuid=user.uuid,
        owner=account,
    )
    return user


async def create_user(
    ctx: ServiceContext, *, account_name: str, domain_uuid: str | None, spec: NewUser
) -> User:
    account = await get_account(ctx, account_uuid=None, name=account_name, domain_uuid=domain_uuid)
    require_managed_account(ctx.caller, account)
    return await add_user(ctx, account, spec)


async def _managed_user(ctx: ServiceContext, user_uuid: str, *, allow_self: bool) -> User:
    user = await get_user(ctx, user_uuid)
    require_managed_user(ctx.caller, user, allow_self=allow_self)
    return user


async def _record(ctx: ServiceContext, event_type: str, verb: str, user: User) -> None:
    await record_event(
        ctx,
        event_type,
        f"{verb} user {user.username} of account {user.account.name}",
        resource_type="User",
        resource_uuid=user.uuid,
        owner=user.account,
    )


async def _check_current_password(ctx: ServiceContext, user: User, current: str | None) -> None:
    """Changing one's own password needs the old one: a stolen session must not suffice.

    Users must give it; admins may skip it (they could reset anyone's anyway), but a wrong
    one given is still refused.
    """
    if user.id != ctx.caller.user_id:
        return
    if current is None:
        if ctx.caller.is_root_admin or ctx.caller.is_domain_admin:
            return
        raise InvalidParameter(
            "Unable to change your password: the currentpassword parameter is required"
        )
    if not await ctx.deps.passwords.verify(user.password_hash, current):
        raise PermissionDenied("Unable to change your password: currentpassword is wrong")


async def update_user(
    ctx: ServiceContext,
    *,
    user_uuid: str,
    username: str | None,
    email: str | None,
    firstname: str | None,
    lastname: str | None,
    timezone: str | None,
    password: str | None,
    current_password: str | None,
) -> User:
    user = await _managed_user(ctx, user_uuid, allow_self=True)
    if username is not None and username != user.username:
        if username.lower() != user.username.lower():
            await _require_free_username(ctx, user.domain_id, username)
        user.username = username
    if password is not None:
        await _check_current_password(ctx, user, current_password)
        await change_password(ctx.session, ctx.deps, user, password)
    for field, value in (
        ("email", email),
        ("firstname", firstname),
        ("lastname", lastname),
        ("timezone", timezone),
    ):
        if value is not None:
            setattr(user, field, value)
    await _record(ctx, "USER.UPDATE", "Updated", user)
    return user


async def delete_user(ctx: ServiceContext, *, user_uuid: str) -> None:
    user = await _managed_user(ctx, user_uuid, allow_self=False)
    require_not_self(ctx.caller, user, "delete")
    await _record(ctx, "USER.DELETE", "Deleted", user)
    await execute_delete(ctx, [user], f"User {user.username}")


async def move_user(
    ctx: ServiceContext, *, user_uuid: str, account_uuid: str | None, account_name: str | None
) -> User:
    """``moveUser``: the user joins another account of its own domain, keys and all.

    CloudStack moves users only within their domain (a user name is unique per domain,
    so nothing else about the user changes: its keys and sessions stay valid) and
    prefers ``accountid`` when both are given. The user then acts with the new
    account's role and on its resources.
    """
    if account_uuid is None and account_name is None:
        raise invalid("account", "give the account name or the accountid parameter")
    user = await _managed_user(ctx, user_uuid, allow_self=True)
    domain_uuid = user.account.domain.uuid
    target = await get_account(
        ctx,
        account_uuid=account_uuid,
        name=None if account_uuid is not None else account_name,
        domain_uuid=domain_uuid,
    )
    parameter = "accountid" if account_uuid is not None else "account"
    if target.domain_id != user.domain_id:
        raise invalid(
            parameter,
            f"account {target.name} is in domain {target.domain.path}; a user moves only "
            f"to an account of its own domain {user.account.domain.path}",
        )
    if target.id == user.account_id:
        raise invalid(parameter, f"user {user.username} already belongs to account {target.name}")
    require_managed_account(ctx.caller, target)
    source = user.account
    user.account = target
    await ctx.session.flush()
    await record_event(
        ctx,
        "USER.MOVE",
        f"Moved user {user.username} from account {source.name} to account {target.name}",
        resource_type="User",
        resource_uuid=user.uuid,
        owner=target,
    )
    return user


_STATE_EVENTS = {
    EntityState.ENABLED: ("USER.ENABLE", "Enabled", "enable"),
    EntityState.DISABLED: ("USER.DISABLE", "Disabled", "disable"),
    EntityState.LOCKED: ("USER.LOCK", "Locked", "lock"),
}


async def set_user_state(ctx: ServiceContext, *, user_uuid: str, state: EntityState) -> User:
    """``enableUser`` (which also forgets failed logins), ``disableUser`` and ``lockUser``."""
    event_type, verb, action = _STATE_EVENTS[state]
    user = await _managed_user(ctx, user_uuid, allow_self=False)
    require_not_self(ctx.caller, user, action)
    user.state = state
    if state is EntityState.ENABLED:
        user.failed_logins = 0
    await _record(ctx, event_type, verb, user)
    return user


async def register_user_keys(ctx: ServiceContext, *, user_uuid: str) -> KeyPair:
    """A new key pair; the old API key stops working when this commits."""
    user = await _managed_user(ctx, user_uuid, allow_self=True)
    pair = issue_key_pair(user, ctx.deps.keyring)
    await _record(ctx, "REGISTER.USER.KEY", "Registered new API keys of", user)
    return pair


async def get_user_keys(ctx: ServiceContext, *, user_uuid: str) -> KeyPair | None:
    """The user's key pair, or ``None`` if it never had one."""
    user = await _managed_user(ctx, user_uuid, allow_self=True)
    if user.api_key is None or user.secret_key_encrypted is None:
        return None
    return KeyPair(user.api_key, ctx.deps.keyring.decrypt(user.secret_key_encrypted))


async def get_user_by_api_key(ctx: ServiceContext, *, api_key: str) -> User:
    user = await ctx.session.scalar(select(User).where(User.api_key == api_key))
    if user is None:
        raise InvalidParameter("Unable to find a user with the given userapikey")
    return user


async def list_users(
    ctx: ServiceContext,
    *,
    scope: ListScope,
    user_uuid: str | None,
    username: str | None,
    account_name: str | None,
    account_type: AccountType | None,
    state: EntityState | None,
    keyword: str | None,
    page: PageRequest,
) -> Page[User]:
    query = (
        select(User)
        .join(Account, User.account_id == Account.id)
        .join(Domain, User.domain_id == Domain.id)
    ).where(
        await list_scope(ctx, scope, account_column=User.account_id, by_id=user_uuid is not None),
        keyword_filter(
            keyword, User.username, User.firstname, User.lastname, User.email, Account.name
        ),
    )
    query = query.where(
        equal_if_given(
            (User.uuid, user_uuid),
            (User.username, username),
            (Account.name, account_name),
            (Account.type, account_type),
            (User.state, state),
        )
    )
    return await paginate(ctx.session, query.order_by(User.id), page)
