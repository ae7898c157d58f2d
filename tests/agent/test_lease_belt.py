"""The lease belt, on every driver: two hosts on one shared storage never run one disk.

Parametrised over drivers like the conformance suite. With libvirt, host A is on
``test:///default`` (a driver opened again on it sees its VMs, as after an agent
restart) and host B on a hypervisor of its own; both keep their disks in the shared
storage directory, as on real shared primary storage.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from altostratus.agent.core import AgentCore
from altostratus.agent.drivers.base import Driver
from altostratus.agent.drivers.simulator import SimulatorDriver
from altostratus.agent.ledger import Action, Ledger, find_overlaps, read_ledger
from altostratus.agent.protocol import (
    LEASE_HELD,
    Answer,
    CommandKind,
    Delivery,
    DestroyVm,
    StartVm,
    StopVm,
    VolumeSpec,
)
from altostratus.agent.shared_storage import SharedStorage

VM = "i-2-7-VM"
ROOT = f"{VM}-root"
DATA = VolumeSpec(uuid="data-1", device_id=1, size=1 << 20)
#: Long enough that a lease taken in a test stays live for the whole test.
LONG_TTL = 60.0
#: Short enough to wait out.
SHORT_TTL = 1.0


@dataclass
class Rig:
    shared: Path
    template: str
    #: Host A's and host B's drivers.
    a: Driver
    b: Driver
    #: Another driver on A's hypervisor, as A's agent would build after a restart.
    reopen_a: Callable[[], Driver]
    _opened: list[Driver] = field(default_factory=list)

    def core(self, driver: Driver, host: str, ttl: float = LONG_TTL) -> AgentCore:
        storage = SharedStorage(self.shared, lease_ttl=ttl, heartbeat_interval=ttl / 5)
        return AgentCore(
            driver, host_name=host, storage=storage, ledger=Ledger(self.shared / "ledger.jsonl")
        )

    def reopened(self) -> Driver:
        driver = self.reopen_a()
        self._opened.append(driver)
        return driver


@pytest.fixture(params=["simulator", "libvirt"])
async def rig(request: pytest.FixtureRequest, tmp_path: Path, template: str) -> AsyncIterator[Rig]:
    shared = tmp_path / "primary"
    if request.param == "simulator":
        built = Rig(shared, template, SimulatorDriver(), SimulatorDriver(), SimulatorDriver)
    else:
        pytest.importorskip("libvirt", reason="libvirt-python is the `libvirt` extra")
        from altostratus.agent.drivers.libvirt import LibvirtDriver

        node = tmp_path / "host-b.xml"
        node.write_text("<node><cpu><mhz>2000</mhz></cpu></node>")
        built = Rig(
            shared,
            template,
            LibvirtDriver("test:///default", shared, shutdown_timeout=5),
            LibvirtDriver(f"test://{node}", shared, shutdown_timeout=5),
            lambda: LibvirtDriver("test:///default", shared, shutdown_timeout=5),
        )
    yield built
    for driver in [*built._opened, built.a, built.b]:
        await driver.close()


def _start(template: str, *extra: VolumeSpec) -> StartVm:
    root = VolumeSpec(
        uuid=ROOT, device_id=0, size=1 << 20, template_url=template, template_format="QCOW2"
    )
    return StartVm(
        instance_name=VM,
        vm_uuid="1b4e28ba-2fa1-11d2-883f-0016d3cca427",
        cpu_number=1,
        cpu_speed=1000,
        memory_mb=256,
        volumes=[root, *extra],
    )


_ids = iter(range(1_000_000))


async def _run(core: AgentCore, kind: CommandKind, command: StartVm | StopVm | DestroyVm) -> Answer:
    return await core.execute(
        Delivery(id=f"cmd-{next(_ids)}", kind=kind, payload=command.model_dump(mode="json"))
    )


async def _power(core: AgentCore) -> str | None:
    return (await core.power_states()).get(VM)


async def test_a_disk_leased_to_a_running_vm_refuses_the_start_elsewhere(rig: Rig) -> None:
    a, b = rig.core(rig.a, "host-a"), rig.core(rig.b, "host-b")
    assert not (await _run(a, CommandKind.START_VM, _start(rig.template))).failed
    refused = await _run(b, CommandKind.START_VM, _start(rig.template))
    assert refused.failed
    assert f"disk {ROOT} is leased by host host-a, renewed" in refused.result["error"]
    assert LEASE_HELD in refused.result["error"]
    assert await _power(b) is None  # nothing was started, not even defined
    assert await _power(a) == "PowerOn"


@pytest.mark.parametrize("kind", [CommandKind.STOP_VM, CommandKind.DESTROY_VM])
async def test_once_the_holder_stopped_the_vm_another_host_starts_it(
    rig: Rig, kind: CommandKind
) -> None:
    a, b = rig.core(rig.a, "host-a"), rig.core(rig.b, "host-b")
    await _run(a, CommandKind.START_VM, _start(rig.template))
    stop = StopVm(instance_name=VM) if kind is CommandKind.STOP_VM else DestroyVm(instance_name=VM)
    assert not (await _run(a, kind, stop)).failed
    assert not (await _run(b, CommandKind.START_VM, _start(rig.template))).failed
    assert await _power(b) == "PowerOn"
    assert await _power(a) != "PowerOn"
    entries = read_ledger(rig.shared / "ledger.jsonl")
    assert [(entry.host, entry.action) for entry in entries] == [
        ("host-a", Action.START),
        ("host-a", Action.STOP),
        ("host-b", Action.START),
    ]
    assert find_overlaps(entries) == []


async def test_renewed_leases_stay_live_past_the_ttl(rig: Rig) -> None:
    a, b = rig.core(rig.a, "host-a", SHORT_TTL), rig.core(rig.b, "host-b", SHORT_TTL)
    await _run(a, CommandKind.START_VM, _start(rig.template))
    renewing = asyncio.create_task(a.belts.keep_alive())
    try:
        await asyncio.sleep(3 * SHORT_TTL)
        refused = await _run(b, CommandKind.START_VM, _start(rig.template))
    finally:
        renewing.cancel()
    assert LEASE_HELD in refused.result["error"]


async def test_a_lease_no_longer_renewed_expires_and_its_vm_is_powered_off(rig: Rig) -> None:
    a, b = rig.core(rig.a, "host-a", SHORT_TTL), rig.core(rig.b, "host-b", SHORT_TTL)
    await _run(a, CommandKind.START_VM, _start(rig.template))
    await asyncio.sleep(SHORT_TTL * 1.5)  # A is cut off from its storage: no renewal
    assert not (await _run(b, CommandKind.START_VM, _start(rig.template))).failed
    await a.belts.beat()  # A is back, finds B holds the disk now
    assert await _power(a) == "PowerOff"
    assert await _power(b) == "PowerOn"
    storage = b.belts.storage
    assert storage is not None
    assert [(lease.volume_uuid, lease.host) for lease in storage.leases()] == [(ROOT, "host-b")]


async def test_a_refused_start_takes_none_of_the_vms_disks(rig: Rig) -> None:
    a, b = rig.core(rig.a, "host-a"), rig.core(rig.b, "host-b")
    await _run(a, CommandKind.START_VM, _start(rig.template))
    refused = await _run(b, CommandKind.START_VM, _start(rig.template, DATA))
    assert LEASE_HELD in refused.result["error"]
    storage = b.belts.storage
    assert storage is not None
    assert storage.disk_activity_age([DATA.uuid]) is None
    assert all(entry.host == "host-a" for entry in read_ledger(rig.shared / "ledger.jsonl"))


async def test_a_vm_that_ended_by_itself_gives_its_disks_back(rig: Rig) -> None:
    a, b = rig.core(rig.a, "host-a"), rig.core(rig.b, "host-b")
    await _run(a, CommandKind.START_VM, _start(rig.template))
    await rig.a.stop_vm(StopVm(instance_name=VM, forced=True))  # the guest shut down
    await a.belts.beat()
    assert not (await _run(b, CommandKind.START_VM, _start(rig.template))).failed
    assert find_overlaps(read_ledger(rig.shared / "ledger.jsonl")) == []


async def test_a_restarted_agent_keeps_the_leases_of_vms_still_running(rig: Rig) -> None:
    """A persistent hypervisor still runs the VM: its disks stay leased past the TTL.
    Without one the VM ended with the agent, and its disks are given back."""
    first = rig.core(rig.a, "host-a", SHORT_TTL)
    await _run(first, CommandKind.START_VM, _start(rig.template))
    restarted = rig.core(rig.reopened(), "host-a", SHORT_TTL)
    b = rig.core(rig.b, "host-b", SHORT_TTL)
    for _ in range(3):  # past the TTL, renewed by the restarted agent only
        await restarted.belts.beat()
        await asyncio.sleep(SHORT_TTL / 2)
    answer = await _run(b, CommandKind.START_VM, _start(rig.template))
    if rig.a.capabilities.persistent:
        assert LEASE_HELD in answer.result["error"]
    else:
        assert not answer.failed


async def test_without_its_leases_storage_a_vm_does_not_start(rig: Rig) -> None:
    a = rig.core(rig.a, "host-a")
    (rig.shared / "leases").rmdir()
    (rig.shared / "leases").write_text("the storage went away")  # every lease fails
    refused = await _run(a, CommandKind.START_VM, _start(rig.template))
    assert f"cannot lease the disks of {VM}" in refused.result["error"]
    assert await _power(a) is None


async def test_a_restarted_agent_powers_off_a_vm_restarted_elsewhere_meanwhile(rig: Rig) -> None:
    """A was away longer than the TTL and B restarted the VM: A's copy must not run on."""
    a = rig.core(rig.a, "host-a", SHORT_TTL)
    await _run(a, CommandKind.START_VM, _start(rig.template))
    await asyncio.sleep(SHORT_TTL * 1.5)
    b = rig.core(rig.b, "host-b", SHORT_TTL)
    assert not (await _run(b, CommandKind.START_VM, _start(rig.template))).failed
    restarted = rig.core(rig.reopened(), "host-a", SHORT_TTL)
    await restarted.belts.beat()
    assert await _power(restarted) != "PowerOn"
    assert await _power(b) == "PowerOn"
    storage = b.belts.storage
    assert storage is not None
    assert [lease.host for lease in storage.leases()] == ["host-b"]
