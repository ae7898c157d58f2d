"""Counts shared by a region's servers through the database: two ``RegionCounts`` (two
servers' sides) flushing to one real database, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete

from altostratus.core.counter_flush import flush_once
from altostratus.core.region_counts import RegionCounts
from altostratus.db.engine import Database
from altostratus.db.models import RegionCounter
from tests.conftest import Template

LIMIT = 50
WINDOW = 100_000


@pytest.fixture
async def db(database: tuple[str, Template]) -> AsyncIterator[Database]:
    engine = Database(database[0])
    yield engine
    await engine.close()


def _try(counts: RegionCounts, key: str = "acct") -> bool:
    """One request as ``services/shared/api_limits.admit`` decides it."""
    tally = counts.tally("api", key, WINDOW)
    if tally.current >= LIMIT or not tally.within_share(LIMIT):
        return False
    counts.add("api", key, WINDOW)
    return True


async def test_two_servers_serving_one_key_admit_the_limit_together(db: Database) -> None:
    """Requests spread over two servers, each flushing between bursts: the region admits
    the limit (one more at most, for the rounding of the shares), not twice it."""
    servers = [RegionCounts("server-a"), RegionCounts("server-b")]
    admitted = 0
    for _round in range(30):
        for counts in servers:
            admitted += sum(_try(counts) for _ in range(7))
        for counts in servers:
            await flush_once(db, counts)
    assert LIMIT <= admitted <= LIMIT + 1
    for counts in servers:
        assert counts.tally("api", "acct", WINDOW).current == admitted


async def test_a_server_serving_a_key_alone_has_all_of_it(db: Database) -> None:
    busy, idle = RegionCounts("server-a"), RegionCounts("server-b")
    await flush_once(db, idle)
    assert sum(_try(busy) for _ in range(LIMIT + 10)) == LIMIT
    await flush_once(db, busy)
    assert not _try(busy)
    assert _try(busy, "another account")


async def test_a_forgotten_key_starts_again_on_every_server(db: Database) -> None:
    """After a reset deletes the rows, a server learns the new total at its next flush."""
    first, second = RegionCounts("server-a"), RegionCounts("server-b")
    assert sum(_try(first) for _ in range(LIMIT)) == LIMIT
    await flush_once(db, first)
    _try(second)
    await flush_once(db, second)
    assert not _try(second), "the second server knows the first one's count"
    async with db.transaction() as session:
        await session.execute(delete(RegionCounter))
    first.forget("api", "acct")
    assert _try(first)
    await flush_once(db, second)
    assert _try(second)
