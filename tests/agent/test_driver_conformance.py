"""Every driver keeps the contract of ``agent/drivers/base.py``: one suite, run on each.

A check of what only some drivers do is marked ``claims(FLAG, ...)`` and skipped, naming
the flag, on a driver whose ``capabilities`` lack it. Disks are seen through the
protocol alone: a snapshot's ``size`` is the size of the disk it copied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from altostratus.agent.drivers.base import Driver, DriverError
from altostratus.agent.drivers.simulator import SimulatorDriver
from altostratus.agent.protocol import (
    DestroyVm,
    RebootVm,
    ScaleVm,
    SnapshotVolume,
    StartVm,
    StopVm,
    VmSnapshotCommand,
    VolumeCommand,
    VolumeSpec,
)

VM = "i-2-7-VM"
UNKNOWN = "i-9-9-VM"
#: The VM the simulator is built with, as libvirt's test hypervisor comes with ``test``.
SIMULATED = "i-1-1-VM"
MIB = 1 << 20
DATA = VolumeSpec(uuid="data-1", device_id=1, size=MIB)


@dataclass(frozen=True)
class Host:
    """A driver under test, and what the protocol cannot tell about its hypervisor."""

    driver: Driver
    #: A running VM that was there before the driver.
    foreign: str
    #: Another driver on the same hypervisor, as an agent that restarted would build.
    reopen: Callable[[], Driver]


@pytest.fixture(params=["simulator", "libvirt"])
def host(request: pytest.FixtureRequest) -> Host:
    if request.param == "simulator":
        built = Host(SimulatorDriver(running=[SIMULATED]), SIMULATED, SimulatorDriver)
    else:
        real = request.getfixturevalue("libvirt_driver")  # skips without libvirt-python
        from altostratus.agent.drivers.libvirt import LibvirtDriver

        built = Host(real, "test", lambda: LibvirtDriver(real.uri, real.storage_dir))
    for marker in request.node.iter_markers("claims"):
        for flag in marker.args:
            if not getattr(built.driver.capabilities, flag):
                pytest.skip(f"{type(built.driver).__name__} does not claim {flag}")
    return built


@pytest.fixture
def driver(host: Host) -> Driver:
    return host.driver


def _start(template: str, name: str = VM, *extra: VolumeSpec) -> StartVm:
    root = VolumeSpec(
        uuid=f"{name}-root",
        device_id=0,
        size=MIB,
        template_url=template,
        template_format="QCOW2",
    )
    return StartVm(
        instance_name=name,
        vm_uuid="1b4e28ba-2fa1-11d2-883f-0016d3cca427",
        cpu_number=1,
        cpu_speed=1000,
        memory_mb=256,
        volumes=[root, *extra],
    )


def _volume(volume: VolumeSpec = DATA, instance_name: str | None = VM) -> VolumeCommand:
    return VolumeCommand(volume=volume, instance_name=instance_name)


async def _snapshot_size(driver: Driver, volume_uuid: str, snapshot_uuid: str) -> object:
    taken = await driver.create_snapshot(
        SnapshotVolume(snapshot_uuid=snapshot_uuid, volume_uuid=volume_uuid)
    )
    return taken["size"]


# --- what the driver reports ---


async def test_facts_describe_the_host(driver: Driver) -> None:
    facts = await driver.facts("host-1")
    assert facts.name == "host-1"
    assert facts.hypervisor == driver.hypervisor
    assert min(facts.cpu_number, facts.cpu_speed, facts.memory_mb) > 0
    assert facts.hypervisor_version


async def test_power_states_include_vms_the_driver_did_not_start(host: Host) -> None:
    assert (await host.driver.power_states())[host.foreign] == "PowerOn"


async def test_the_guest_reads_the_user_data_of_its_last_start(
    driver: Driver, template: str
) -> None:
    assert await driver.user_data(UNKNOWN) is None
    await driver.start_vm(_start(template).model_copy(update={"user_data": "I2Nsb3VkLWNvbmZpZw=="}))
    assert await driver.user_data(VM) == "I2Nsb3VkLWNvbmZpZw=="
    await driver.stop_vm(StopVm(instance_name=VM, forced=True))
    await driver.start_vm(_start(template).model_copy(update={"user_data": "bmV3"}))
    assert await driver.user_data(VM) == "bmV3", "updated while stopped: the next start has it"
    await driver.stop_vm(StopVm(instance_name=VM, forced=True))
    await driver.start_vm(_start(template))
    assert await driver.user_data(VM) is None
    await driver.destroy_vm(DestroyVm(instance_name=VM))
    assert await driver.user_data(VM) is None


def _scale(cpu_number: int, memory_mb: int, name: str = VM) -> ScaleVm:
    return ScaleVm(instance_name=name, cpu_number=cpu_number, cpu_speed=1000, memory_mb=memory_mb)


async def test_a_running_vm_scales_within_its_maxima(driver: Driver, template: str) -> None:
    roomy = _start(template).model_copy(update={"max_cpu_number": 4, "max_memory_mb": 1024})
    await driver.start_vm(roomy)
    await driver.scale_vm(_scale(2, 512))
    await driver.scale_vm(_scale(2, 512))  # again: nothing more to do
    with pytest.raises(DriverError):
        await driver.scale_vm(_scale(8, 512))
    with pytest.raises(DriverError):
        await driver.scale_vm(_scale(2, 4096))
    assert (await driver.power_states())[VM] == "PowerOn"


async def test_a_fixed_size_or_stopped_vm_does_not_scale(driver: Driver, template: str) -> None:
    await driver.start_vm(_start(template))
    with pytest.raises(DriverError):
        await driver.scale_vm(_scale(2, 256))
    await driver.stop_vm(StopVm(instance_name=VM, forced=True))
    with pytest.raises(DriverError):
        await driver.scale_vm(_scale(1, 256))
    with pytest.raises(DriverError):
        await driver.scale_vm(_scale(1, 256, UNKNOWN))


def _vm_snapshot(name: str, *, memory: bool = False) -> VmSnapshotCommand:
    return VmSnapshotCommand(instance_name=VM, snapshot_name=name, memory=memory)


async def test_a_memory_snapshot_reverts_to_running(driver: Driver, template: str) -> None:
    await driver.start_vm(_start(template))
    await driver.create_vm_snapshot(_vm_snapshot("s1", memory=True))
    await driver.create_vm_snapshot(_vm_snapshot("s1", memory=True))  # taken once
    await driver.stop_vm(StopVm(instance_name=VM, forced=True))
    await driver.revert_vm_snapshot(_vm_snapshot("s1", memory=True))
    assert (await driver.power_states())[VM] == "PowerOn"


async def test_a_disk_snapshot_reverts_to_stopped(driver: Driver, template: str) -> None:
    await driver.start_vm(_start(template))
    await driver.stop_vm(StopVm(instance_name=VM, forced=True))
    await driver.create_vm_snapshot(_vm_snapshot("s1"))
    await driver.revert_vm_snapshot(_vm_snapshot("s1"))
    assert (await driver.power_states())[VM] == "PowerOff"


async def test_a_deleted_or_unknown_vm_snapshot(driver: Driver, template: str) -> None:
    with pytest.raises(DriverError):
        await driver.create_vm_snapshot(
            _vm_snapshot("s1").model_copy(update={"instance_name": UNKNOWN})
        )
    await driver.start_vm(_start(template))
    await driver.create_vm_snapshot(_vm_snapshot("s1"))
    await driver.delete_vm_snapshot(_vm_snapshot("s1"))
    await driver.delete_vm_snapshot(_vm_snapshot("s1"))  # gone already: nothing to do
    with pytest.raises(DriverError):
        await driver.revert_vm_snapshot(_vm_snapshot("s1"))
    await driver.create_vm_snapshot(_vm_snapshot("s2"))
    await driver.destroy_vm(DestroyVm(instance_name=VM))
    assert VM not in await driver.power_states()


# --- VM commands: idempotent, and what they did is what power_states reports ---


async def test_started_vm_is_powered_on_by_its_instance_name(driver: Driver, template: str) -> None:
    before = await driver.power_states()
    await driver.start_vm(_start(template))
    assert await driver.power_states() == {**before, VM: "PowerOn"}


@pytest.mark.parametrize("forced", [False, True], ids=["shutdown", "forced"])
async def test_stopped_vm_stays_defined_until_destroyed(
    driver: Driver, template: str, forced: bool
) -> None:
    await driver.start_vm(_start(template))
    await driver.stop_vm(StopVm(instance_name=VM, forced=forced))
    assert (await driver.power_states())[VM] == "PowerOff"
    await driver.destroy_vm(DestroyVm(instance_name=VM))
    assert VM not in await driver.power_states()


async def test_stopped_vm_starts_again(driver: Driver, template: str) -> None:
    await driver.start_vm(_start(template))
    await driver.stop_vm(StopVm(instance_name=VM, forced=True))
    await driver.start_vm(_start(template))
    assert (await driver.power_states())[VM] == "PowerOn"


async def test_starting_a_running_vm_leaves_it_running(driver: Driver, template: str) -> None:
    await driver.start_vm(_start(template))
    await driver.start_vm(_start(template))
    assert (await driver.power_states())[VM] == "PowerOn"


async def test_stopping_a_stopped_vm_does_nothing(driver: Driver, template: str) -> None:
    await driver.start_vm(_start(template))
    await driver.stop_vm(StopVm(instance_name=VM))
    await driver.stop_vm(StopVm(instance_name=VM))
    assert (await driver.power_states())[VM] == "PowerOff"


async def test_stopping_an_unknown_vm_does_nothing(driver: Driver) -> None:
    before = await driver.power_states()
    await driver.stop_vm(StopVm(instance_name=UNKNOWN))
    assert await driver.power_states() == before


async def test_destroying_what_is_not_there_succeeds(driver: Driver, template: str) -> None:
    await driver.start_vm(_start(template))
    await driver.destroy_vm(DestroyVm(instance_name=VM, volume_uuids=[f"{VM}-root"]))
    after = await driver.power_states()
    await driver.destroy_vm(DestroyVm(instance_name=VM, volume_uuids=[f"{VM}-root"]))
    await driver.destroy_vm(DestroyVm(instance_name=UNKNOWN, volume_uuids=["never-made"]))
    assert await driver.power_states() == after
    assert VM not in after


async def test_reboot_keeps_a_running_vm_running(driver: Driver, template: str) -> None:
    await driver.start_vm(_start(template))
    await driver.reboot_vm(RebootVm(instance_name=VM))
    assert (await driver.power_states())[VM] == "PowerOn"


# --- commands on a VM that must be there ---


async def test_rebooting_a_stopped_vm_is_a_driver_error(driver: Driver, template: str) -> None:
    await driver.start_vm(_start(template))
    await driver.stop_vm(StopVm(instance_name=VM, forced=True))
    with pytest.raises(DriverError):
        await driver.reboot_vm(RebootVm(instance_name=VM))
    assert (await driver.power_states())[VM] == "PowerOff"


async def test_rebooting_an_unknown_vm_is_a_driver_error(driver: Driver) -> None:
    with pytest.raises(DriverError, match=UNKNOWN):
        await driver.reboot_vm(RebootVm(instance_name=UNKNOWN))
    assert UNKNOWN not in await driver.power_states()


@pytest.mark.parametrize("method", ["attach_volume", "detach_volume"])
async def test_disks_of_an_unknown_vm_are_a_driver_error(driver: Driver, method: str) -> None:
    with pytest.raises(DriverError, match=UNKNOWN):
        await getattr(driver, method)(_volume(instance_name=UNKNOWN))


async def test_attaching_and_detaching_twice_succeed(driver: Driver, template: str) -> None:
    await driver.start_vm(_start(template))
    await driver.attach_volume(_volume())
    await driver.attach_volume(_volume())
    await driver.detach_volume(_volume())
    await driver.detach_volume(_volume())
    assert (await driver.power_states())[VM] == "PowerOn"


async def test_deleting_what_is_not_there_succeeds(driver: Driver) -> None:
    before = await driver.power_states()
    await driver.delete_volume(_volume(instance_name=None))
    await driver.delete_snapshot(SnapshotVolume(snapshot_uuid="never", volume_uuid="none"))
    assert await driver.power_states() == before


# --- templates ---


@pytest.mark.claims("fetches_templates")
@pytest.mark.parametrize("url", ["ftp://images.invalid/x.qcow2", "file:///nonexistent/x.qcow2"])
async def test_a_template_that_cannot_be_fetched_is_a_driver_error(
    driver: Driver, url: str
) -> None:
    with pytest.raises(DriverError):
        await driver.start_vm(_start(url))
    assert VM not in await driver.power_states()


@pytest.mark.claims("fetches_templates", "keeps_disks")
async def test_root_disk_is_a_copy_of_the_template(driver: Driver, template: str) -> None:
    await driver.start_vm(_start(template))
    assert await _snapshot_size(driver, f"{VM}-root", "snap-root") == 4 + 4096


# --- disks ---


@pytest.mark.claims("keeps_disks")
async def test_attached_volume_is_a_blank_disk_of_its_size(driver: Driver, template: str) -> None:
    await driver.start_vm(_start(template))
    await driver.attach_volume(_volume())
    assert await _snapshot_size(driver, DATA.uuid, "snap-1") == MIB


@pytest.mark.claims("keeps_disks")
async def test_a_disk_started_with_is_made_once(driver: Driver, template: str) -> None:
    await driver.start_vm(_start(template, VM, DATA))
    await driver.resize_volume(_volume(DATA.model_copy(update={"size": 2 * MIB})))
    await driver.stop_vm(StopVm(instance_name=VM, forced=True))
    await driver.start_vm(_start(template, VM, DATA))
    assert await _snapshot_size(driver, DATA.uuid, "snap-1") == 2 * MIB


@pytest.mark.claims("keeps_disks")
@pytest.mark.parametrize("size", [2 * MIB, MIB // 2], ids=["grow", "shrink"])
async def test_resize_sets_the_size(driver: Driver, template: str, size: int) -> None:
    await driver.start_vm(_start(template))
    await driver.attach_volume(_volume())
    await driver.resize_volume(_volume(DATA.model_copy(update={"size": size})))
    assert await _snapshot_size(driver, DATA.uuid, "snap-1") == size


@pytest.mark.claims("keeps_disks")
async def test_resizing_a_missing_volume_is_a_driver_error(driver: Driver) -> None:
    with pytest.raises(DriverError, match=DATA.uuid):
        await driver.resize_volume(_volume(instance_name=None))
    with pytest.raises(DriverError):
        await _snapshot_size(driver, DATA.uuid, "snap-1")  # and made no disk either


@pytest.mark.claims("keeps_disks")
async def test_a_snapshot_taken_again_is_answered_as_the_first_time(
    driver: Driver, template: str
) -> None:
    await driver.start_vm(_start(template))
    await driver.attach_volume(_volume())
    command = SnapshotVolume(snapshot_uuid="snap-1", volume_uuid=DATA.uuid)
    first = await driver.create_snapshot(command)
    await driver.resize_volume(_volume(DATA.model_copy(update={"size": 2 * MIB})))
    assert await driver.create_snapshot(command) == first


@pytest.mark.claims("keeps_disks")
async def test_a_deleted_snapshot_is_taken_anew(driver: Driver, template: str) -> None:
    await driver.start_vm(_start(template))
    await driver.attach_volume(_volume())
    await _snapshot_size(driver, DATA.uuid, "snap-1")
    await driver.delete_snapshot(SnapshotVolume(snapshot_uuid="snap-1", volume_uuid=DATA.uuid))
    await driver.resize_volume(_volume(DATA.model_copy(update={"size": 2 * MIB})))
    assert await _snapshot_size(driver, DATA.uuid, "snap-1") == 2 * MIB


@pytest.mark.claims("keeps_disks")
async def test_a_snapshot_of_a_missing_volume_is_a_driver_error(driver: Driver) -> None:
    with pytest.raises(DriverError, match="no-such-volume"):
        await _snapshot_size(driver, "no-such-volume", "snap-1")


@pytest.mark.claims("keeps_disks")
async def test_a_deleted_volume_is_gone(driver: Driver, template: str) -> None:
    await driver.start_vm(_start(template))
    await driver.attach_volume(_volume())
    await driver.detach_volume(_volume())
    assert await _snapshot_size(driver, DATA.uuid, "snap-1") == MIB  # detaching keeps it
    await driver.delete_volume(_volume(instance_name=None))
    with pytest.raises(DriverError):
        await _snapshot_size(driver, DATA.uuid, "snap-2")


@pytest.mark.claims("keeps_disks")
async def test_destroy_deletes_the_listed_volumes(driver: Driver, template: str) -> None:
    await driver.start_vm(_start(template, VM, DATA))
    await driver.destroy_vm(DestroyVm(instance_name=VM, volume_uuids=[f"{VM}-root"]))
    with pytest.raises(DriverError):
        await _snapshot_size(driver, f"{VM}-root", "snap-root")
    assert await _snapshot_size(driver, DATA.uuid, "snap-data") == MIB  # not listed: kept


async def test_without_disks_a_snapshot_has_no_size(driver: Driver) -> None:
    if driver.capabilities.keeps_disks:
        pytest.skip(f"{type(driver).__name__} claims keeps_disks: its snapshots have sizes")
    taken = await driver.create_snapshot(SnapshotVolume(snapshot_uuid="s", volume_uuid="v"))
    assert taken["size"] == 0
    assert isinstance(taken["path"], str)


# --- persistence ---


@pytest.mark.claims("persistent")
async def test_vms_outlive_the_driver(host: Host, template: str) -> None:
    await host.driver.start_vm(_start(template))
    other = host.reopen()
    try:
        assert (await other.power_states())[VM] == "PowerOn"
        await other.stop_vm(StopVm(instance_name=VM, forced=True))
        assert (await host.driver.power_states())[VM] == "PowerOff"
    finally:
        await other.close()
