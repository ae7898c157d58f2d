"""The in-process simulator: drives every ``sim://NAME`` host of the region.

One management server of the region holds the ``simulator`` lease and plays the agents
of all simulated hosts: one batched heartbeat transaction per ``heartbeat_interval``
for all of them (it must carry 10,000 hosts), and the delivery of their commands
through an ``AgentCore`` per host, so they are executed exactly like a real agent's.

A real hypervisor keeps its VMs when the management server that drove it dies, so
when a server takes the lease it rebuilds each host's running VMs from the database:
VMs ``Starting``, ``Running`` or ``Stopping`` with that host are running there.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import orjson
from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.agent.core import AgentCore
from altostratus.agent.drivers.simulator import SimulatorDriver
from altostratus.agent.protocol import Answer, Delivery
from altostratus.core.context import Dependencies
from altostratus.core.leases import hold_lease, release_lease
from altostratus.core.signals import Signals
from altostratus.core.worker import Tick, Worker
from altostratus.db.engine import Database
from altostratus.db.failover import DATABASE_ERRORS
from altostratus.db.models import Host, VirtualMachine
from altostratus.db.models.compute import VmState
from altostratus.db.models.inventory import Hypervisor
from altostratus.services.agents import link as agent_link

__all__ = ["LEASE", "SimulatorFleet", "simulated_hosts"]

LEASE = "simulator"
#: Every this many heartbeats, every host reports its power states even if unchanged.
_FULL_REPORT_EVERY = 12
_ON_HYPERVISOR = (VmState.STARTING, VmState.RUNNING, VmState.STOPPING)


def simulated_hosts() -> ColumnElement[bool]:
    """The hosts the fleet plays the agent of."""
    return and_(
        Host.hypervisor == Hypervisor.SIMULATOR,
        Host.url.startswith("sim://"),
        Host.removed.is_(None),
    )


@dataclass
class _SimHost:
    core: AgentCore
    driver: SimulatorDriver
    #: Power states last sent; ``None`` before the first heartbeat.
    reported: dict[str, str] | None = None
    details: str | None = None


@dataclass(frozen=True)
class _Heartbeat:
    hosts: int = 0
    came_up: int = 0
    reconciled: int = 0
    held: bool = True
    took_over: bool = False

    def __str__(self) -> str:
        if not self.held:
            return "another server holds the simulator lease"
        sentence = (
            f"heartbeat of {self.hosts} simulated hosts: {self.came_up} came Up, "
            f"{self.reconciled} reported new power states"
        )
        return f"took the simulator lease over; {sentence}" if self.took_over else sentence


class SimulatorFleet:
    """Three workers (``core.worker``): the fleet itself heartbeats, under the lease it
    renews in the heartbeat's transaction; ``deliveries`` and ``answers`` carry the
    commands while it holds the lease. ``stop()`` once the runner stopped all three."""

    name = "simulator-heartbeats"
    lease = None
    wake_up = None
    run_at_start = True

    def __init__(self, db: Database, deps: Dependencies) -> None:
        self._db = db
        self._deps = deps
        self._hosts: dict[int, _SimHost] = {}
        self._holding = False
        self._ticks = 0
        self._executing: set[asyncio.Task[None]] = set()
        settings = deps.settings
        self.interval = settings.heartbeat_interval
        self._lease_seconds = max(3 * settings.heartbeat_interval, 1.0)
        self.deliveries = _Deliveries(
            self, deps.signals, poll=min(settings.heartbeat_interval, 0.5)
        )
        self.answers = _Answers(db, deps.signals, retry_after=settings.heartbeat_interval)

    @property
    def holding(self) -> bool:
        return self._holding

    def driver_of(self, host_id: int) -> SimulatorDriver | None:
        """The simulated hypervisor of a host (tests look inside it)."""
        sim = self._hosts.get(host_id)
        return sim.driver if sim else None

    def workers(self) -> list[Worker]:
        return [self, self.deliveries, self.answers]

    async def stop(self) -> None:
        """End the commands in progress and let another server take over at once."""
        executing = list(self._executing)
        for task in executing:
            task.cancel()
        await asyncio.gather(*executing, return_exceptions=True)
        if self._holding:
            with contextlib.suppress(*DATABASE_ERRORS):
                async with self._db.transaction() as session:
                    await release_lease(session, LEASE, self._deps.server_id)

    async def tick(self) -> Tick:
        beat = await self.run_once()
        return Tick(str(beat), changed=beat.took_over or beat.came_up > 0)

    async def run_once(self) -> _Heartbeat:
        """One heartbeat of every simulated host, if this server holds the lease."""
        try:
            return await self._heartbeat()
        except DATABASE_ERRORS:
            # Unsure whether the lease was renewed: whoever holds it next rebuilds.
            self._lose()
            raise

    async def _heartbeat(self) -> _Heartbeat:
        self._ticks += 1
        full = self._ticks % _FULL_REPORT_EVERY == 0
        async with self._db.transaction() as session:
            if not await hold_lease(session, LEASE, self._deps.server_id, self._lease_seconds):
                self._lose()
                return _Heartbeat(held=False)
            taking_over = not self._holding
            self._holding = True
            await self._sync_hosts(session)
            if taking_over:
                # What the previous holder was handed died with it: deliver it again now.
                await agent_link.requeue_sent(session, simulated_hosts())
            reports: dict[int, dict[str, str]] = {}
            for host_id, sim in self._hosts.items():
                states = await sim.core.power_states()
                if full or states != sim.reported:
                    reports[host_id] = states
            came_up = await agent_link.heartbeat(session, self._deps, simulated_hosts(), reports)
        for host_id, states in reports.items():
            self._hosts[host_id].reported = states
        return _Heartbeat(
            hosts=len(self._hosts),
            came_up=came_up,
            reconciled=len(reports),
            took_over=taking_over,
        )

    def _lose(self) -> None:
        """Forget the hosts: whoever holds the lease next rebuilds them from the database."""
        self._holding = False
        self._hosts.clear()

    async def _sync_hosts(self, session: AsyncSession) -> None:
        rows = (
            await session.execute(
                select(
                    Host.id, Host.cpu_number, Host.cpu_speed, Host.memory_mb, Host.details
                ).where(simulated_hosts())
            )
        ).all()
        present = {row.id for row in rows}
        for gone in set(self._hosts) - present:
            del self._hosts[gone]
        new = [row for row in rows if row.id not in self._hosts]
        running: dict[int, list[str]] = {}
        if new:
            for host_id, instance_name in await session.execute(
                select(VirtualMachine.host_id, VirtualMachine.instance_name).where(
                    VirtualMachine.host_id.in_([row.id for row in new]),
                    VirtualMachine.state.in_(_ON_HYPERVISOR),
                    VirtualMachine.removed.is_(None),
                )
            ):
                if host_id is not None:
                    running.setdefault(host_id, []).append(instance_name)
        for row in new:
            driver = SimulatorDriver(
                cpu_number=row.cpu_number,
                cpu_speed=row.cpu_speed,
                memory_mb=row.memory_mb,
                running=running.get(row.id, ()),
            )
            self._hosts[row.id] = _SimHost(AgentCore(driver), driver)
        for row in rows:
            sim = self._hosts[row.id]
            if row.details != sim.details:
                sim.details = row.details
                sim.driver.latency = _latency(row.details)

    async def deliver_once(self) -> int:
        """Hand the simulated hosts' deliverable commands to their cores; how many."""
        async with self._db.transaction(write=False) as session:
            if not await agent_link.has_deliverable(
                session, self._deps.settings, simulated_hosts()
            ):
                return 0
        async with self._db.transaction() as session:
            taken = await agent_link.take_commands(session, self._deps.settings, simulated_hosts())
            if any(host_id not in self._hosts for host_id, _ in taken):
                await self._sync_hosts(session)
        for host_id, delivery in taken:
            sim = self._hosts.get(host_id)
            if sim is None:
                continue  # removed meanwhile; the command is failed with the host
            task = asyncio.create_task(self._execute(sim.core, delivery))
            self._executing.add(task)
            task.add_done_callback(self._executing.discard)
        return len(taken)

    async def _execute(self, core: AgentCore, delivery: Delivery) -> None:
        self.answers.add(await core.execute(delivery))


class _Deliveries:
    """Hands the simulated hosts their commands as soon as they are queued."""

    name = "simulator-deliveries"
    lease = None
    run_at_start = True

    def __init__(self, fleet: SimulatorFleet, signals: Signals, *, poll: float) -> None:
        self._fleet = fleet
        self.interval = poll
        self.wake_up = signals.wait_for_commands

    async def tick(self) -> Tick:
        if not self._fleet.holding:
            return Tick("this server does not hold the simulator lease")
        taken = await self._fleet.deliver_once()
        return Tick(f"handed {taken} commands to simulated hosts", changed=taken > 0)


class _Answers:
    """Records answers in batches: one transaction for all that finished meanwhile."""

    name = "simulator-answers"
    lease = None
    run_at_start = False

    def __init__(self, db: Database, signals: Signals, *, retry_after: float) -> None:
        self._db = db
        self._signals = signals
        self.interval = retry_after
        self._arrived: list[Answer] = []
        self._unrecorded: list[Answer] = []
        self._event = asyncio.Event()

    def add(self, answer: Answer) -> None:
        self._arrived.append(answer)
        self._event.set()

    async def wake_up(self, seconds: float) -> None:
        if self._unrecorded:  # the database failed the last batch: retry on the timer
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._event.wait()

    async def tick(self) -> Tick:
        self._event.clear()
        self._unrecorded += self._arrived
        self._arrived = []
        if not self._unrecorded:
            return Tick("no answers to record")
        async with self._db.transaction() as session:
            finished = await agent_link.record_answers(session, self._unrecorded, simulated_hosts())
        recorded, self._unrecorded = len(self._unrecorded), []
        self._signals.commands_finished(finished)
        return Tick(f"recorded {recorded} answers", changed=True)


def _latency(details: str | None) -> float:
    if not details:
        return 0.0
    value = orjson.loads(details).get("latency_ms", 0)
    return max(float(value), 0.0) / 1000
