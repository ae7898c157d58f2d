"""The libvirt driver: real VMs through libvirt-python (KVM/QEMU, or ``test:///default``).

One connection stays open for the agent's life: a ``test:///default`` hypervisor lives
only while a connection to it is open (the ones opened meanwhile share it), and on
``qemu:///system`` reconnecting per call is waste.
libvirt calls block, so they run on one worker thread, one at a time.

Disks are files under ``storage_dir``: ``templates/`` is a cache of fetched templates
(http(s) or file:// URLs, named by a hash of the URL), ``volumes/<uuid>`` the VMs'
disks (a root disk starts as a copy of its template, a data disk as a sparse raw
file), ``snapshots/<uuid>`` copies of volumes. A stopped VM is defined again from each
``StartVm``: disks attached or detached while it was stopped reach only the database.
Resizing sets a raw disk's length (a running guest sees it at its next start); a qcow2
disk is refused, since lengthening its file would not grow the disk inside.

A VM's user data is in its domain's ``<metadata>``, in an element of our namespace
(``GUEST_METADATA``): where a metadata service or config-drive builder on the host
reads it for the guest's cloud-init (``virsh metadata <vm> GUEST_METADATA``).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit
from urllib.request import url2pathname
from xml.etree import ElementTree
from xml.sax.saxutils import escape, quoteattr

import httpx
import libvirt

from altostratus.agent.drivers.base import DriverCapabilities, DriverError, SnapshotResult
from altostratus.agent.protocol import (
    DestroyVm,
    HostFacts,
    NicSpec,
    RebootVm,
    ScaleVm,
    SnapshotVolume,
    StartVm,
    StopVm,
    VmSnapshotCommand,
    VolumeCommand,
    VolumeSpec,
)

__all__ = ["GUEST_METADATA", "LibvirtDriver"]

T = TypeVar("T")

#: libvirt's ``virDomainModificationImpact``: the persistent definition, and the live VM.
_AFFECT_LIVE, _AFFECT_CONFIG = 1, 2
#: The XML namespace of the domain metadata the driver writes for the guest.
GUEST_METADATA = "https://altostratus.dev/xmlns/guest/1"
#: How a qcow2 image starts; growing its file would not grow the disk the guest sees.
_QCOW2_MAGIC = b"QFI\xfb"


class LibvirtDriver:
    hypervisor = "KVM"
    capabilities = DriverCapabilities(fetches_templates=True, keeps_disks=True, persistent=True)

    def __init__(
        self,
        uri: str,
        storage_dir: Path,
        *,
        network: str = "default",
        shutdown_timeout: float = 60.0,
    ) -> None:
        self.uri = uri
        self.storage_dir = storage_dir
        self.network = network
        self.shutdown_timeout = shutdown_timeout
        for sub in ("templates", "volumes", "snapshots"):
            (storage_dir / sub).mkdir(parents=True, exist_ok=True)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="libvirt")
        # Errors reach the caller as exceptions; libvirt need not also print them.
        libvirt.registerErrorHandler(lambda _context, _error: None, None)
        try:
            self._conn = libvirt.open(uri)
        except libvirt.libvirtError as error:
            raise DriverError(f"cannot connect to {uri}: {error}") from error
        #: ``test`` for libvirt's test driver, else ``kvm``.
        self._domain_type = "test" if self._conn.getType().lower() == "test" else "kvm"
        self._fetching: dict[str, asyncio.Lock] = {}

    async def _call(self, action: Callable[[], T]) -> T:
        """Run a blocking libvirt or file call on the driver's thread; errors → DriverError."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self._thread, action)
        except (libvirt.libvirtError, OSError) as error:
            raise DriverError(str(error)) from error

    # --- host and power states ---

    async def facts(self, name: str) -> HostFacts:
        def read() -> HostFacts:
            _model, memory_mb, cpus, mhz, *_ = self._conn.getInfo()
            version = self._conn.getVersion()
            return HostFacts(
                name=name,
                hypervisor=self.hypervisor,
                cpu_number=cpus,
                cpu_speed=mhz,
                memory_mb=memory_mb,
                hypervisor_version=f"{self._conn.getType()} {version // 1_000_000}."
                f"{version // 1000 % 1000}.{version % 1000}",
            )

        return await self._call(read)

    async def power_states(self) -> dict[str, str]:
        def read() -> dict[str, str]:
            return {
                domain.name(): "PowerOn" if domain.isActive() else "PowerOff"
                for domain in self._conn.listAllDomains(0)
            }

        return await self._call(read)

    async def user_data(self, instance_name: str) -> str | None:
        def read() -> str | None:
            domain = self._domain(instance_name)
            if domain is None:
                return None
            try:
                xml = domain.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, GUEST_METADATA, 0)
            except libvirt.libvirtError as error:
                if error.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN_METADATA:
                    return None
                raise
            found = ElementTree.fromstring(xml).find("userdata")
            return found.text if found is not None and found.text else None

        return await self._call(read)

    def _domain(self, name: str) -> libvirt.virDomain | None:
        try:
            return self._conn.lookupByName(name)
        except libvirt.libvirtError as error:
            if error.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise

    # --- VMs ---

    async def start_vm(self, command: StartVm) -> None:
        disks = [await self._prepare_disk(volume) for volume in command.volumes]
        xml = self._domain_xml(command, disks)

        def start() -> None:
            domain = self._domain(command.instance_name)
            if domain is None or not domain.isActive():
                self._conn.defineXML(xml).create()

        await self._call(start)

    async def stop_vm(self, command: StopVm) -> None:
        domain = await self._call(lambda: self._domain(command.instance_name))
        if domain is None or not await self._call(domain.isActive):
            return
        if not command.forced:
            await self._call(domain.shutdown)
            deadline = time.monotonic() + self.shutdown_timeout
            for pause in itertools.repeat(0.5):  # the guest shuts down in its own time
                if not await self._call(domain.isActive) or time.monotonic() >= deadline:
                    break
                await asyncio.sleep(pause)
        if await self._call(domain.isActive):
            await self._call(domain.destroy)

    async def reboot_vm(self, command: RebootVm) -> None:
        domain = await self._call(lambda: self._domain(command.instance_name))
        if domain is None:
            raise DriverError(f"no VM {command.instance_name} on this host")
        await self._call(lambda: domain.reboot(0))

    async def scale_vm(self, command: ScaleVm) -> None:
        def scale() -> None:
            domain = self._domain(command.instance_name)
            if domain is None or not domain.isActive():
                raise DriverError(f"VM {command.instance_name} is not running on this host")
            max_memory_kib, max_cpus = domain.maxMemory(), domain.maxVcpus()
            if command.memory_mb * 1024 > max_memory_kib or command.cpu_number > max_cpus:
                raise DriverError(
                    f"VM {command.instance_name} may grow to {max_cpus} vCPUs and "
                    f"{max_memory_kib // 1024} MB, not {command.cpu_number} and "
                    f"{command.memory_mb}"
                )
            domain.setVcpusFlags(command.cpu_number, _AFFECT_LIVE)
            domain.setMemoryFlags(command.memory_mb * 1024, _AFFECT_LIVE)

        await self._call(scale)

    def _existing(self, name: str) -> libvirt.virDomain:
        domain = self._domain(name)
        if domain is None:
            raise DriverError(f"no VM {name} on this host")
        return domain

    async def create_vm_snapshot(self, command: VmSnapshotCommand) -> None:
        def create() -> None:
            domain = self._existing(command.instance_name)
            if command.snapshot_name in domain.snapshotListNames(0):
                return
            xml = f"<domainsnapshot><name>{escape(command.snapshot_name)}</name></domainsnapshot>"
            # A running VM's snapshot holds its memory (a checkpoint); a disk-only one
            # of a running VM is taken as a checkpoint and reverted to stopped.
            domain.snapshotCreateXML(xml, 0)

        await self._call(create)

    async def revert_vm_snapshot(self, command: VmSnapshotCommand) -> None:
        def revert() -> None:
            domain = self._existing(command.instance_name)
            if command.snapshot_name not in domain.snapshotListNames(0):
                raise DriverError(
                    f"VM {command.instance_name} has no snapshot {command.snapshot_name}"
                )
            snapshot = domain.snapshotLookupByName(command.snapshot_name, 0)
            flags = 0 if command.memory else libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED
            domain.revertToSnapshot(snapshot, flags)
            if not command.memory and domain.isActive():
                domain.destroy()

        await self._call(revert)

    async def delete_vm_snapshot(self, command: VmSnapshotCommand) -> None:
        def delete() -> None:
            domain = self._existing(command.instance_name)
            if command.snapshot_name in domain.snapshotListNames(0):
                domain.snapshotLookupByName(command.snapshot_name, 0).delete(0)

        await self._call(delete)

    async def destroy_vm(self, command: DestroyVm) -> None:
        def destroy() -> None:
            domain = self._domain(command.instance_name)
            if domain is None:
                return
            if domain.isActive():
                domain.destroy()
            domain.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)

        await self._call(destroy)
        paths = [self._volume_path(uuid) for uuid in command.volume_uuids]
        await self._call(lambda: _remove(paths))

    # --- volumes and snapshots ---

    def _volume_path(self, uuid: str) -> Path:
        return self.storage_dir / "volumes" / uuid

    async def _prepare_disk(self, volume: VolumeSpec) -> tuple[VolumeSpec, Path, str]:
        """The volume's file (created on first use) and its format."""
        path = self._volume_path(volume.uuid)
        disk_format = _format_of(volume)
        if not path.exists():
            if volume.template_url:
                template = await self._template(volume.template_url)
                await self._call(lambda: shutil.copyfile(template, path))
            else:
                await self._call(lambda: _sparse_file(path, volume.size))
        return volume, path, disk_format

    async def _template(self, url: str) -> Path:
        """The template's local copy, fetched once (the cache is keyed by URL)."""
        cached = self.storage_dir / "templates" / hashlib.sha256(url.encode()).hexdigest()
        lock = self._fetching.setdefault(url, asyncio.Lock())
        async with lock:
            if cached.exists():
                return cached
            partial = cached.with_suffix(".part")
            parts = urlsplit(url)
            if parts.scheme == "file":
                source = Path(url2pathname(parts.path))
                await self._call(lambda: shutil.copyfile(source, partial))
            elif parts.scheme in ("http", "https"):
                await _download(url, partial)
            else:
                raise DriverError(f"cannot fetch template {url}: use http(s) or file://")
            partial.replace(cached)
            return cached

    def _disk_xml(self, device_id: int, path: Path, disk_format: str) -> str:
        target = f"vd{chr(ord('a') + device_id)}"
        return (
            "<disk type='file' device='disk'>"
            f"<driver name='qemu' type={quoteattr(disk_format)}/>"
            f"<source file={quoteattr(str(path))}/>"
            f"<target dev={quoteattr(target)} bus='virtio'/></disk>"
        )

    def _nic_xml(self, nic: NicSpec) -> str:
        return (
            "<interface type='network'>"
            f"<mac address={quoteattr(nic.mac_address)}/>"
            f"<source network={quoteattr(self.network)}/><model type='virtio'/></interface>"
        )

    def _domain_xml(self, command: StartVm, disks: list[tuple[VolumeSpec, Path, str]]) -> str:
        devices = "".join(
            self._disk_xml(volume.device_id, path, disk_format)
            for volume, path, disk_format in disks
        ) + "".join(self._nic_xml(nic) for nic in command.nics)
        return (
            f"<domain type={quoteattr(self._domain_type)}>"
            f"<name>{escape(command.instance_name)}</name><uuid>{escape(command.vm_uuid)}</uuid>"
            f"<memory unit='MiB'>{command.max_memory_mb or command.memory_mb}</memory>"
            f"<currentMemory unit='MiB'>{command.memory_mb}</currentMemory>"
            f"<vcpu current='{command.cpu_number}'>"
            f"{command.max_cpu_number or command.cpu_number}</vcpu>"
            "<os><type arch='x86_64'>hvm</type><boot dev='hd'/></os>"
            f"{_metadata_xml(command)}<devices>{devices}</devices></domain>"
        )

    async def _change_device(self, command: VolumeCommand, attach: bool) -> None:
        if command.instance_name is None:
            return
        volume = command.volume
        if attach:
            _volume, path, disk_format = await self._prepare_disk(volume)
        else:  # a disk on its way out is not created first
            path, disk_format = self._volume_path(volume.uuid), _format_of(volume)
        xml = self._disk_xml(volume.device_id, path, disk_format)

        def change() -> None:
            domain = self._domain(str(command.instance_name))
            if domain is None:
                raise DriverError(f"no VM {command.instance_name} on this host")
            _, devices = self._definition(domain)
            if bool(_disks_of(devices, path)) == attach:
                return  # done by an earlier delivery: libvirt would refuse to do it twice
            flags = _AFFECT_CONFIG | (_AFFECT_LIVE if domain.isActive() else 0)
            try:
                (domain.attachDeviceFlags if attach else domain.detachDeviceFlags)(xml, flags)
            except libvirt.libvirtError as error:
                if error.get_error_code() != libvirt.VIR_ERR_NO_SUPPORT:
                    raise
                # No hot-plug on this hypervisor: change the definition (next start).
                self._redefine_disk(domain, xml, path, attach)

        await self._call(change)

    def _definition(
        self, domain: libvirt.virDomain
    ) -> tuple[ElementTree.Element, ElementTree.Element]:
        """The VM's persistent definition and its ``devices``: what it has at next start."""
        definition = ElementTree.fromstring(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        devices = definition.find("devices")
        if devices is None:
            raise DriverError(f"VM {domain.name()} has no devices section")
        return definition, devices

    def _redefine_disk(self, domain: libvirt.virDomain, xml: str, path: Path, attach: bool) -> None:
        definition, devices = self._definition(domain)
        for disk in _disks_of(devices, path):
            devices.remove(disk)
        if attach:
            devices.append(ElementTree.fromstring(xml))
        self._conn.defineXML(ElementTree.tostring(definition, encoding="unicode"))

    async def attach_volume(self, command: VolumeCommand) -> None:
        await self._change_device(command, attach=True)

    async def detach_volume(self, command: VolumeCommand) -> None:
        await self._change_device(command, attach=False)

    async def resize_volume(self, command: VolumeCommand) -> None:
        uuid, size = command.volume.uuid, command.volume.size
        path = self._volume_path(uuid)

        def resize() -> None:
            if not path.exists():
                raise DriverError(f"no disk of volume {uuid} on this host")
            with path.open("r+b") as handle:
                if handle.read(len(_QCOW2_MAGIC)) == _QCOW2_MAGIC:
                    raise DriverError(f"cannot resize volume {uuid}: it is a qcow2 image")
                handle.truncate(size)

        await self._call(resize)

    async def delete_volume(self, command: VolumeCommand) -> None:
        await self._call(lambda: self._volume_path(command.volume.uuid).unlink(missing_ok=True))

    async def create_snapshot(self, command: SnapshotVolume) -> SnapshotResult:
        source = self._volume_path(command.volume_uuid)
        target = self.storage_dir / "snapshots" / command.snapshot_uuid

        def copy() -> int:
            if not target.exists():
                if not source.exists():
                    raise DriverError(f"no disk of volume {command.volume_uuid} on this host")
                # Copied aside first: a copy cut short must not pass for the snapshot.
                partial = target.with_suffix(".part")
                shutil.copyfile(source, partial)
                partial.replace(target)
            return target.stat().st_size

        size = await self._call(copy)
        return SnapshotResult(path=str(target), size=size)

    async def delete_snapshot(self, command: SnapshotVolume) -> None:
        target = self.storage_dir / "snapshots" / command.snapshot_uuid
        await self._call(lambda: target.unlink(missing_ok=True))

    async def close(self) -> None:
        await self._call(self._conn.close)
        self._thread.shutdown(wait=False)


def _metadata_xml(command: StartVm) -> str:
    """The guest's metadata element (empty without user data)."""
    if command.user_data is None:
        return ""
    return (
        f"<metadata><alto:guest xmlns:alto={quoteattr(GUEST_METADATA)}>"
        f"<alto:userdata>{escape(command.user_data)}</alto:userdata>"
        "</alto:guest></metadata>"
    )


def _format_of(volume: VolumeSpec) -> str:
    """A root disk has its template's format; a blank disk is raw."""
    return (volume.template_format or "raw").lower() if volume.template_url else "raw"


def _disks_of(devices: ElementTree.Element, path: Path) -> list[ElementTree.Element]:
    """The ``disk`` elements whose source is the file ``path``."""
    return [
        disk
        for disk in devices.findall("disk")
        if (source := disk.find("source")) is not None and source.get("file") == str(path)
    ]


def _remove(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _sparse_file(path: Path, size: int) -> None:
    """Create or grow (never shrink) a sparse raw disk of ``size`` bytes."""
    with path.open("ab") as handle:
        if handle.tell() < size:
            handle.truncate(size)


async def _download(url: str, target: Path) -> None:
    try:
        async with (
            httpx.AsyncClient(follow_redirects=True, timeout=60) as client,
            client.stream("GET", url) as response,
        ):
            response.raise_for_status()
            with target.open("wb") as handle:
                async for chunk in response.aiter_bytes(1 << 20):
                    handle.write(chunk)
    except httpx.HTTPError as error:
        raise DriverError(f"cannot fetch template {url}: {error}") from error
