"""Who may see and who may manage which domains, accounts and users.

Two questions, asked in this order by every identity command:

* *visible*: may the caller know the object exists? Root admins see everything, domain
  admins their subtree, users their own domain, account and user. An object the caller
  cannot see is "not found" (431), so ids outside one's reach reveal nothing.
* *managed*: may the caller change it? A domain admin manages its subtree except
  root-admin accounts (that would be an escalation); a user manages only itself, and
  only where a command allows acting on oneself. A visible but unmanaged object is 531.

Domains named as a *container* (``domainid`` of a create or list) are different: they
exist or not (431), and the caller may work in them or not (531), as CloudStack does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, select, true
from sqlalchemy.exc import IntegrityError

from altostratus.core.context import Caller, ServiceContext
from altostratus.db.models import Account, AccountType, Domain, PublicEntity, RoleType, User
from altostratus.errors import InvalidParameter, PermissionDenied, ResourceInUse, invalid
from altostratus.services.shared.visibility import subtree_filter

__all__ = [
    "ListScope",
    "container_domain",
    "execute_delete",
    "get_account",
    "get_domain",
    "get_user",
    "list_scope",
    "require_fresh_uuid",
    "require_managed_account",
    "require_managed_user",
    "require_not_self",
    "visible_domains",
]


def visible_domains(caller: Caller) -> ColumnElement[bool]:
    """Rows of ``domains`` the caller may see."""
    if caller.is_root_admin:
        return true()
    if caller.is_domain_admin:
        return subtree_filter(Domain.path, caller.domain_path)
    return Domain.id == caller.domain_id


def _visible_or_own(caller: Caller, own: ColumnElement[bool]) -> ColumnElement[bool]:
    """Admins see rows (joined with their domain) in visible domains; users only ``own``."""
    if caller.is_domain_admin or caller.is_root_admin:
        return visible_domains(caller)
    return own


async def get_domain(ctx: ServiceContext, domain_uuid: str) -> Domain:
    domain = await ctx.session.scalar(
        select(Domain).where(Domain.uuid == domain_uuid, visible_domains(ctx.caller))
    )
    if domain is None:
        raise InvalidParameter(f"Unable to find domain with id {domain_uuid}")
    return domain


async def container_domain(ctx: ServiceContext, domain_uuid: str | None) -> Domain:
    """The domain to create or list in (default: the caller's), if the caller works there."""
    uuid = domain_uuid or ctx.caller.domain_uuid
    domain = await ctx.session.scalar(select(Domain).where(Domain.uuid == uuid))
    if domain is None:
        raise InvalidParameter(f"Unable to find domain with id {uuid}")
    if not ctx.caller.manages_domain_path(domain.path):
        raise PermissionDenied(
            f"Account {ctx.caller.account_name} does not have permission to operate "
            f"within domain {domain.path}"
        )
    return domain


async def get_account(
    ctx: ServiceContext,
    *,
    account_uuid: str | None,
    name: str | None = None,
    domain_uuid: str | None = None,
) -> Account:
    """The account named by its id, or by its name in ``domain_uuid`` (default: the caller's).

    A project's account is never found this way: it is named through its project.
    """
    query = (
        select(Account)
        .join(Domain, Account.domain_id == Domain.id)
        .where(Account.type != AccountType.PROJECT)
    )
    if account_uuid is not None:
        query = query.where(Account.uuid == account_uuid)
        wanted = f"id {account_uuid}"
    elif name is not None:
        domain_uuid = domain_uuid or ctx.caller.domain_uuid
        query = query.where(Account.name == name, Domain.uuid == domain_uuid)
        wanted = f"name {name} in domain {domain_uuid}"
    else:
        raise InvalidParameter("Either id or account (with domainid) must be given")
    account = await ctx.session.scalar(
        query.where(_visible_or_own(ctx.caller, Account.id == ctx.caller.account_id))
    )
    if account is None:
        raise InvalidParameter(f"Unable to find account with {wanted}")
    return account


async def get_user(ctx: ServiceContext, user_uuid: str) -> User:
    user = await ctx.session.scalar(
        select(User)
        .join(Domain, User.domain_id == Domain.id)
        .where(User.uuid == user_uuid, _visible_or_own(ctx.caller, User.id == ctx.caller.user_id))
    )
    if user is None:
        raise InvalidParameter(f"Unable to find user with id {user_uuid}")
    return user


def require_managed_account(caller: Caller, account: Account) -> None:
    """531 unless the caller administers ``account`` (users administer no account)."""
    if not caller.manages_domain_path(account.domain.path) or (
        account.role.type is RoleType.ADMIN and not caller.is_root_admin
    ):
        raise PermissionDenied(
            f"Account {caller.account_name} may not manage account {account.name} "
            f"in domain {account.domain.path}"
        )


def require_managed_user(caller: Caller, user: User, *, allow_self: bool) -> None:
    """531 unless the caller administers the user's account, or it is the caller itself."""
    if allow_self and user.id == caller.user_id:
        return
    require_managed_account(caller, user.account)


def require_not_self(caller: Caller, user_or_account: User | Account, action: str) -> None:
    own = caller.user_id if isinstance(user_or_account, User) else caller.account_id
    if user_or_account.id == own:
        kind = "user" if isinstance(user_or_account, User) else "account"
        raise InvalidParameter(f"You cannot {action} your own {kind}")


async def require_fresh_uuid(
    ctx: ServiceContext, model: type[PublicEntity], uuid: str | None, parameter: str
) -> None:
    """Refuse a caller-chosen UUID that is already taken (431 naming ``parameter``)."""
    if uuid is not None and await ctx.session.scalar(select(exists().where(model.uuid == uuid))):
        raise invalid(parameter, f"{uuid} is already in use")


@dataclass(frozen=True)
class ListScope:
    """Where a listing of accounts or users looks, as the caller asked."""

    domain_uuid: str | None
    recursive: bool
    listall: bool


async def list_scope(
    ctx: ServiceContext, scope: ListScope, *, account_column: Any, by_id: bool
) -> ColumnElement[bool]:
    """CloudStack's list rule for account-owned identity rows (queries join ``Domain``).

    Users list only their own account. An admin looking up by id, or with ``listall``,
    searches everything it may see; otherwise it lists one domain (``domainid``, default
    its own), or that domain's subtree with ``isrecursive`` (or ``listall``).
    """
    caller = ctx.caller
    if not (caller.is_root_admin or caller.is_domain_admin):
        own = account_column == caller.account_id
        return own if scope.domain_uuid is None else and_(own, Domain.uuid == scope.domain_uuid)
    if scope.domain_uuid is None and (by_id or scope.listall):
        return visible_domains(caller)
    domain = await container_domain(ctx, scope.domain_uuid)
    if scope.recursive or scope.listall:
        return subtree_filter(Domain.path, domain.path)
    return Domain.id == domain.id


async def execute_delete(ctx: ServiceContext, rows: Sequence[Any], what: str) -> None:
    """Delete ``rows`` in order, through the ORM so each deletion reaches the replication log.

    Rows still referenced elsewhere (a zone dedicated to a domain, …) make it 536.
    """
    try:
        for row in rows:
            await ctx.session.delete(row)
            await ctx.session.flush()
    except IntegrityError:
        raise ResourceInUse(f"{what} is still in use by other resources") from None
