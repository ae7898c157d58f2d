"""When a recurring snapshot is due: CloudStack's schedule strings, in a time zone.

A schedule reads least significant field first, as CloudStack writes it: ``MM`` for
HOURLY, ``MM:HH`` for DAILY, ``MM:HH:DD`` for WEEKLY (DD 1-7, 1 is Sunday, as Java's
``Calendar`` counts) and for MONTHLY (DD 1-28, so every month has the day). The time is
wall-clock time in the policy's zone: a daily 02:30 stays 02:30 across a DST change.
A wall time a DST change skips runs at the same offset it would have had (zoneinfo's
``fold=0``), and one it repeats runs once, at the first occurrence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from altostratus.db.models.compute import SnapshotInterval

__all__ = ["Schedule", "next_run", "parse_schedule"]

_FORMATS = {
    SnapshotInterval.HOURLY: "MM",
    SnapshotInterval.DAILY: "MM:HH",
    SnapshotInterval.WEEKLY: "MM:HH:DD (DD 1-7, 1 is Sunday)",
    SnapshotInterval.MONTHLY: "MM:HH:DD (DD 1-28)",
}
_FIELDS = {
    SnapshotInterval.HOURLY: 1,
    SnapshotInterval.DAILY: 2,
    SnapshotInterval.WEEKLY: 3,
    SnapshotInterval.MONTHLY: 3,
}
_DAY_RANGE = {SnapshotInterval.WEEKLY: 7, SnapshotInterval.MONTHLY: 28}


@dataclass(frozen=True)
class Schedule:
    interval: SnapshotInterval
    minute: int
    hour: int = 0
    #: Day of the week (1 = Sunday) for WEEKLY, of the month for MONTHLY.
    day: int = 1


def parse_schedule(interval: SnapshotInterval, text: str) -> Schedule:
    """The schedule, or ``ValueError`` saying the format the interval takes."""
    wrong = ValueError(f"a {interval.value} schedule is {_FORMATS[interval]}, not {text!r}")
    fields = text.strip().split(":")
    if len(fields) != _FIELDS[interval] or not all(field.isdigit() for field in fields):
        raise wrong
    numbers = [int(field) for field in fields]
    minute = numbers[0]
    hour = numbers[1] if len(numbers) > 1 else 0
    day = numbers[2] if len(numbers) > 2 else 1
    if minute > 59 or hour > 23:
        raise wrong
    if interval in _DAY_RANGE and not 1 <= day <= _DAY_RANGE[interval]:
        raise wrong
    return Schedule(interval, minute, hour, day)


def next_run(schedule: Schedule, timezone: str, after: datetime) -> datetime:
    """The first scheduled moment strictly after ``after``, in UTC."""
    zone = ZoneInfo(timezone)
    local = after.astimezone(zone)
    for candidate in _candidates(schedule, local.replace(tzinfo=None)):
        moment = candidate.replace(tzinfo=zone).astimezone(UTC)
        if moment > after:
            return moment
    raise AssertionError("a schedule always has a next run")  # pragma: no cover


def _candidates(schedule: Schedule, local: datetime) -> list[datetime]:
    """Naive wall times, earliest first, the next run after ``local`` among them: the
    scheduled time of the period ``local`` is in, and of the period after."""
    interval = schedule.interval
    if interval is SnapshotInterval.HOURLY:
        base = local.replace(minute=schedule.minute, second=0, microsecond=0)
        return [base, base + timedelta(hours=1)]
    base = local.replace(hour=schedule.hour, minute=schedule.minute, second=0, microsecond=0)
    if interval is SnapshotInterval.DAILY:
        return [base, base + timedelta(days=1)]
    if interval is SnapshotInterval.WEEKLY:
        # isoweekday: Monday 1 … Sunday 7; CloudStack's day: Sunday 1 … Saturday 7.
        base += timedelta(days=(schedule.day - 1 - local.isoweekday() % 7) % 7)
        return [base, base + timedelta(days=7)]
    base = base.replace(day=schedule.day)
    following = base.replace(year=base.year + base.month // 12, month=base.month % 12 + 1)
    return [base, following]
