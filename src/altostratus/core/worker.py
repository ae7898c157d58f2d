"""The one runner of every background worker: a loop of rounds, each a ``tick``.

A worker only says what one round does and how rounds are paced; the runner owns the
rest, the same way for all of them: the timer and early wake-ups, the region-wide lease,
what a database error or a bug in a round does (a log line, then the next round),
shutdown between rounds, never inside one (``uninterrupted``), and one log line per
round saying what it decided, as Patroni's ``run_cycle`` does. Tests drive a worker by
calling its ``tick()``, or ``run_round`` for the lease and the log line as well.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

from altostratus.core.leases import LeaseHolder, uninterrupted
from altostratus.db.failover import DATABASE_ERRORS

__all__ = ["Tick", "WakeUp", "Worker", "run_round", "run_worker", "running"]

log = logging.getLogger(__name__)

#: Wait up to the given seconds, returning early when there is work (``Signals.wait_for_*``).
WakeUp = Callable[[float], Awaitable[object]]

# asyncio runs a timer up to one clock tick early: a wait that ended that close to its
# deadline ran out, it was not woken.
_CLOCK_RESOLUTION = time.get_clock_info("monotonic").resolution


@dataclass(frozen=True)
class Tick:
    """What one round decided, as the sentence the runner logs."""

    sentence: str
    #: The round changed or found something worth an info line; routine rounds (nothing
    #: to do, another server's lease, a renewal) are logged at debug.
    changed: bool = False

    def __str__(self) -> str:
        return self.sentence


class Worker(Protocol):
    """Background work done in rounds.

    ``tick`` does one round and says what it decided. The runner starts a round every
    ``interval`` seconds after the previous timed round ended (at once at start when
    ``run_at_start``), and between them whenever ``wake_up`` returns early; a wake-up
    does not move the timer.

    ``lease`` makes the timed rounds region-wide singleton work: before each, the runner
    takes or renews it and skips the round while another server holds it; at a clean
    stop it hands the lease over. A round a wake-up started runs without the lease: the
    event reached this server, which handles it itself. A round that must not outlive
    the lease checks ``lease.valid`` as it goes. Work that renews its lease in the same
    transaction as its writes (the simulator fleet, the host monitor) has no ``lease``
    here and answers "another server holds ..." from its own tick.
    """

    @property
    def name(self) -> str: ...

    @property
    def interval(self) -> float: ...

    @property
    def lease(self) -> LeaseHolder | None: ...

    @property
    def wake_up(self) -> WakeUp | None: ...

    @property
    def run_at_start(self) -> bool: ...

    async def tick(self) -> Tick: ...


async def run_round(worker: Worker, *, woken: bool = False) -> Tick:
    """One round as the runner runs it: under the lease unless ``woken``, then logged.

    Errors propagate: the runner turns them into a log line, and a caller that needs
    the round (a server's first heartbeat before it serves) sees them.
    """
    lease = worker.lease
    if lease is not None and not woken and not await lease.acquire():
        tick = Tick(f"another server holds the {lease.name} lease")
    else:
        tick = await worker.tick()
    log.log(logging.INFO if tick.changed else logging.DEBUG, "%s: %s", worker.name, tick)
    return tick


async def run_worker(worker: Worker) -> None:
    """Run ``worker``'s rounds until cancelled; a round in progress runs to its end first."""
    loop = asyncio.get_running_loop()
    due = loop.time() + (0.0 if worker.run_at_start else worker.interval)
    try:
        while True:
            woken = await _wait(worker, due - loop.time())
            try:
                await uninterrupted(run_round(worker, woken=woken))
            except DATABASE_ERRORS as error:
                log.warning("%s: database unavailable: %s", worker.name, _first_line(error))
            except Exception:
                log.exception("%s: round failed", worker.name)
            if not woken:
                due = loop.time() + worker.interval
    finally:
        if worker.lease is not None:
            await worker.lease.release()


async def _wait(worker: Worker, seconds: float) -> bool:
    """Wait ``seconds`` or for a wake-up; True if woken before the time ran out."""
    if seconds <= 0:
        return False
    if worker.wake_up is None:
        await asyncio.sleep(seconds)
        return False
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    await worker.wake_up(seconds)
    return loop.time() + _CLOCK_RESOLUTION < deadline


def _first_line(error: BaseException) -> str:
    # SQLAlchemy appends the statement and a link on further lines; one line is enough.
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@asynccontextmanager
async def running(workers: Iterable[Worker]) -> AsyncIterator[None]:
    """Run every worker in its own task while the block runs; at its end, stop them all
    at once, each after the round it is in, and wait for them."""
    tasks = [asyncio.create_task(run_worker(worker), name=worker.name) for worker in workers]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
