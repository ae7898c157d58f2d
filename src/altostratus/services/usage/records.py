"""Listing, regenerating and pruning usage records, with CloudStack's permissions.

A listing is first resolved into a ``UsageQuery``: the caller's rights turned into
plain filters (an account UUID, a domain path). Accounts and domains have the same
UUIDs and paths in every region, so the same query, signed by this region, is what a
peer region answers for a cross-region listing (``federation.usage``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict
from sqlalchemy import ColumnElement, and_, delete, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.core.context import Caller, ServiceContext
from altostratus.core.paging import equal_if_given, keyword_filter
from altostratus.db.clock import database_now
from altostratus.db.models import Account, Domain, ResourceTag, UsageRecord
from altostratus.db.rows import rowcount
from altostratus.errors import PermissionDenied, invalid
from altostratus.services.shared.projects import get_project
from altostratus.services.shared.visibility import subtree_filter
from altostratus.services.usage.meter import floor_period, generate
from altostratus.services.usage.types import UsageType

__all__ = [
    "UsageEntry",
    "UsageQuery",
    "find_records",
    "regenerate",
    "remove_older_than",
    "resolve_query",
]


class UsageQuery(BaseModel):
    """Which records to read; whose they are is already decided (the caller's rights)."""

    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime
    account_uuid: str | None = None
    #: Records of accounts in this domain (its subtree when ``recursive``).
    domain_path: str | None = None
    recursive: bool = True
    usage_type: int | None = None
    usage_uuid: str | None = None
    keyword: str | None = None
    include_tags: bool = False


class UsageEntry(BaseModel):
    """One record as regions exchange it and the API shows it, tagged with its region."""

    model_config = ConfigDict(frozen=True)

    region_id: int
    usage_type: int
    usage_uuid: str
    start_date: datetime
    end_date: datetime
    raw_usage: float
    description: str
    account_uuid: str
    account_name: str
    domain_uuid: str
    domain_path: str
    zone_uuid: str | None = None
    vm_uuid: str | None = None
    name: str | None = None
    offering_uuid: str | None = None
    template_uuid: str | None = None
    size: int | None = None
    tags: tuple[tuple[str, str], ...] = ()


async def resolve_query(
    ctx: ServiceContext,
    *,
    start: datetime,
    end: datetime,
    account: str | None,
    domain_uuid: str | None,
    account_uuid: str | None,
    project_uuid: str | None,
    recursive: bool,
    usage_type: int | None,
    usage_uuid: str | None,
    keyword: str | None,
    include_tags: bool,
) -> UsageQuery:
    """The caller's listing as filters: 431 for bad input, 531 for another's records.

    As CloudStack's ``listUsageRecords``: a user lists its own account only; a domain
    admin the accounts of its subtree; a root admin any.
    """
    if end < start:
        raise invalid("enddate", "the end date is before the start date", value=end.date())
    if usage_type is not None and usage_type not in {int(t) for t in UsageType}:
        raise invalid("type", "not a usage type listUsageTypes lists", value=usage_type)
    if usage_uuid is not None and usage_type is None:
        raise invalid("usageid", "can be used only together with type", value=usage_uuid)
    caller = ctx.caller
    domain = await _domain(ctx, domain_uuid) if domain_uuid is not None else None
    if project_uuid is not None:
        # A project the caller may see (a member's, or one its domain admin manages).
        project = await get_project(ctx, project_uuid)
        owner = await ctx.session.get(Account, project.account_id)
    else:
        owner = await _owner(ctx, account, account_uuid, domain)
    # A user may name its own domain: what it lists stays its own account's.
    if domain is not None and not _may_name(caller, domain.path):
        raise PermissionDenied(f"You may not list the usage of domain {domain.path}")
    if owner is not None and project_uuid is None and not _may_read(caller, owner):
        raise PermissionDenied("You may list the usage of your own account only")
    if owner is None and not (caller.is_root_admin or caller.is_domain_admin):
        owner_uuid: str | None = caller.account_uuid
    else:
        owner_uuid = owner.uuid if owner is not None else None
    if domain is not None:
        path: str | None = domain.path
    else:
        path = None if caller.is_root_admin else caller.domain_path
    return UsageQuery(
        start=start,
        end=end,
        account_uuid=owner_uuid,
        domain_path=path if owner_uuid is None else None,
        recursive=recursive or domain is None,
        usage_type=usage_type,
        usage_uuid=usage_uuid,
        keyword=keyword,
        include_tags=include_tags,
    )


def _may_read(caller: Caller, owner: Account) -> bool:
    return owner.id == caller.account_id or caller.manages_domain_path(owner.domain.path)


def _may_name(caller: Caller, path: str) -> bool:
    return caller.manages_domain_path(path) or path == caller.domain_path


async def _domain(ctx: ServiceContext, domain_uuid: str) -> Domain:
    domain = await ctx.session.scalar(select(Domain).where(Domain.uuid == domain_uuid))
    if domain is None:
        raise invalid("domainid", "no such domain", value=domain_uuid)
    return domain


async def _owner(
    ctx: ServiceContext,
    name: str | None,
    account_uuid: str | None,
    domain: Domain | None,
) -> Account | None:
    """The one account asked for (by name in a domain, or by id), if any."""
    if account_uuid is not None:
        found = await ctx.session.scalar(select(Account).where(Account.uuid == account_uuid))
        if found is None:
            raise invalid("accountid", "no such account", value=account_uuid)
        return found
    if name is None:
        return None
    domain_id = domain.id if domain is not None else ctx.caller.domain_id
    found = await ctx.session.scalar(
        select(Account).where(Account.name == name, Account.domain_id == domain_id)
    )
    if found is None:
        raise invalid("account", "no such account in the domain", value=name)
    return found


def _matching(query: UsageQuery) -> ColumnElement[bool]:
    if query.domain_path is None:
        scope: ColumnElement[bool] = true()
    elif query.recursive:
        scope = subtree_filter(UsageRecord.domain_path, query.domain_path)
    else:
        scope = UsageRecord.domain_path == query.domain_path
    return and_(
        scope,
        UsageRecord.start_date >= query.start,
        UsageRecord.start_date <= query.end,
        equal_if_given(
            (UsageRecord.account_uuid, query.account_uuid),
            (UsageRecord.usage_type, query.usage_type),
            (UsageRecord.usage_uuid, query.usage_uuid),
        ),
        keyword_filter(query.keyword, UsageRecord.description),
    )


async def find_records(
    session: AsyncSession, query: UsageQuery, region_id: int
) -> list[UsageEntry]:
    """Every record of this region the query matches, oldest period first."""
    records = list(
        await session.scalars(
            select(UsageRecord)
            .where(_matching(query))
            .order_by(UsageRecord.start_date, UsageRecord.usage_type, UsageRecord.id)
        )
    )
    tags: dict[str, list[tuple[str, str]]] = {}
    if query.include_tags and records:
        rows = await session.execute(
            select(ResourceTag.resource_uuid, ResourceTag.key, ResourceTag.value).where(
                ResourceTag.resource_uuid.in_({record.usage_uuid for record in records})
            )
        )
        for uuid, key, value in rows:
            tags.setdefault(uuid, []).append((key, value))
    return [
        UsageEntry(
            region_id=region_id,
            usage_type=record.usage_type,
            usage_uuid=record.usage_uuid,
            start_date=record.start_date,
            end_date=record.end_date,
            raw_usage=record.raw_usage,
            description=record.description,
            account_uuid=record.account_uuid,
            account_name=record.account_name,
            domain_uuid=record.domain_uuid,
            domain_path=record.domain_path,
            zone_uuid=record.zone_uuid,
            vm_uuid=record.vm_uuid,
            name=record.name,
            offering_uuid=record.offering_uuid,
            template_uuid=record.template_uuid,
            size=record.size,
            tags=tuple(sorted(tags.get(record.usage_uuid, []))),
        )
        for record in records
    ]


async def regenerate(
    ctx: ServiceContext, start: datetime, end: datetime, domain_uuid: str | None
) -> int:
    """``generateUsageRecords``: meter the whole periods from ``start`` to ``end`` again
    (those that have ended); only missing records are added."""
    if end < start:
        raise invalid("enddate", "the end date is before the start date", value=end.date())
    domain = await _domain(ctx, domain_uuid) if domain_uuid is not None else None
    minutes = ctx.deps.settings.usage_aggregation_range
    now = await database_now(ctx.session)
    until = floor_period(min(end, now) + timedelta(microseconds=1), minutes)
    since = floor_period(start, minutes)
    if since >= until:
        return 0
    return await generate(
        ctx.session, since, until, minutes, domain_path=domain.path if domain else None
    )


async def remove_older_than(ctx: ServiceContext, days: int) -> int:
    """``removeRawUsageRecords``: drop the records of periods ended ``days`` days ago."""
    if days <= 0:
        raise invalid("interval", "must be a number of days greater than 0", value=days)
    # Past a thousand years nothing is older (and a larger timedelta would overflow).
    cutoff = await database_now(ctx.session) - timedelta(days=min(days, 365_000))
    result = await ctx.session.execute(delete(UsageRecord).where(UsageRecord.end_date < cutoff))
    return rowcount(result)
