"""The libvirt driver against libvirt's own ``test:///default`` hypervisor."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from altostratus.agent.core import AgentCore
from altostratus.agent.drivers.libvirt import LibvirtDriver
from altostratus.agent.protocol import CommandKind, Delivery

VM = "i-2-7-VM"


@pytest.fixture
async def driver(tmp_path: Path) -> AsyncIterator[LibvirtDriver]:
    driver = LibvirtDriver("test:///default", tmp_path / "storage", shutdown_timeout=5)
    yield driver
    await driver.close()


@pytest.fixture
def template(tmp_path: Path) -> str:
    image = tmp_path / "linux.qcow2"
    image.write_bytes(b"QFI\xfb" + bytes(4096))
    return image.as_uri()


def _start(template_url: str, command_id: str = "start-1") -> Delivery:
    return Delivery(
        id=command_id,
        kind=CommandKind.START_VM,
        payload={
            "instance_name": VM,
            "vm_uuid": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
            "cpu_number": 2,
            "cpu_speed": 1000,
            "memory_mb": 256,
            "volumes": [
                {
                    "uuid": "root-vol",
                    "device_id": 0,
                    "size": 1 << 20,
                    "template_url": template_url,
                    "template_format": "QCOW2",
                }
            ],
            "nics": [{"mac_address": "52:54:00:12:34:56", "ip_address": "10.1.0.10"}],
        },
    )


async def test_started_vm_is_a_running_domain_until_destroyed(
    driver: LibvirtDriver, template: str
) -> None:
    core = AgentCore(driver)
    answer = await core.execute(_start(template))
    assert answer.result == {"power_state": "PowerOn"}, answer
    domain = driver._conn.lookupByName(VM)
    assert domain.isActive()
    assert domain.maxMemory() == 256 * 1024
    assert (await core.power_states())[VM] == "PowerOn"
    assert (driver.storage_dir / "volumes" / "root-vol").read_bytes().startswith(b"QFI")

    stop = Delivery(id="stop-1", kind=CommandKind.STOP_VM, payload={"instance_name": VM})
    assert (await core.execute(stop)).result == {}
    assert (await core.power_states())[VM] == "PowerOff"
    assert (await core.execute(_start(template, "start-2"))).result["power_state"] == "PowerOn"

    destroy = Delivery(
        id="destroy-1",
        kind=CommandKind.DESTROY_VM,
        payload={"instance_name": VM, "volume_uuids": ["root-vol"]},
    )
    assert (await core.execute(destroy)).result == {}
    assert VM not in await core.power_states()
    assert VM not in [d.name() for d in driver._conn.listAllDomains(0)]
    assert not (driver.storage_dir / "volumes" / "root-vol").exists()
    # Idempotent: destroying what is gone succeeds.
    again = Delivery(id="destroy-2", kind=CommandKind.DESTROY_VM, payload={"instance_name": VM})
    assert (await core.execute(again)).result == {}


async def test_template_is_fetched_once(driver: LibvirtDriver, template: str) -> None:
    core = AgentCore(driver)
    await core.execute(_start(template))
    cached = list((driver.storage_dir / "templates").iterdir())
    assert len(cached) == 1
    os.unlink(template.removeprefix("file://"))  # the cache serves the next VM
    other = _start(template, "start-x").model_copy(
        update={
            "payload": {
                **_start(template).payload,
                "instance_name": "i-2-8-VM",
                "vm_uuid": "2b4e28ba-2fa1-11d2-883f-0016d3cca427",
                "volumes": [{**_start(template).payload["volumes"][0], "uuid": "root-2"}],
            }
        }
    )
    assert (await core.execute(other)).result == {"power_state": "PowerOn"}


async def test_volumes_snapshots_and_errors(driver: LibvirtDriver, template: str) -> None:
    core = AgentCore(driver)
    await core.execute(_start(template))
    volume = {"uuid": "data-1", "device_id": 1, "size": 1 << 20}
    attach = Delivery(
        id="a", kind=CommandKind.ATTACH_VOLUME, payload={"volume": volume, "instance_name": VM}
    )
    assert (await core.execute(attach)).result == {}
    inactive = driver._conn.lookupByName(VM).XMLDesc(2)  # VIR_DOMAIN_XML_INACTIVE
    assert "data-1" in inactive  # test:/// cannot hot-plug: the definition has it
    detach = Delivery(
        id="d", kind=CommandKind.DETACH_VOLUME, payload={"volume": volume, "instance_name": VM}
    )
    assert (await core.execute(detach)).result == {}
    assert "data-1" not in driver._conn.lookupByName(VM).XMLDesc(2)
    snapshot = Delivery(
        id="s",
        kind=CommandKind.CREATE_SNAPSHOT,
        payload={"snapshot_uuid": "snap-1", "volume_uuid": "data-1"},
    )
    answer = await core.execute(snapshot)
    assert answer.result["size"] == 1 << 20
    assert answer.result["path"] == str(driver.storage_dir / "snapshots" / "snap-1")
    resize = Delivery(
        id="r", kind=CommandKind.RESIZE_VOLUME, payload={"volume": {**volume, "size": 2 << 20}}
    )
    assert (await core.execute(resize)).result == {}
    assert (driver.storage_dir / "volumes" / "data-1").stat().st_size == 2 << 20
    missing = Delivery(id="m", kind=CommandKind.REBOOT_VM, payload={"instance_name": "i-9-9-VM"})
    assert "no VM i-9-9-VM" in (await core.execute(missing)).result["error"]
    unfetchable = _start("ftp://images.invalid/x.qcow2", "bad").model_copy()
    bad_payload = {
        **unfetchable.payload,
        "instance_name": "i-3-3-VM",
        "volumes": [{**unfetchable.payload["volumes"][0], "uuid": "root-3"}],
    }
    failed = await core.execute(unfetchable.model_copy(update={"payload": bad_payload}))
    assert "cannot fetch template" in failed.result["error"]
