"""Hybrid logical clock versions: ordered, unique, never behind what was seen or stored."""

from __future__ import annotations

import time
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from altostratus.db import migrate
from altostratus.db.engine import Database
from altostratus.db.models import EntityVersion
from altostratus.federation.hlc import HybridClock, Version
from altostratus.federation.outbox import resume_clock

versions = st.builds(
    Version,
    st.integers(0, 9_999_999_999_999),
    st.integers(0, 99_999),
    st.integers(1, 99_999),
    st.integers(1, 999_999_999_999),
)


@given(versions, versions)
def test_string_order_is_version_order(a: Version, b: Version) -> None:
    assert (a.encode() < b.encode()) == (a < b)
    assert Version.decode(a.encode()) == a


def test_ticks_increase_even_within_one_millisecond() -> None:
    clock = HybridClock(origin=1)
    ticks = [clock.tick(seq) for seq in range(1, 1000)]
    assert ticks == sorted(ticks)
    assert len({(t.physical_ms, t.counter) for t in ticks}) == len(ticks)


def test_a_version_from_the_future_pulls_the_clock_forward() -> None:
    clock = HybridClock(origin=1)
    ahead = Version(int(time.time() * 1000) + 3_600_000, 7, 2, 40)
    clock.observe(ahead)
    assert clock.tick(1) > ahead


async def test_a_restarted_clock_resumes_above_the_stored_versions(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'alto.db'}")
    await migrate.upgrade(database)
    ahead = Version(int(time.time() * 1000) + 3_600_000, 3, 2, 9)
    async with database.transaction() as session:
        session.add(EntityVersion(entity_type="user", entity_key="u", version=ahead.encode()))
    clock = HybridClock(origin=1)
    await resume_clock(database, clock)
    await database.close()
    assert clock.tick(1) > ahead
