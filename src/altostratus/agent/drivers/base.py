"""The contract between the agent core and a hypervisor driver.

Guarantees every driver gives (checked against every driver by the one suite
``tests/agent/test_driver_conformance.py``):

* **Idempotent.** Starting a running VM, stopping a stopped one, destroying or deleting
  something that is not there all succeed: the core may be handed a command again after
  a management server died, and must not fail where the first attempt succeeded.
* **Truthful power states.** ``power_states`` lists every VM the hypervisor has, named
  by instance name, ``PowerOn`` or ``PowerOff``; the management server reconciles its
  database with it, so a VM a driver forgot would be marked stopped behind its back.
* **Errors are ``DriverError``.** A command the host cannot carry out (rebooting a VM
  that is not running, changing the disks of a VM it does not have, input it refuses)
  fails with one, whose text the job reports. Anything else is a bug; the core still
  answers it as a failed command rather than dying.

What the management server cannot assume of every driver, each declares in its
``capabilities`` (``DriverCapabilities``); the suite skips the checks of a flag a
driver does not claim, naming the flag.

Drivers are async; a driver built on a blocking library runs its calls in a thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

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

__all__ = ["Driver", "DriverCapabilities", "DriverError", "SnapshotResult"]


class DriverError(Exception):
    """The hypervisor refused or failed a command; the text goes back to the job."""


class SnapshotResult(dict[str, object]):
    """``{"path": ..., "size": bytes}`` of a snapshot taken."""


@dataclass(frozen=True)
class DriverCapabilities:
    """Where drivers differ: every driver takes every command, not every one acts on it."""

    #: ``start_vm`` builds a root disk from its volume's ``template_url`` (fetched once
    #: per URL), so a template it cannot fetch fails the start with ``DriverError``.
    #: Without it, template URLs are never looked at.
    fetches_templates: bool
    #: Volumes are disks on the host: ``start_vm`` and ``attach_volume`` create the
    #: missing ones (blank data disks of the volume's size), ``resize_volume`` sets a
    #: disk's size, ``create_snapshot`` copies a disk and answers the copy's size,
    #: ``delete_volume`` and ``destroy_vm`` remove disks; a command that needs a disk
    #: that is not there is a ``DriverError``. Without it, volume and snapshot commands
    #: change nothing and a snapshot's size is 0 (unknown: the server takes the volume's).
    keeps_disks: bool
    #: VMs live in the hypervisor, not in the driver: another driver on the same
    #: hypervisor (the agent restarted) reports them with their power states. Without
    #: it, a new driver knows only the VMs it is built with (the simulator fleet rebuilds
    #: them from the database when it takes over).
    persistent: bool


class Driver(Protocol):
    """A hypervisor, as the agent core drives it.

    Methods that only read, called at any time (``power_states`` on every heartbeat):

        * :meth:`facts`: what the host offers, for registration: ``name`` as given,
          ``hypervisor`` the driver's, CPU count, MHz per core and memory (all
          positive) and the hypervisor's version.
        * :meth:`power_states`: instance name → ``PowerOn``/``PowerOff`` for every VM
          on the hypervisor, the ones this driver did not start included.
        * :meth:`user_data`: the user data (base64, as ``StartVm`` carried it) the
          guest reads from its metadata, as its last start defined it; ``None`` for a
          VM without any or unknown. It is where a guest's cloud-init finds it.

    VM commands that are idempotent, and leave what ``power_states`` then reports:

        * :meth:`start_vm`: defines the VM from the command if it is not running
          (fetching its template, if ``fetches_templates``) and powers it on; a running
          VM is left as it is. ``PowerOn`` afterwards.
        * :meth:`stop_vm`: powers the VM off (``forced``: at once, else the guest may
          shut down first). ``PowerOff`` afterwards: a stopped VM stays defined until
          destroyed. Stopping a stopped or unknown VM does nothing.
        * :meth:`destroy_vm`: powers off, undefines, and deletes the listed volumes'
          disks; the VM is no longer reported. An unknown VM or disk is no error.

    Commands on a VM that must be there (``DriverError`` when it is not):

        * :meth:`reboot_vm`: reboots a running VM; a stopped or unknown one is an error.
        * :meth:`scale_vm`: gives a running VM the command's vCPUs and memory, live; a
          stopped or unknown VM, or more than the maxima its ``StartVm`` gave it
          (``max_cpu_number``, ``max_memory_mb``; none: its size then), is an error.
        * :meth:`attach_volume`, :meth:`detach_volume`: add the volume's disk to, or
          remove it from, the VM named by ``instance_name`` (nothing to do without
          one); attaching an attached disk or detaching a detached one does nothing.

    VM snapshots, of a VM that must be there (``DriverError`` when it is not):

        * :meth:`create_vm_snapshot`: snapshots the VM under ``snapshot_name`` (with
          its memory if ``memory`` and it runs); a name taken already does nothing.
        * :meth:`revert_vm_snapshot`: puts the VM back as the snapshot has it: running
          for a memory snapshot, stopped for a disk-only one; an unknown snapshot is an
          error.
        * :meth:`delete_vm_snapshot`: deletes it; a missing one is no error.

    Volume and snapshot commands, which act on disks only if ``keeps_disks``:

        * :meth:`resize_volume`: sets the volume's size, growing or shrinking it (the
          server has checked that shrinking was asked for).
        * :meth:`delete_volume`: deletes the volume's disk; a missing one is no error.
        * :meth:`create_snapshot`: copies the volume, answering ``path`` and ``size``;
          a snapshot uuid taken already is answered as the first time.
        * :meth:`delete_snapshot`: deletes the copy; a missing one is no error.

    And :meth:`close`, releasing the hypervisor connection when the agent ends.
    """

    #: The hypervisor type the host registers with (``KVM``, ``Simulator``).
    hypervisor: str
    capabilities: DriverCapabilities

    async def facts(self, name: str) -> HostFacts: ...

    async def power_states(self) -> dict[str, str]: ...

    async def user_data(self, instance_name: str) -> str | None: ...

    async def start_vm(self, command: StartVm) -> None: ...

    async def stop_vm(self, command: StopVm) -> None: ...

    async def reboot_vm(self, command: RebootVm) -> None: ...

    async def scale_vm(self, command: ScaleVm) -> None: ...

    async def destroy_vm(self, command: DestroyVm) -> None: ...

    async def create_vm_snapshot(self, command: VmSnapshotCommand) -> None: ...

    async def revert_vm_snapshot(self, command: VmSnapshotCommand) -> None: ...

    async def delete_vm_snapshot(self, command: VmSnapshotCommand) -> None: ...

    async def attach_volume(self, command: VolumeCommand) -> None: ...

    async def detach_volume(self, command: VolumeCommand) -> None: ...

    async def resize_volume(self, command: VolumeCommand) -> None: ...

    async def delete_volume(self, command: VolumeCommand) -> None: ...

    async def create_snapshot(self, command: SnapshotVolume) -> SnapshotResult: ...

    async def delete_snapshot(self, command: SnapshotVolume) -> None: ...

    async def close(self) -> None: ...
