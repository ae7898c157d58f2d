"""The contract between the agent core and a hypervisor driver.

Guarantees every driver gives (checked by ``tests/agent/test_driver_conformance.py``):

* **Idempotent.** Starting a running VM, stopping a stopped one, destroying or deleting
  something that is not there all succeed: the core may be handed a command again after
  a management server died, and must not fail where the first attempt succeeded.
* **Truthful power states.** ``power_states`` lists every VM the hypervisor has, named
  by instance name, ``PowerOn`` or ``PowerOff``; the management server reconciles its
  database with it.
* **Errors are ``DriverError``.** Anything else is a bug; the core still answers it as
  a failed command rather than dying.

Drivers are async; a driver built on a blocking library runs its calls in a thread.
"""

from __future__ import annotations

from typing import Protocol

from altostratus.agent.protocol import (
    DestroyVm,
    HostFacts,
    RebootVm,
    SnapshotVolume,
    StartVm,
    StopVm,
    VolumeCommand,
)

__all__ = ["Driver", "DriverError", "SnapshotResult"]


class DriverError(Exception):
    """The hypervisor refused or failed a command; the text goes back to the job."""


class SnapshotResult(dict[str, object]):
    """``{"path": ..., "size": bytes}`` of a snapshot taken."""


class Driver(Protocol):
    #: The hypervisor type the host registers with (``KVM``, ``Simulator``).
    hypervisor: str

    async def facts(self, name: str) -> HostFacts:
        """What the host offers (CPU, memory, versions), named ``name``."""
        ...

    async def power_states(self) -> dict[str, str]:
        """instance name → ``PowerOn``/``PowerOff`` for every VM on the hypervisor."""
        ...

    async def start_vm(self, command: StartVm) -> None:
        """Define the VM if needed (fetching its template) and power it on."""
        ...

    async def stop_vm(self, command: StopVm) -> None:
        """Power the VM off (``forced``: at once); it stays defined."""
        ...

    async def reboot_vm(self, command: RebootVm) -> None: ...

    async def destroy_vm(self, command: DestroyVm) -> None:
        """Power off, undefine, and delete the listed volumes' disks."""
        ...

    async def attach_volume(self, command: VolumeCommand) -> None: ...

    async def detach_volume(self, command: VolumeCommand) -> None: ...

    async def resize_volume(self, command: VolumeCommand) -> None: ...

    async def delete_volume(self, command: VolumeCommand) -> None: ...

    async def create_snapshot(self, command: SnapshotVolume) -> SnapshotResult: ...

    async def delete_snapshot(self, command: SnapshotVolume) -> None: ...

    async def close(self) -> None:
        """Release the hypervisor connection."""
        ...
