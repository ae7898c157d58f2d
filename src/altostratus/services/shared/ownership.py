"""Whose tenant rows a command creates or lists, from CloudStack's ``account``/``domainid``.

Tenant objects (key pairs, affinity groups, tags, …) belong to an account. A command may
name another account (``account`` with ``domainid``) only when the caller administers it;
without one the caller's own account is the owner. Listings default to the caller's own
rows; ``listall`` widens them to everything the caller administers
(``visibility.owned_rows_filter``), and ``account``/``domainid`` narrow them again.

``projectid`` names a project instead (``shared.projects``): its account owns what is
created, and listings show its rows. Without ``projectid`` listings leave projects' rows
out, even a root admin's ``listall``, as CloudStack does; by id a member finds them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, false, or_, select

from altostratus.core.context import Caller, ServiceContext
from altostratus.db.models import Account, AccountType, Domain, Project
from altostratus.errors import InvalidParameter, PermissionDenied, invalid
from altostratus.services.shared.access import (
    container_domain,
    get_account,
    require_managed_account,
)
from altostratus.services.shared.projects import (
    member_project_accounts,
    project_listing,
    project_owner,
)
from altostratus.services.shared.visibility import owned_rows_filter, subtree_filter

__all__ = [
    "OwnerScope",
    "find_visible",
    "listed_owners",
    "manages",
    "may_use",
    "named_owner",
    "not_projects",
    "owned_rows",
    "owned_scope_filter",
    "owner_account",
    "visible_to",
    "with_owner_joins",
]


def manages(caller: Caller, owner: Account) -> bool:
    """Whether ``caller`` may act on rows of ``owner``: its own, or one it administers."""
    if owner.id == caller.account_id:
        return True
    try:
        require_managed_account(caller, owner)
    except PermissionDenied:
        return False
    return True


async def may_use(ctx: ServiceContext, owner: Account) -> bool:
    """``manages``, or ``owner`` is the account of a project the caller is a member of."""
    if manages(ctx.caller, owner):
        return True
    if owner.type != AccountType.PROJECT:
        return False
    member = await ctx.session.scalar(
        member_project_accounts(ctx.caller).where(Project.account_id == owner.id)
    )
    return member is not None


async def owner_account(
    ctx: ServiceContext,
    account: str | None,
    domain_uuid: str | None,
    project_uuid: str | None = None,
) -> Account:
    """The account a new object belongs to: ``account`` in ``domainid``, the project's
    (``projectid``), or the caller's.

    An account the caller cannot see is 431 (its existence is not revealed); one it sees
    but does not administer is 531.
    """
    if project_uuid is not None:
        if account is not None:
            raise invalid("projectid", "give either projectid or account, not both")
        return await project_owner(ctx, project_uuid)
    if account is None:
        if domain_uuid is not None and domain_uuid != ctx.caller.domain_uuid:
            raise invalid("domainid", "it needs the account parameter")
        own = await ctx.session.scalar(select(Account).where(Account.id == ctx.caller.account_id))
        assert own is not None, "the caller's account was authenticated in this transaction"
        return own
    if domain_uuid is None:
        raise invalid("account", "it needs the domainid parameter")
    owner = await get_account(ctx, account_uuid=None, name=account, domain_uuid=domain_uuid)
    if owner.id != ctx.caller.account_id:
        require_managed_account(ctx.caller, owner)
    return owner


async def named_owner(
    ctx: ServiceContext,
    account: str | None,
    domain_uuid: str | None,
    project_uuid: str | None = None,
) -> Account | None:
    """The owner a command names besides an object's id, checked as ``owner_account``
    checks it; ``None`` if it names none.

    Clients send ``account``/``domainid`` (or ``projectid``) along with an id. CloudStack
    checks them either way; answering as if they were absent would carry out a request
    that names an account the caller may not act for.
    """
    if account is None and domain_uuid is None and project_uuid is None:
        return None
    return await owner_account(ctx, account, domain_uuid, project_uuid)


@dataclass(frozen=True)
class OwnerScope:
    """The ``account``, ``domainid``, ``isrecursive``, ``listall`` and ``projectid`` of a
    list command."""

    account: str | None = None
    domain_uuid: str | None = None
    recursive: bool = False
    listall: bool = False
    #: A project's uuid, or ``projects.ALL_PROJECTS``.
    project_uuid: str | None = None


async def owned_scope_filter(
    ctx: ServiceContext,
    scope: OwnerScope,
    *,
    account_id_column: Any,
    account_uuid_column: Any,
    domain_path_column: Any,
) -> ColumnElement[bool]:
    """The rows of a listing: visible to the caller, narrowed by account and domain.

    The query must join the owner's ``Account`` and ``Domain`` for the uuid and path
    columns. Naming an account or a domain implies ``listall`` within it.
    """
    narrowed = scope.account is not None or scope.domain_uuid is not None
    visible = owned_rows_filter(
        ctx.caller,
        account_uuid_column=account_uuid_column,
        domain_path_column=domain_path_column,
        listall=scope.listall or narrowed,
    )
    if scope.account is not None:
        owner = await owner_account(ctx, scope.account, scope.domain_uuid)
        return and_(visible, account_id_column == owner.id)
    if scope.domain_uuid is None:
        return visible
    if not (ctx.caller.is_root_admin or ctx.caller.is_domain_admin):
        # A user's own rows all lie in its own domain: another domain lists nothing.
        return visible if scope.domain_uuid == ctx.caller.domain_uuid else and_(visible, false())
    domain = await container_domain(ctx, scope.domain_uuid)
    below = (
        subtree_filter(domain_path_column, domain.path)
        if scope.recursive
        else domain_path_column == domain.path
    )
    return and_(visible, below)


#: A tenant model: it has ``account_id`` and ``domain_id`` columns.
Owned = TypeVar("Owned")


async def owned_rows(
    ctx: ServiceContext, model: type[Owned], scope: OwnerScope, *, finding: bool = False
) -> Select[Owned]:
    """``select(model)`` limited to the rows a listing shows, joined with their owner.

    The owner's ``Account`` and ``Domain`` are joined, so callers may filter on them.
    ``finding`` (a lookup by id, or by the VM a row belongs to) searches everything
    the caller may see, as if ``listall`` were given.
    """
    if finding:
        scope = dataclasses.replace(scope, listall=True)
    return with_owner_joins(model).where(await listed_owners(ctx, scope))


def with_owner_joins(model: type[Owned]) -> Select[Owned]:
    """``select(model)`` joined with its owner's ``Account`` and ``Domain``, for the filters."""
    owned: Any = model
    return (
        select(model)
        .join(Account, owned.account_id == Account.id)
        .join(Domain, owned.domain_id == Domain.id)
    )


async def find_visible(
    ctx: ServiceContext, model: type[Owned], uuid: str, *, noun: str, parameter: str
) -> Owned:
    """The live row ``uuid`` of ``model`` if the caller may see it; else 431 naming
    ``parameter`` (a row the caller may not see is "not found", not "forbidden")."""
    owned: Any = model
    row = await ctx.session.scalar(
        with_owner_joins(model).where(
            owned.uuid == uuid, owned.removed.is_(None), visible_to(ctx.caller)
        )
    )
    if row is None:
        raise InvalidParameter(f"Unable to find {noun} with id {uuid} (parameter {parameter})")
    return row


def visible_to(caller: Caller) -> ColumnElement[bool]:
    """Rows of ``with_owner_joins`` the caller may see and act on (others are "not found"):
    its own, those it administers, and those of the projects it is a member of."""
    return or_(
        owned_rows_filter(
            caller, account_uuid_column=Account.uuid, domain_path_column=Domain.path, listall=True
        ),
        Account.id.in_(member_project_accounts(caller)),
    )


def not_projects() -> ColumnElement[bool]:
    """Rows of ``with_owner_joins`` not owned by a project (listings without projectid)."""
    return Account.type != AccountType.PROJECT


async def listed_owners(ctx: ServiceContext, scope: OwnerScope) -> ColumnElement[bool]:
    """Rows of ``with_owner_joins`` a listing with ``scope`` shows."""
    if scope.project_uuid is not None:
        return await project_listing(ctx, scope.project_uuid, account=scope.account)
    owned = await owned_scope_filter(
        ctx,
        scope,
        account_id_column=Account.id,
        account_uuid_column=Account.uuid,
        domain_path_column=Domain.path,
    )
    return and_(owned, not_projects())
