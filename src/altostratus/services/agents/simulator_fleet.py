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
import logging
from dataclasses import dataclass

import orjson
from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.agent.core import AgentCore
from altostratus.agent.drivers.simulator import SimulatorDriver
from altostratus.agent.protocol import Answer, Delivery
from altostratus.core.context import Dependencies
from altostratus.core.leases import hold_lease, release_lease, uninterrupted
from altostratus.db.engine import Database
from altostratus.db.failover import DATABASE_ERRORS
from altostratus.db.models import Host, VirtualMachine
from altostratus.db.models.compute import VmState
from altostratus.db.models.inventory import Hypervisor
from altostratus.services.agents import link as agent_link

__all__ = ["LEASE", "SimulatorFleet", "simulated_hosts"]

log = logging.getLogger(__name__)

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


@dataclass
class _Tick:
    hosts: int = 0
    came_up: int = 0
    reconciled: int = 0
    held: bool = True

    def __str__(self) -> str:
        if not self.held:
            return "another server holds the simulator lease"
        return (
            f"heartbeat of {self.hosts} simulated hosts: {self.came_up} came Up, "
            f"{self.reconciled} reported new power states"
        )


class SimulatorFleet:
    def __init__(self, db: Database, deps: Dependencies) -> None:
        self._db = db
        self._deps = deps
        self._hosts: dict[int, _SimHost] = {}
        self._holding = False
        self._ticks = 0
        self._answers: asyncio.Queue[Answer] = asyncio.Queue()
        self._executing: set[asyncio.Task[None]] = set()
        settings = deps.settings
        self._interval = settings.heartbeat_interval
        self._lease_seconds = max(3 * settings.heartbeat_interval, 1.0)
        self._delivery_poll = min(settings.heartbeat_interval, 0.5)

    @property
    def holding(self) -> bool:
        return self._holding

    def driver_of(self, host_id: int) -> SimulatorDriver | None:
        """The simulated hypervisor of a host (tests look inside it)."""
        sim = self._hosts.get(host_id)
        return sim.driver if sim else None

    async def run(self) -> None:
        """Heartbeat, deliver and answer until cancelled; then let another server take over."""
        tasks = [
            asyncio.create_task(self._heartbeats(), name="simulator heartbeats"),
            asyncio.create_task(self._deliveries(), name="simulator deliveries"),
            asyncio.create_task(self._answering(), name="simulator answers"),
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in [*tasks, *self._executing]:
                task.cancel()
            await asyncio.gather(*tasks, *self._executing, return_exceptions=True)
            if self._holding:
                with contextlib.suppress(*DATABASE_ERRORS):
                    async with self._db.transaction() as session:
                        await release_lease(session, LEASE, self._deps.server_id)

    async def _heartbeats(self) -> None:
        while True:
            try:
                log.debug("%s", await uninterrupted(self.run_once()))
            except DATABASE_ERRORS:
                log.warning("simulator heartbeat failed: database unavailable")
                self._lose()
            await asyncio.sleep(self._interval)

    async def run_once(self) -> _Tick:
        """One heartbeat of every simulated host, if this server holds the lease."""
        self._ticks += 1
        full = self._ticks % _FULL_REPORT_EVERY == 0
        async with self._db.transaction() as session:
            if not await hold_lease(session, LEASE, self._deps.server_id, self._lease_seconds):
                self._lose()
                return _Tick(held=False)
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
        return _Tick(hosts=len(self._hosts), came_up=came_up, reconciled=len(reports))

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

    async def _deliveries(self) -> None:
        while True:
            if self._holding:
                try:
                    await uninterrupted(self.deliver_once())
                except DATABASE_ERRORS:
                    log.warning("simulator cannot fetch commands: database unavailable")
            await self._deps.signals.wait_for_commands(self._delivery_poll)

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
        await self._answers.put(await core.execute(delivery))

    async def _answering(self) -> None:
        """Record answers in batches: one transaction for all that finished meanwhile."""
        while True:
            batch = [await self._answers.get()]
            while not self._answers.empty():
                batch.append(self._answers.get_nowait())
            while True:
                try:
                    finished = await uninterrupted(self._record(batch))
                    break
                except DATABASE_ERRORS:
                    log.warning("cannot record %d answers; retrying", len(batch))
                    await asyncio.sleep(self._interval)
            self._deps.signals.commands_finished(finished)

    async def _record(self, answers: list[Answer]) -> list[str]:
        async with self._db.transaction() as session:
            return await agent_link.record_answers(session, answers, simulated_hosts())


def _latency(details: str | None) -> float:
    if not details:
        return 0.0
    value = orjson.loads(details).get("latency_ms", 0)
    return max(float(value), 0.0) / 1000
