"""The worker runner: its timer and wake-ups, the lease, errors, stopping, the log line.

The workers are written for the test; what they touch is the test database on each
backend, with the leases of two servers played in one process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import select, text

from altostratus.core.leases import LeaseHolder
from altostratus.core.signals import Signals
from altostratus.core.worker import Tick, WakeUp, run_round, running
from altostratus.db.engine import Database
from altostratus.db.models import Lease
from altostratus.runtime import Runtime
from altostratus.settings import Settings
from altostratus.timeutil import utcnow

RUNNER = "altostratus.core.worker"


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    runtime = await Runtime.start(settings)
    try:
        yield runtime.db
    finally:
        await runtime.close()


class Recorder:
    """A worker that records when its rounds began and ended; every second one changes
    something. ``work``, if given, is what a round does besides."""

    name = "recorder"

    def __init__(
        self,
        *,
        interval: float = 0.05,
        lease: LeaseHolder | None = None,
        wake_up: WakeUp | None = None,
        run_at_start: bool = True,
        work: Callable[[], object] | None = None,
    ) -> None:
        self.interval = interval
        self.lease = lease
        self.wake_up = wake_up
        self.run_at_start = run_at_start
        self.work = work
        self.began: list[float] = []
        self.ended: list[float] = []

    async def tick(self) -> Tick:
        loop = asyncio.get_running_loop()
        self.began.append(loop.time())
        if self.work is not None:
            outcome = self.work()
            if asyncio.iscoroutine(outcome):
                await outcome
        self.ended.append(loop.time())
        rounds = len(self.ended)
        return Tick(f"round {rounds}", changed=rounds % 2 == 0)


async def until(condition: Callable[[], bool], within: float = 5.0) -> None:
    for _ in range(int(within / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not within {within} s")


async def test_rounds_start_at_once_and_follow_the_interval() -> None:
    worker = Recorder(interval=0.05)
    started = asyncio.get_running_loop().time()
    async with running([worker]):
        await until(lambda: len(worker.ended) >= 4)
    assert worker.began[0] - started < 0.05
    pauses = [begun - ended for ended, begun in zip(worker.ended, worker.began[1:], strict=False)]
    assert all(pause >= 0.045 for pause in pauses)


async def test_a_worker_may_wait_an_interval_before_its_first_round() -> None:
    worker = Recorder(interval=0.3, run_at_start=False)
    async with running([worker]):
        await asyncio.sleep(0.15)
        assert worker.began == []
        await until(lambda: len(worker.ended) == 1)


async def test_a_wake_up_starts_a_round_at_once_and_leaves_the_timer_alone() -> None:
    signals = Signals()
    worker = Recorder(interval=1.0, wake_up=signals.wait_for_jobs)
    async with running([worker]):
        await until(lambda: len(worker.ended) == 1)
        await asyncio.sleep(0.5)
        signals.jobs_submitted()
        await until(lambda: len(worker.ended) == 2)
        assert worker.began[1] - worker.ended[0] < 0.8
        await until(lambda: len(worker.ended) == 3)
    # The timed round came an interval after the first, not after the woken one.
    assert 0.99 <= worker.began[2] - worker.ended[0] < 1.4


async def test_timed_rounds_wait_while_another_server_holds_the_lease(db: Database) -> None:
    other = LeaseHolder(db, "test-work", "server-b", 30.0)
    assert await other.acquire()
    mine = LeaseHolder(db, "test-work", "server-a", 30.0)
    worker = Recorder(lease=mine)
    assert str(await run_round(worker)) == "another server holds the test-work lease"
    async with running([worker]):
        await asyncio.sleep(0.3)
        assert worker.began == []
        await other.release()
        await until(lambda: len(worker.ended) >= 1)
        assert mine.valid


async def test_a_woken_round_runs_without_the_lease(db: Database) -> None:
    """The event reached this server: it handles it, whoever does the timed rounds."""
    assert await LeaseHolder(db, "test-work", "server-b", 30.0).acquire()
    signals = Signals()
    worker = Recorder(
        interval=60.0,
        lease=LeaseHolder(db, "test-work", "server-a", 30.0),
        wake_up=signals.wait_for_jobs,
    )
    async with running([worker]):
        await asyncio.sleep(0.1)
        signals.jobs_submitted()
        await until(lambda: len(worker.ended) == 1)


async def test_the_lease_is_handed_over_at_a_clean_stop(db: Database) -> None:
    worker = Recorder(interval=60.0, lease=LeaseHolder(db, "test-work", "server-a", 30.0))
    async with running([worker]):
        await until(lambda: len(worker.ended) == 1)
        assert not await LeaseHolder(db, "test-work", "server-b", 30.0).acquire()
    assert await LeaseHolder(db, "test-work", "server-b", 30.0).acquire()


async def test_a_database_error_is_one_warning_and_the_rounds_go_on(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    failures = iter([True])

    async def query() -> None:
        table = "no_such_table" if next(failures, False) else "leases"
        async with db.transaction(write=False) as session:
            await session.execute(text(f"SELECT 1 FROM {table}"))

    worker = Recorder(work=query)
    with caplog.at_level(logging.DEBUG, logger=RUNNER):
        async with running([worker]):
            await until(lambda: len(worker.ended) >= 2)
    warnings = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].getMessage().startswith("recorder: database unavailable: (")
    assert "no_such_table" in warnings[0].getMessage()
    assert "\n" not in warnings[0].getMessage()


async def test_a_failing_round_is_logged_with_its_traceback_and_the_rounds_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failures = iter([True])

    def bug() -> None:
        if next(failures, False):
            raise KeyError("a bug")

    worker = Recorder(work=bug)
    with caplog.at_level(logging.DEBUG, logger=RUNNER):
        async with running([worker]):
            await until(lambda: len(worker.ended) >= 2)
    (failed,) = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert failed.getMessage() == "recorder: round failed"
    assert failed.exc_info is not None


async def test_a_stop_lets_the_round_in_progress_commit(db: Database) -> None:
    """A transaction is never abandoned half-way, however often the runner is cancelled."""

    async def write_slowly() -> None:
        async with db.transaction() as session:
            session.add(Lease(name="slow-round", owner="server-a", expires=utcnow()))
            await session.flush()
            await asyncio.sleep(0.3)

    worker = Recorder(interval=60.0, work=write_slowly)
    async with running([worker]):
        await until(lambda: len(worker.began) == 1)
    assert len(worker.ended) == 1
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(Lease.owner).where(Lease.name == "slow-round"))


async def test_each_round_is_one_line_at_info_only_when_it_changed_something(
    caplog: pytest.LogCaptureFixture,
) -> None:
    worker = Recorder()
    with caplog.at_level(logging.DEBUG, logger=RUNNER):
        assert (await run_round(worker)).changed is False
        assert (await run_round(worker)).changed is True
    assert [(record.levelno, record.getMessage()) for record in caplog.records] == [
        (logging.DEBUG, "recorder: round 1"),
        (logging.INFO, "recorder: round 2"),
    ]
