"""The agent's safety belts: disk leases, the storage heartbeat, the ledger, neighbour checks.

The management server decides where a VM runs; these make a wrong decision harmless.
The core runs every start and stop through them, whatever the driver:

* a start first leases all of the VM's disks on the shared storage
  (``SharedStorage.acquire``); a disk another host holds, live, refuses the start with
  a ``DriverError`` naming the disk and the holder, and nothing is started;
* a stop or destroy gives the leases back once the driver stopped the VM;
* every ``heartbeat_interval`` (``keep_alive``; one round is ``beat``) the agent
  writes its storage heartbeat and renews the leases of its VMs; a VM the hypervisor
  no longer runs (its guest shut down, it crashed) has its leases given back, and one
  whose lease another host took (this host was cut off longer than the TTL, and the VM
  was restarted elsewhere) is powered off here, as sanlock would;
* the ledger, when there is one, records each start before it and each stop after it;
* ``check_host`` answers a neighbour check (``CheckHost``) about another host.

An agent that restarts finds its own leases on the storage: those of VMs its hypervisor
still runs (persistent drivers) it keeps, the others it gives back; a VM still running
whose disk another host has leased meanwhile it powers off.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from altostratus.agent.drivers.base import Driver, DriverError
from altostratus.agent.ledger import Action, Ledger
from altostratus.agent.probe import probe
from altostratus.agent.protocol import CheckHost, HostCheck, StartVm, StopVm
from altostratus.agent.shared_storage import Lease, SharedStorage

__all__ = ["SafetyBelts"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class _Held:
    """The disks leased for one start of a VM (a new start is a new object)."""

    volume_uuids: frozenset[str]


class SafetyBelts:
    """The belts of one host; without storage or ledger, the ones that need them do nothing."""

    def __init__(
        self,
        driver: Driver,
        host_name: str | None = None,
        *,
        storage: SharedStorage | None = None,
        ledger: Ledger | None = None,
    ) -> None:
        if host_name is None and (storage is not None or ledger is not None):
            raise ValueError("leases and the ledger need the host's name")
        self.driver = driver
        self.host_name = host_name or ""
        self.storage = storage
        self.ledger = ledger
        self._held: dict[str, _Held] = {}
        #: Instances with a start or stop under way: their power state is changing.
        self._busy: set[str] = set()
        self._adopting = asyncio.Lock()
        self._adopted = False

    async def start(self, command: StartVm, run: Callable[[], Awaitable[None]]) -> None:
        """Lease the VM's disks, record the start, then ``run`` the driver's start."""
        name = command.instance_name
        uuids = frozenset(volume.uuid for volume in command.volumes)
        self._busy.add(name)
        try:
            try:
                await self._adopt()
                if self.storage is not None:
                    await asyncio.to_thread(self.storage.acquire, self.host_name, name, uuids)
            except OSError as error:  # no lease, no start
                raise DriverError(f"cannot lease the disks of {name}: {error}") from error
            if self.storage is not None:
                known = self._held.get(name)
                self._held[name] = _Held(uuids | (known.volume_uuids if known else frozenset()))
            await self._record(name, Action.START)
            try:
                await run()
            except Exception:
                if (await self.driver.power_states()).get(name) != "PowerOn":
                    await self._ended(name)
                raise
        finally:
            self._busy.discard(name)

    async def stop(self, instance_name: str, run: Callable[[], Awaitable[None]]) -> None:
        """``run`` the driver's stop or destroy, then give the leases back and record it."""
        self._busy.add(instance_name)
        try:
            await self._adopt()
            await run()
            await self._ended(instance_name)
        finally:
            self._busy.discard(instance_name)

    async def keep_alive(self) -> None:
        """``beat`` every heartbeat interval, until cancelled (at once without storage)."""
        storage = self.storage
        if storage is None:
            return
        while True:
            try:
                await self.beat()
            except OSError as error:
                log.warning("host %s: shared storage %s: %s", self.host_name, storage.root, error)
            except Exception:  # a belt that failed once must not end the agent
                log.exception("host %s: renewing disk leases failed", self.host_name)
            await asyncio.sleep(storage.heartbeat_interval)

    async def beat(self) -> None:
        """Write the storage heartbeat and renew the leases of the VMs still running."""
        storage = self.storage
        if storage is None:
            return
        await self._adopt()
        await asyncio.to_thread(storage.write_heartbeat, self.host_name)
        await self._renew(storage)

    async def check_host(self, command: CheckHost) -> HostCheck:
        """What this host sees of another: its probe listener, storage heartbeat, disks."""
        reachable = (
            None
            if command.probe_address is None
            else await probe(command.probe_address, command.host_name)
        )
        storage = self.storage
        if storage is None:
            return HostCheck(reachable=reachable)
        heartbeat_age = await asyncio.to_thread(storage.heartbeat_age, command.host_name)
        activity_age = await asyncio.to_thread(storage.disk_activity_age, command.volume_uuids)
        return HostCheck(
            reachable=reachable, heartbeat_age=heartbeat_age, disk_activity_age=activity_age
        )

    async def _renew(self, storage: SharedStorage) -> None:
        """Renew the leases of VMs still running; give back or power off the others."""
        settled = {name: held for name, held in self._held.items() if name not in self._busy}
        states = await self.driver.power_states()
        for name, held in list(self._held.items()):
            if settled.get(name) is held and states.get(name) != "PowerOn":
                log.info("host %s: VM %s is no longer running", self.host_name, name)
                await self._ended(name)
                continue
            lost = await asyncio.to_thread(storage.renew, self.host_name, name, held.volume_uuids)
            if lost and self._held.get(name) is held:
                await self._lost(name, lost[0])

    async def _lost(self, name: str, taken: Lease) -> None:
        """Another host took a disk of the VM: it may run there now, so not here too."""
        log.error(
            "host %s: disk %s of VM %s is leased by host %s now: powering the VM off",
            self.host_name,
            taken.volume_uuid,
            name,
            taken.host,
        )
        await self.driver.stop_vm(StopVm(instance_name=name, forced=True))
        await self._ended(name)

    async def _ended(self, name: str) -> None:
        """The VM is not running here (any more): its leases go back, the ledger says so."""
        held = self._held.pop(name, None)
        if self.storage is not None and held is not None:
            await asyncio.to_thread(self.storage.release, self.host_name, held.volume_uuids)
        await self._record(name, Action.STOP)

    async def _record(self, name: str, action: Action) -> None:
        if self.ledger is not None:
            await asyncio.to_thread(self.ledger.record, self.host_name, name, action)

    async def _adopt(self) -> None:
        """Once: take over the leases this host held before the agent (re)started.

        A VM the hypervisor still runs keeps its leases; the others' go back. A running
        VM whose disk another host leases now was restarted there while this agent was
        away: it is powered off here.
        """
        storage = self.storage
        if storage is None or self._adopted:
            return
        async with self._adopting:
            if self._adopted:
                return
            leases = await asyncio.to_thread(storage.leases)
            states = await self.driver.power_states()
            running = {name for name, state in states.items() if state == "PowerOn"}
            mine = _by_instance(
                (lease.instance, lease.volume_uuid)
                for lease in leases
                if lease.host == self.host_name
            )
            for name, uuids in mine.items():
                if name in running:
                    self._held[name] = _Held(uuids)
                    log.info("host %s: keeping the disk leases of VM %s", self.host_name, name)
                else:
                    await asyncio.to_thread(storage.release, self.host_name, uuids)
                    await self._record(name, Action.STOP)
            for lease in leases:
                if lease.host != self.host_name and lease.instance in running:
                    running.discard(lease.instance)
                    await self._lost(lease.instance, lease)
            self._adopted = True


def _by_instance(pairs: Iterable[tuple[str, str]]) -> dict[str, frozenset[str]]:
    grouped: dict[str, set[str]] = {}
    for instance, uuid in pairs:
        grouped.setdefault(instance, set()).add(uuid)
    return {instance: frozenset(uuids) for instance, uuids in grouped.items()}
