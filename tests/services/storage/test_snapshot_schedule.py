"""When a policy's next snapshot is due: CloudStack's schedule strings in a time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from altostratus.db.models.compute import SnapshotInterval
from altostratus.services.storage.snapshot_schedule import next_run, parse_schedule

#: A Friday.
FRIDAY = datetime(2026, 12, 4, 4, 40, tzinfo=UTC)


@pytest.mark.parametrize(
    ("interval", "schedule", "zone", "expected"),
    [
        ("HOURLY", "30", "UTC", datetime(2026, 12, 4, 5, 30, tzinfo=UTC)),
        ("HOURLY", "50", "UTC", datetime(2026, 12, 4, 4, 50, tzinfo=UTC)),
        # 02:30 in Berlin (UTC+1 in winter) is 01:30 UTC; today's has passed.
        ("DAILY", "30:02", "Europe/Berlin", datetime(2026, 12, 5, 1, 30, tzinfo=UTC)),
        ("DAILY", "00:23", "UTC", datetime(2026, 12, 4, 23, 0, tzinfo=UTC)),
        # Day 1 is Sunday, day 6 Friday (today's 03:00 has passed: next week's).
        ("WEEKLY", "00:10:1", "UTC", datetime(2026, 12, 6, 10, 0, tzinfo=UTC)),
        ("WEEKLY", "00:03:6", "UTC", datetime(2026, 12, 11, 3, 0, tzinfo=UTC)),
        ("WEEKLY", "00:05:6", "UTC", datetime(2026, 12, 4, 5, 0, tzinfo=UTC)),
        ("MONTHLY", "00:00:28", "Asia/Kolkata", datetime(2026, 12, 27, 18, 30, tzinfo=UTC)),
        ("MONTHLY", "00:00:1", "UTC", datetime(2027, 1, 1, 0, 0, tzinfo=UTC)),
    ],
)
def test_the_next_run_of_each_interval(
    interval: str, schedule: str, zone: str, expected: datetime
) -> None:
    parsed = parse_schedule(SnapshotInterval(interval), schedule)
    assert next_run(parsed, zone, FRIDAY) == expected


def test_a_daily_time_stays_on_the_wall_clock_across_a_dst_change() -> None:
    daily = parse_schedule(SnapshotInterval.DAILY, "30:02")
    # Berlin leaves summer time on 2026-10-25: 02:30 is 00:30 UTC before, 01:30 after.
    before = next_run(daily, "Europe/Berlin", datetime(2026, 10, 24, 12, 0, tzinfo=UTC))
    after = next_run(daily, "Europe/Berlin", before)
    assert before == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert after == datetime(2026, 10, 26, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("interval", "schedule"),
    [
        ("HOURLY", "60"),
        ("HOURLY", "10:02"),
        ("DAILY", "30"),
        ("DAILY", "30:24"),
        ("DAILY", "-1:02"),
        ("WEEKLY", "00:10:0"),
        ("WEEKLY", "00:10:8"),
        ("MONTHLY", "00:10:29"),
        ("MONTHLY", "00:10"),
        ("DAILY", "aa:bb"),
    ],
)
def test_bad_schedules_say_the_format(interval: str, schedule: str) -> None:
    with pytest.raises(ValueError, match=f"a {interval} schedule is MM"):
        parse_schedule(SnapshotInterval(interval), schedule)


@given(
    interval=st.sampled_from(list(SnapshotInterval)),
    minute=st.integers(0, 59),
    hour=st.integers(0, 23),
    day=st.integers(1, 7),
    zone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]),
    after=st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
)
def test_the_next_run_is_soon_after_and_on_the_schedule(
    interval: SnapshotInterval, minute: int, hour: int, day: int, zone: str, after: datetime
) -> None:
    text = ":".join(
        str(n) for n in (minute, hour, day)[: {"HOURLY": 1, "DAILY": 2}.get(interval, 3)]
    )
    schedule = parse_schedule(interval, text)
    moment = next_run(schedule, zone, after)
    longest = {"HOURLY": 2, "DAILY": 26, "WEEKLY": 7 * 24 + 2, "MONTHLY": 31 * 24 + 2}[interval]
    assert after < moment <= after + timedelta(hours=longest)
    local = moment.astimezone(ZoneInfo(zone))
    assert (local.minute, local.second) == (schedule.minute, 0)
    if interval is SnapshotInterval.HOURLY:
        return
    # A wall time a DST change skips runs an hour later on the wall clock.
    assert local.hour in (schedule.hour, (schedule.hour + 1) % 24)
    if interval is SnapshotInterval.WEEKLY and local.hour == schedule.hour:
        assert local.isoweekday() % 7 + 1 == schedule.day
    if interval is SnapshotInterval.MONTHLY and local.hour == schedule.hour:
        assert local.day == schedule.day
