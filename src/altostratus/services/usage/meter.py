"""Turning spans into usage records: one per object, type and aggregation period.

Periods are aligned on multiples of the aggregation range since the Unix epoch (an
hour by default), so every server, and every run, cuts time the same way. A record's
key is (type, object, period start): generating a period again, or on two servers at
once, inserts the same keys, and ``INSERT … ON CONFLICT DO NOTHING`` keeps the first.
Only whole periods that have ended are metered, so a written record never changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.db.models import (
    Event,
    Nic,
    Snapshot,
    SystemValue,
    Template,
    UsageRecord,
    VmSnapshot,
    Volume,
)
from altostratus.db.upsert import insert_for
from altostratus.services.usage.spans import Span, spans_between

__all__ = ["first_activity", "floor_period", "generate", "metered_until", "set_metered_until"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_METERED_UNTIL = "usage-metered-until"
#: Rows per INSERT statement (SQLite allows 32766 bound values; a record has 16).
_BATCH = 1000


def floor_period(moment: datetime, minutes: int) -> datetime:
    """The start of the aggregation period ``moment`` is in."""
    step = timedelta(minutes=minutes)
    return _EPOCH + ((moment - _EPOCH) // step) * step


def _periods(since: datetime, until: datetime, minutes: int) -> Iterator[tuple[datetime, datetime]]:
    step = timedelta(minutes=minutes)
    start = floor_period(since, minutes)
    while start < until:
        yield start, start + step
        start += step


def _records(
    span: Span, since: datetime, until: datetime, minutes: int
) -> Iterator[dict[str, Any]]:
    first = max(span.start, since)
    last = until if span.end is None else min(span.end, until)
    for start, end in _periods(first, last, minutes):
        hours = span.overlap_hours(start, end)
        if hours <= 0:
            continue
        yield {
            "usage_type": int(span.usage_type),
            "usage_uuid": span.usage_uuid,
            "start_date": start,
            "end_date": end,
            "raw_usage": round(hours, 6),
            "description": span.description,
            "account_uuid": span.owner.account_uuid,
            "account_name": span.owner.account_name,
            "domain_uuid": span.owner.domain_uuid,
            "domain_path": span.owner.domain_path,
            "zone_uuid": span.zone_uuid,
            "vm_uuid": span.vm_uuid,
            "name": span.name,
            "offering_uuid": span.offering_uuid,
            "template_uuid": span.template_uuid,
            "size": span.size,
        }


def _in_domain(span: Span, domain_path: str | None) -> bool:
    path = span.owner.domain_path
    return domain_path is None or path == domain_path or path.startswith(domain_path + "/")


async def generate(
    session: AsyncSession,
    since: datetime,
    until: datetime,
    minutes: int,
    *,
    domain_path: str | None = None,
) -> int:
    """Write the records of the whole periods from ``since`` to ``until`` (both period
    boundaries) that are missing; how many were new. ``domain_path``: only of accounts in
    that domain's subtree."""
    rows = sorted(
        (
            row
            for span in await spans_between(session, since, until)
            if _in_domain(span, domain_path)
            for row in _records(span, since, until, minutes)
        ),
        key=lambda row: (row["usage_type"], row["usage_uuid"], row["start_date"]),
    )
    if not rows:
        return 0
    # One statement executed for many rows (not one VALUES list: compiling that costs
    # more than inserting); RETURNING answers the rows inserted, not those ignored.
    statement = (
        insert_for(session, UsageRecord)
        .on_conflict_do_nothing(index_elements=["usage_type", "usage_uuid", "start_date"])
        .returning(UsageRecord.id)
    )
    added = 0
    for offset in range(0, len(rows), _BATCH):
        result = await session.execute(statement, rows[offset : offset + _BATCH])
        added += len(result.all())
    return added


async def metered_until(session: AsyncSession) -> datetime | None:
    """Where the worker's last round stopped (every period before it is metered)."""
    value = await session.scalar(
        select(SystemValue.value).where(SystemValue.name == _METERED_UNTIL)
    )
    return datetime.fromisoformat(value) if value else None


async def set_metered_until(session: AsyncSession, moment: datetime) -> None:
    """Move the mark forward only: a slower server finishing an older round keeps it."""
    current = await metered_until(session)
    if current is not None and current >= moment:
        return
    statement = insert_for(session, SystemValue).values(
        name=_METERED_UNTIL, value=moment.isoformat()
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["name"], set_={"value": statement.excluded.value}
        )
    )


async def first_activity(session: AsyncSession) -> datetime | None:
    """The oldest recorded state change or metered object: where a new region starts."""
    oldest = [
        await session.scalar(select(func.min(model.created)))
        for model in (Event, Volume, Template, Snapshot, VmSnapshot, Nic)
    ]
    found = [moment for moment in oldest if moment is not None]
    return min(found) if found else None
