"""A simulated hypervisor: VMs are names in a set, commands take a settable latency.

It behaves like a host as the management server sees it: VMs it started report
``PowerOn`` until stopped, a stopped VM stays defined (``PowerOff``) until destroyed,
and every command takes ``latency`` seconds. It keeps no disks and fetches no
templates, but it does know its VMs (and the user data their guests would read):
rebooting one that is not running, or changing the disks of one it does not have,
fails as on a real host, so the server's handling of such failures is exercised too.
Many of them run in one process (``services.agents.simulator_fleet``), so it holds
nothing heavier than two sets and a dict.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from altostratus.agent.drivers.base import DriverCapabilities, DriverError, SnapshotResult
from altostratus.agent.protocol import (
    DestroyVm,
    HostFacts,
    RebootVm,
    ScaleVm,
    SnapshotVolume,
    StartVm,
    StopVm,
    VmSnapshotCommand,
    VolumeCommand,
)

__all__ = ["SimulatorDriver"]

_VERSION = "simulator-1"


class SimulatorDriver:
    hypervisor = "Simulator"
    capabilities = DriverCapabilities(fetches_templates=False, keeps_disks=False, persistent=False)

    def __init__(
        self,
        *,
        cpu_number: int = 4,
        cpu_speed: int = 2000,
        memory_mb: int = 8192,
        latency: float = 0.0,
        running: Iterable[str] = (),
    ) -> None:
        self.cpu_number = cpu_number
        self.cpu_speed = cpu_speed
        self.memory_mb = memory_mb
        #: Seconds every command takes; the server's simulator fleet updates it from the
        #: host's details.
        self.latency = latency
        self.running: set[str] = set(running)
        self.defined: set[str] = set(self.running)
        #: What each defined VM's guest reads as its user data (the metadata service).
        self.metadata: dict[str, str | None] = {}
        #: Each defined VM's (vCPUs, memory MB) and the most it may be scaled to.
        self.sizes: dict[str, tuple[int, int]] = {}
        self._maxima: dict[str, tuple[int, int]] = {}
        #: Each VM's snapshots: name → whether reverting leaves it running.
        self.vm_snapshots: dict[str, dict[str, bool]] = {}
        #: How many commands actually ran (tests check that redelivery runs nothing twice).
        self.executed = 0

    async def _work(self) -> None:
        self.executed += 1
        if self.latency > 0:
            await asyncio.sleep(self.latency)

    def _need(self, instance_name: str) -> None:
        if instance_name not in self.defined:
            raise DriverError(f"no VM {instance_name} on this host")

    async def facts(self, name: str) -> HostFacts:
        return HostFacts(
            name=name,
            hypervisor=self.hypervisor,
            cpu_number=self.cpu_number,
            cpu_speed=self.cpu_speed,
            memory_mb=self.memory_mb,
            hypervisor_version=_VERSION,
        )

    async def power_states(self) -> dict[str, str]:
        return {name: "PowerOn" if name in self.running else "PowerOff" for name in self.defined}

    async def user_data(self, instance_name: str) -> str | None:
        return self.metadata.get(instance_name)

    async def start_vm(self, command: StartVm) -> None:
        await self._work()
        name = command.instance_name
        if name not in self.running:  # a running VM keeps its definition
            self.metadata[name] = command.user_data
            self.sizes[name] = (command.cpu_number, command.memory_mb)
            self._maxima[name] = (
                command.max_cpu_number or command.cpu_number,
                command.max_memory_mb or command.memory_mb,
            )
        self.defined.add(command.instance_name)
        self.running.add(command.instance_name)

    async def stop_vm(self, command: StopVm) -> None:
        await self._work()
        self.running.discard(command.instance_name)

    async def reboot_vm(self, command: RebootVm) -> None:
        await self._work()
        self._need(command.instance_name)
        if command.instance_name not in self.running:
            raise DriverError(f"VM {command.instance_name} is not running")

    async def scale_vm(self, command: ScaleVm) -> None:
        await self._work()
        name = command.instance_name
        self._need(name)
        if name not in self.running:
            raise DriverError(f"VM {name} is not running")
        max_cpu, max_memory = self._maxima.get(name, self.sizes.get(name, (0, 0)))
        if command.cpu_number > max_cpu or command.memory_mb > max_memory:
            raise DriverError(
                f"VM {name} may grow to {max_cpu} vCPUs and {max_memory} MB, "
                f"not {command.cpu_number} and {command.memory_mb}"
            )
        self.sizes[name] = (command.cpu_number, command.memory_mb)

    async def create_vm_snapshot(self, command: VmSnapshotCommand) -> None:
        await self._work()
        name = command.instance_name
        self._need(name)
        taken = self.vm_snapshots.setdefault(name, {})
        taken.setdefault(command.snapshot_name, command.memory and name in self.running)

    async def revert_vm_snapshot(self, command: VmSnapshotCommand) -> None:
        await self._work()
        name = command.instance_name
        self._need(name)
        taken = self.vm_snapshots.get(name, {})
        if command.snapshot_name not in taken:
            raise DriverError(f"VM {name} has no snapshot {command.snapshot_name}")
        if taken[command.snapshot_name]:
            self.running.add(name)
        else:
            self.running.discard(name)

    async def delete_vm_snapshot(self, command: VmSnapshotCommand) -> None:
        await self._work()
        self._need(command.instance_name)
        self.vm_snapshots.get(command.instance_name, {}).pop(command.snapshot_name, None)

    async def destroy_vm(self, command: DestroyVm) -> None:
        await self._work()
        self.running.discard(command.instance_name)
        self.defined.discard(command.instance_name)
        self.metadata.pop(command.instance_name, None)
        self.sizes.pop(command.instance_name, None)
        self._maxima.pop(command.instance_name, None)
        self.vm_snapshots.pop(command.instance_name, None)

    async def attach_volume(self, command: VolumeCommand) -> None:
        await self._work()
        if command.instance_name is not None:
            self._need(command.instance_name)

    async def detach_volume(self, command: VolumeCommand) -> None:
        await self._work()
        if command.instance_name is not None:
            self._need(command.instance_name)

    async def resize_volume(self, command: VolumeCommand) -> None:
        await self._work()

    async def delete_volume(self, command: VolumeCommand) -> None:
        await self._work()

    async def create_snapshot(self, command: SnapshotVolume) -> SnapshotResult:
        await self._work()
        return SnapshotResult(
            path=f"snapshots/{command.volume_uuid}/{command.snapshot_uuid}", size=0
        )

    async def delete_snapshot(self, command: SnapshotVolume) -> None:
        await self._work()

    async def close(self) -> None:
        return None
