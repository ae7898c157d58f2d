"""What only the libvirt driver does, on libvirt's own ``test:///default`` hypervisor.

The contract every driver keeps is checked by ``test_driver_conformance.py``; these
look inside libvirt: the domains it defines, the files under ``storage_dir``.
"""

from __future__ import annotations

import os
from xml.etree import ElementTree

import pytest

from altostratus.agent.drivers.base import DriverError
from altostratus.agent.drivers.libvirt import LibvirtDriver
from altostratus.agent.protocol import (
    NicSpec,
    SnapshotVolume,
    StartVm,
    StopVm,
    VolumeCommand,
    VolumeSpec,
)

VM = "i-2-7-VM"
VM_UUID = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
OTHER_UUID = "2b4e28ba-2fa1-11d2-883f-0016d3cca427"
DATA = VolumeSpec(uuid="data-1", device_id=1, size=1 << 20)
#: libvirt's ``VIR_DOMAIN_XML_INACTIVE``: the definition the VM has at its next start.
_INACTIVE = 2


def _start(template_url: str, name: str = VM, *extra: VolumeSpec, memory_mb: int = 256) -> StartVm:
    root = VolumeSpec(
        uuid=f"{name}-root",
        device_id=0,
        size=1 << 20,
        template_url=template_url,
        template_format="QCOW2",
    )
    return StartVm(
        instance_name=name,
        vm_uuid=VM_UUID,
        cpu_number=2,
        cpu_speed=1000,
        memory_mb=memory_mb,
        volumes=[root, *extra],
        nics=[NicSpec(mac_address="52:54:00:12:34:56", ip_address="10.1.0.10")],
    )


def _disk_sources(driver: LibvirtDriver, name: str = VM) -> list[str]:
    definition = ElementTree.fromstring(driver._conn.lookupByName(name).XMLDesc(_INACTIVE))
    return [str(source.get("file")) for source in definition.iterfind("devices/disk/source")]


async def test_started_vm_is_a_domain_as_the_command_describes(
    libvirt_driver: LibvirtDriver, template: str
) -> None:
    await libvirt_driver.start_vm(_start(template))
    domain = libvirt_driver._conn.lookupByName(VM)
    assert domain.isActive()
    assert domain.UUIDString() == VM_UUID
    assert domain.maxMemory() == 256 * 1024
    assert domain.info()[3] == 2  # vCPUs
    root = libvirt_driver.storage_dir / "volumes" / f"{VM}-root"
    assert _disk_sources(libvirt_driver) == [str(root)]
    assert root.read_bytes().startswith(b"QFI")
    assert "52:54:00:12:34:56" in domain.XMLDesc(0)


async def test_stopped_vm_is_defined_again_by_the_next_start(
    libvirt_driver: LibvirtDriver, template: str
) -> None:
    await libvirt_driver.start_vm(_start(template))
    await libvirt_driver.stop_vm(StopVm(instance_name=VM))
    # Attached and given more memory while stopped: only the database knew.
    await libvirt_driver.start_vm(_start(template, VM, DATA, memory_mb=512))
    domain = libvirt_driver._conn.lookupByName(VM)
    assert domain.isActive()
    assert domain.maxMemory() == 512 * 1024
    assert str(libvirt_driver.storage_dir / "volumes" / DATA.uuid) in _disk_sources(libvirt_driver)


async def test_a_name_another_vm_has_is_refused(
    libvirt_driver: LibvirtDriver, template: str
) -> None:
    await libvirt_driver.start_vm(_start(template))
    await libvirt_driver.stop_vm(StopVm(instance_name=VM, forced=True))
    other = _start(template).model_copy(update={"vm_uuid": OTHER_UUID})
    with pytest.raises(DriverError):
        await libvirt_driver.start_vm(other)
    assert libvirt_driver._conn.lookupByName(VM).UUIDString() == VM_UUID


async def test_template_is_fetched_once(libvirt_driver: LibvirtDriver, template: str) -> None:
    await libvirt_driver.start_vm(_start(template))
    assert len(list((libvirt_driver.storage_dir / "templates").iterdir())) == 1
    os.unlink(template.removeprefix("file://"))  # the cache serves the next VM
    other = _start(template, "i-2-8-VM").model_copy(update={"vm_uuid": OTHER_UUID})
    await libvirt_driver.start_vm(other)
    assert libvirt_driver._conn.lookupByName("i-2-8-VM").isActive()


async def test_without_hot_plug_disks_change_the_definition(
    libvirt_driver: LibvirtDriver, template: str
) -> None:
    await libvirt_driver.start_vm(_start(template))
    data = str(libvirt_driver.storage_dir / "volumes" / DATA.uuid)
    command = VolumeCommand(volume=DATA, instance_name=VM)
    await libvirt_driver.attach_volume(command)
    await libvirt_driver.attach_volume(command)
    assert _disk_sources(libvirt_driver).count(data) == 1  # test:/// cannot hot-plug
    await libvirt_driver.detach_volume(command)
    assert data not in _disk_sources(libvirt_driver)
    never = VolumeSpec(uuid="never-attached", device_id=2, size=1 << 20)
    await libvirt_driver.detach_volume(VolumeCommand(volume=never, instance_name=VM))
    assert not (libvirt_driver.storage_dir / "volumes" / never.uuid).exists()


async def test_snapshots_are_files_under_the_storage_dir(
    libvirt_driver: LibvirtDriver, template: str
) -> None:
    await libvirt_driver.start_vm(_start(template))
    await libvirt_driver.attach_volume(VolumeCommand(volume=DATA, instance_name=VM))
    command = SnapshotVolume(snapshot_uuid="snap-1", volume_uuid=DATA.uuid)
    taken = await libvirt_driver.create_snapshot(command)
    snapshots = libvirt_driver.storage_dir / "snapshots"
    assert taken["path"] == str(snapshots / "snap-1")
    assert [path.name for path in snapshots.iterdir()] == ["snap-1"]  # nothing left aside
    await libvirt_driver.delete_snapshot(command)
    assert not list(snapshots.iterdir())


async def test_a_qcow2_disk_is_not_resized(libvirt_driver: LibvirtDriver, template: str) -> None:
    await libvirt_driver.start_vm(_start(template))
    root = _start(template).volumes[0]
    grown = VolumeCommand(volume=root.model_copy(update={"size": 2 << 20}), instance_name=VM)
    with pytest.raises(DriverError, match="qcow2"):
        await libvirt_driver.resize_volume(grown)
    assert (libvirt_driver.storage_dir / "volumes" / root.uuid).stat().st_size == 4 + 4096
