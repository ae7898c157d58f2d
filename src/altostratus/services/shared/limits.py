"""Resource limits: how much an account, and the domains above it, may hold.

A limit is a ``resource_limits`` row for an account or a domain; no row (or ``-1``)
means unlimited. An account limit counts the account's own resources; a domain limit
counts everything owned in the domain's subtree. ``check`` enforces the account's limit
and that of every domain from its own up to ``ROOT``; root admin accounts are exempt,
as in CloudStack.

Usage is counted from live rows, never from a counter that could drift:

* ``user_vm``, ``cpu`` (cores), ``memory`` (MB): VMs not removed and not ``Destroyed`` or
  ``Expunging``. As in CloudStack, destroying a VM frees its slot at once (not when it
  is expunged), so ``recoverVirtualMachine`` must ``check`` again.
* ``volume`` and ``primary_storage``: volumes not removed, not ``Destroy``/``Expunged``.
* ``snapshot``: snapshots not removed and not ``Destroyed``; ``template``: templates not
  removed; ``public_ip``: addresses of purpose ``public``; ``network``: owned networks.
* ``secondary_storage``: the size of the account's templates and snapshots.

Storage amounts (``primary_storage``, ``secondary_storage``) are bytes in ``check`` and
in the counts, and GiB in a limit's ``max``, as CloudStack's API shows them.

``check`` must run in the transaction that then creates the resource. On PostgreSQL it
locks the account row (and the rows of domains that carry a limit on what is wanted),
so two concurrent deploys of one account cannot both take its last slot; SQLite runs
write transactions one at a time anyway.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.core.context import ServiceContext
from altostratus.db.models import (
    Account,
    Domain,
    IpAddress,
    Network,
    ResourceLimit,
    Role,
    RoleType,
    Snapshot,
    Template,
    VirtualMachine,
    Volume,
)
from altostratus.db.models.compute import SnapshotState, VmState, VolumeState
from altostratus.errors import InvalidParameter, PermissionDenied, ResourceLimitExceeded, invalid
from altostratus.services.shared.access import get_account, get_domain, require_managed_account
from altostratus.services.shared.events import record_event
from altostratus.services.shared.projects import get_project
from altostratus.services.shared.visibility import subtree_filter

__all__ = [
    "UNLIMITED",
    "LimitEntry",
    "ResourceType",
    "Usage",
    "account_usage",
    "check",
    "domain_chain_paths",
    "domain_usage",
    "limits_of",
    "list_limits",
    "update_limit",
]

UNLIMITED = -1
_GIB = 1024**3


class ResourceType(enum.IntEnum):
    """CloudStack's resource type numbers (5 projects and 7 VPCs do not exist here)."""

    INSTANCE = 0
    PUBLIC_IP = 1
    VOLUME = 2
    SNAPSHOT = 3
    TEMPLATE = 4
    NETWORK = 6
    CPU = 8
    MEMORY = 9
    PRIMARY_STORAGE = 10
    SECONDARY_STORAGE = 11

    @property
    def type_name(self) -> str:
        """CloudStack's ``resourcetypename``."""
        return _NAMES[self]

    @property
    def unit(self) -> int:
        """How many counted units one unit of ``max`` is (bytes per GiB for storage)."""
        return _GIB if self in (ResourceType.PRIMARY_STORAGE, ResourceType.SECONDARY_STORAGE) else 1

    @classmethod
    def by_name(cls, name: str) -> ResourceType | None:
        return next((kind for kind in cls if kind.type_name == name.lower()), None)


_NAMES = {
    ResourceType.INSTANCE: "user_vm",
    ResourceType.PUBLIC_IP: "public_ip",
    ResourceType.VOLUME: "volume",
    ResourceType.SNAPSHOT: "snapshot",
    ResourceType.TEMPLATE: "template",
    ResourceType.NETWORK: "network",
    ResourceType.CPU: "cpu",
    ResourceType.MEMORY: "memory",
    ResourceType.PRIMARY_STORAGE: "primary_storage",
    ResourceType.SECONDARY_STORAGE: "secondary_storage",
}

#: Builds "the row is owned within the scope" from a model's ``account_id`` column.
Owned = Callable[[Any], ColumnElement[bool]]


def _live_vms(owned: Owned) -> list[ColumnElement[bool]]:
    return [
        owned(VirtualMachine.account_id),
        VirtualMachine.removed.is_(None),
        VirtualMachine.state.not_in((VmState.DESTROYED, VmState.EXPUNGING)),
    ]


def _live_volumes(owned: Owned) -> list[ColumnElement[bool]]:
    return [
        owned(Volume.account_id),
        Volume.removed.is_(None),
        Volume.state.not_in((VolumeState.DESTROY, VolumeState.EXPUNGED)),
    ]


def _live_snapshots(owned: Owned) -> list[ColumnElement[bool]]:
    return [
        owned(Snapshot.account_id),
        Snapshot.removed.is_(None),
        Snapshot.state != SnapshotState.DESTROYED,
    ]


def _live_templates(owned: Owned) -> list[ColumnElement[bool]]:
    return [owned(Template.account_id), Template.removed.is_(None)]


def _total(column: Any) -> Any:
    return func.coalesce(func.sum(column), 0)


def _secondary_storage(owned: Owned) -> Select[Any]:
    templates = select(_total(Template.size)).where(*_live_templates(owned)).scalar_subquery()
    snapshots = select(_total(Snapshot.size)).where(*_live_snapshots(owned)).scalar_subquery()
    return select(templates + snapshots)


_USAGE: dict[ResourceType, Callable[[Owned], Select[Any]]] = {
    ResourceType.INSTANCE: lambda owned: select(func.count()).where(*_live_vms(owned)),
    ResourceType.CPU: lambda owned: select(_total(VirtualMachine.cpu_number)).where(
        *_live_vms(owned)
    ),
    ResourceType.MEMORY: lambda owned: select(_total(VirtualMachine.memory_mb)).where(
        *_live_vms(owned)
    ),
    ResourceType.VOLUME: lambda owned: select(func.count()).where(*_live_volumes(owned)),
    ResourceType.PRIMARY_STORAGE: lambda owned: select(_total(Volume.size)).where(
        *_live_volumes(owned)
    ),
    ResourceType.SNAPSHOT: lambda owned: select(func.count()).where(*_live_snapshots(owned)),
    ResourceType.TEMPLATE: lambda owned: select(func.count()).where(*_live_templates(owned)),
    ResourceType.PUBLIC_IP: lambda owned: select(func.count()).where(
        owned(IpAddress.account_id), IpAddress.purpose == "public"
    ),
    ResourceType.NETWORK: lambda owned: select(func.count()).where(
        owned(Network.account_id), Network.removed.is_(None)
    ),
    ResourceType.SECONDARY_STORAGE: _secondary_storage,
}


async def _usage(session: AsyncSession, kind: ResourceType, owned: Owned) -> int:
    return int(await session.scalar(_USAGE[kind](owned)) or 0)


def _of_account(account_id: int) -> Owned:
    return lambda column: column == account_id


def _in_subtree(path: str) -> Owned:
    accounts = select(Account.id).join(Domain, Account.domain_id == Domain.id)
    below = accounts.where(subtree_filter(Domain.path, path))
    return lambda column: column.in_(below)


def domain_chain_paths(path: str) -> list[str]:
    """``ROOT/a/b`` → ``["ROOT", "ROOT/a", "ROOT/a/b"]``: the domain and its ancestors."""
    parts = path.split("/")
    return ["/".join(parts[: depth + 1]) for depth in range(len(parts))]


async def limits_of(
    session: AsyncSession, *, account_id: int | None = None, domain_id: int | None = None
) -> dict[ResourceType, int]:
    """The limits set on one account (``account_id``) or one domain (``domain_id``)."""
    query = select(ResourceLimit.resource_type, ResourceLimit.max)
    if account_id is not None:
        query = query.where(ResourceLimit.account_id == account_id)
    else:
        query = query.where(
            ResourceLimit.account_id.is_(None), ResourceLimit.domain_id == domain_id
        )
    known = {kind.value for kind in ResourceType}
    return {
        ResourceType(kind): int(maximum)
        for kind, maximum in await session.execute(query)
        if kind in known
    }


@dataclass(frozen=True)
class Usage:
    """One resource type's limit and use, in the API's units (GiB for storage).

    What account and domain responses show (``vmlimit``, ``vmtotal``, ``vmavailable``, …);
    ``maximum`` is ``UNLIMITED`` where no limit is set, or for a root admin's account,
    which no limit binds (as CloudStack shows it).
    """

    maximum: int
    used: int

    @property
    def available(self) -> int | None:
        """What is left; ``None``: unlimited."""
        return None if self.maximum == UNLIMITED else self.maximum - self.used


async def _usage_by_kind(
    session: AsyncSession, owned: Owned, set_limits: Mapping[ResourceType, int], unbound: bool
) -> dict[ResourceType, Usage]:
    found = {}
    for kind in ResourceType:
        used = await _usage(session, kind, owned) // kind.unit
        maximum = UNLIMITED if unbound else set_limits.get(kind, UNLIMITED)
        found[kind] = Usage(maximum, used)
    return found


async def account_usage(session: AsyncSession, account: Account) -> dict[ResourceType, Usage]:
    """Every resource type's limit and use of one account."""
    set_limits = await limits_of(session, account_id=account.id)
    unbound = account.role.type is RoleType.ADMIN
    return await _usage_by_kind(session, _of_account(account.id), set_limits, unbound)


async def domain_usage(session: AsyncSession, domain: Domain) -> dict[ResourceType, Usage]:
    """Every resource type's limit and use of a domain: its accounts and its sub-domains'."""
    set_limits = await limits_of(session, domain_id=domain.id)
    unbound = domain.parent_id is None
    return await _usage_by_kind(session, _in_subtree(domain.path), set_limits, unbound)


def _exceeded(kind: ResourceType, owner: str, maximum: int, used: int, wanted: int) -> str:
    return (
        f"Maximum number of resources of type '{kind.type_name}' for {owner} has been "
        f"exceeded. Limit: {maximum}, in use: {used // kind.unit}, "
        f"requested: {-(-wanted // kind.unit)}"
    )


async def check(session: AsyncSession, account_id: int, wanted: Mapping[ResourceType, int]) -> None:
    """532 naming the resource if taking ``wanted`` would pass a limit of the account or
    of a domain above it; a no-op for root admin accounts and for unlimited resources.

    ``wanted`` is what the caller is about to create: counts, CPU cores, memory in MB,
    and storage in bytes (not GiB). Call it in the transaction that creates the rows.
    """
    wanted = {kind: amount for kind, amount in wanted.items() if amount > 0}
    if not wanted:
        return
    account = (
        await session.execute(
            select(Account.name, Role.type.label("role"), Domain.path, Domain.uuid.label("domain"))
            .join(Role, Account.role_id == Role.id)
            .join(Domain, Account.domain_id == Domain.id)
            .where(Account.id == account_id)
            .with_for_update(of=Account)
        )
    ).one()
    if account.role is RoleType.ADMIN:
        return
    owner = f"account name={account.name} in domain id={account.domain}"
    for kind, maximum in (await limits_of(session, account_id=account_id)).items():
        if kind in wanted and maximum != UNLIMITED:
            used = await _usage(session, kind, _of_account(account_id))
            if used + wanted[kind] > maximum * kind.unit:
                raise ResourceLimitExceeded(_exceeded(kind, owner, maximum, used, wanted[kind]))
    await _check_domains(session, account.path, wanted)


async def _check_domains(
    session: AsyncSession, account_path: str, wanted: Mapping[ResourceType, int]
) -> None:
    """Every domain from the account's up to ``ROOT`` whose limit covers a wanted type."""
    limited = (
        await session.execute(
            select(
                Domain.id, Domain.uuid, Domain.path, ResourceLimit.resource_type, ResourceLimit.max
            )
            .join(ResourceLimit, ResourceLimit.domain_id == Domain.id)
            .where(
                Domain.path.in_(domain_chain_paths(account_path)),
                ResourceLimit.account_id.is_(None),
                ResourceLimit.resource_type.in_([kind.value for kind in wanted]),
                ResourceLimit.max != UNLIMITED,
            )
            .order_by(Domain.path.desc())
        )
    ).all()
    if not limited:
        return
    # Lock the limited domains so concurrent deploys by sibling accounts queue up here.
    await session.execute(
        select(Domain.id)
        .where(Domain.id.in_(sorted({row.id for row in limited})))
        .order_by(Domain.id)
        .with_for_update()
    )
    for row in limited:
        kind = ResourceType(row.resource_type)
        used = await _usage(session, kind, _in_subtree(row.path))
        if used + wanted[kind] > row.max * kind.unit:
            raise ResourceLimitExceeded(
                _exceeded(kind, f"domain id={row.uuid}", row.max, used, wanted[kind])
            )


# --- the limits as the API sets and lists them ---


@dataclass(frozen=True)
class LimitEntry:
    """One resource type's limit of an account (``account`` set) or of a domain."""

    resource_type: ResourceType
    max: int
    domain: Domain
    account: Account | None = None


async def _target(
    ctx: ServiceContext,
    account_name: str | None,
    domain_uuid: str | None,
    project_uuid: str | None = None,
) -> tuple[Domain, Account | None]:
    """The account (``account`` in ``domainid``), the project's account (``projectid``)
    or the domain (``domainid`` alone) named."""
    if project_uuid is not None:
        if account_name is not None:
            raise invalid("projectid", "give either projectid or account, not both")
        account = (await get_project(ctx, project_uuid)).account
        return account.domain, account
    if account_name is not None:
        account = await get_account(
            ctx, account_uuid=None, name=account_name, domain_uuid=domain_uuid
        )
        return account.domain, account
    if domain_uuid is not None:
        return await get_domain(ctx, domain_uuid), None
    account = await get_account(ctx, account_uuid=ctx.caller.account_uuid)
    return account.domain, account


async def _entries(
    session: AsyncSession, domain: Domain, account: Account | None, kinds: list[ResourceType]
) -> list[LimitEntry]:
    if account is not None:
        set_limits = await limits_of(session, account_id=account.id)
    else:
        set_limits = await limits_of(session, domain_id=domain.id)
    return [LimitEntry(kind, set_limits.get(kind, UNLIMITED), domain, account) for kind in kinds]


async def list_limits(
    ctx: ServiceContext,
    *,
    account_name: str | None,
    domain_uuid: str | None,
    project_uuid: str | None = None,
    resource_type: ResourceType | None,
) -> list[LimitEntry]:
    """Every resource type's limit (``-1`` where none is set) of the account, project or
    domain named, by default the caller's own account; what the caller cannot see is 431
    (a project: unless a member of it or an admin of its domain)."""
    domain, account = await _target(ctx, account_name, domain_uuid, project_uuid)
    kinds = [resource_type] if resource_type is not None else list(ResourceType)
    return await _entries(ctx.session, domain, account, kinds)


async def _check_within_parents(
    session: AsyncSession, domain: Domain, kind: ResourceType, maximum: int
) -> None:
    """A domain's limit may not exceed a limit set on a domain above it (``-1`` may:
    the domains above still apply)."""
    ceiling = await session.scalar(
        select(func.min(ResourceLimit.max))
        .join(Domain, ResourceLimit.domain_id == Domain.id)
        .where(
            Domain.path.in_(domain_chain_paths(domain.path)[:-1]),
            ResourceLimit.account_id.is_(None),
            ResourceLimit.resource_type == kind.value,
            ResourceLimit.max != UNLIMITED,
        )
    )
    if ceiling is not None and maximum > ceiling:
        raise invalid(
            "max",
            f"a domain above {domain.path} limits {kind.type_name} to {ceiling}; "
            "specify a value up to that",
            value=maximum,
        )


def _check_changeable(ctx: ServiceContext, domain: Domain, account: Account | None) -> None:
    """CloudStack's rules: ROOT and root admins stay unlimited; domain admins set limits
    below themselves only, never on their own domain or account."""
    caller = ctx.caller
    if account is None:
        if domain.parent_id is None:
            raise PermissionDenied(f"Cannot update resource limit for ROOT domain {domain.uuid}")
        if caller.is_domain_admin and domain.id == caller.domain_id:
            raise PermissionDenied(
                f"Unable to update resource limit for domain {domain.uuid}, permission denied"
            )
        return
    require_managed_account(caller, account)
    if account.role.type is RoleType.ADMIN:
        raise InvalidParameter(
            f"Resource limits of root admin account {account.name} cannot be set: "
            "root admins are not limited"
        )
    if account.id == caller.account_id:
        raise PermissionDenied(
            f"Unable to update resource limit for own account {account.name}, permission denied"
        )


async def update_limit(
    ctx: ServiceContext,
    *,
    resource_type: ResourceType,
    maximum: int,
    account_name: str | None,
    domain_uuid: str | None,
    project_uuid: str | None = None,
) -> LimitEntry:
    """Set (``-1``: lift) one limit of an account (``account`` + ``domainid``), a project
    (``projectid``: its account's limit) or a domain."""
    if account_name is None and domain_uuid is None and project_uuid is None:
        raise InvalidParameter(
            "Unable to update resource limit: give domainid, account with domainid, or projectid"
        )
    domain, account = await _target(ctx, account_name, domain_uuid, project_uuid)
    _check_changeable(ctx, domain, account)
    if account is None:
        await _check_within_parents(ctx.session, domain, resource_type, maximum)
    # Lock the owner so two updates of one limit cannot both insert it.
    owner_row = Account if account is not None else Domain
    owner_id = account.id if account is not None else domain.id
    await ctx.session.execute(
        select(owner_row.id).where(owner_row.id == owner_id).with_for_update()
    )
    found = await ctx.session.scalar(
        select(ResourceLimit).where(
            ResourceLimit.resource_type == resource_type.value,
            ResourceLimit.account_id == account.id
            if account is not None
            else and_(ResourceLimit.account_id.is_(None), ResourceLimit.domain_id == domain.id),
        )
    )
    if found is None:
        found = ResourceLimit(
            account_id=account.id if account is not None else None,
            domain_id=domain.id,
            resource_type=resource_type.value,
        )
        ctx.session.add(found)
    found.max = maximum
    await ctx.session.flush()
    owner = f"account {account.name}" if account is not None else f"domain {domain.path}"
    await record_event(
        ctx,
        "RESOURCE.LIMIT.UPDATE",
        f"Set the {resource_type.type_name} limit of {owner} to {maximum}",
        resource_type="Account" if account is not None else "Domain",
        resource_uuid=account.uuid if account is not None else domain.uuid,
        owner=account,
    )
    return LimitEntry(resource_type, maximum, domain, account)
