"""The agent core: each command id runs once, answers are kept, failures are answers."""

from __future__ import annotations

import asyncio

from altostratus.agent.core import AgentCore
from altostratus.agent.drivers.simulator import SimulatorDriver
from altostratus.agent.protocol import CommandKind, Delivery


def _start(command_id: str, name: str = "i-2-1-VM") -> Delivery:
    return Delivery(
        id=command_id,
        kind=CommandKind.START_VM,
        payload={
            "instance_name": name,
            "vm_uuid": "8d7f0a51-6a43-4c5e-9a59-4a1f4f0e7b11",
            "cpu_number": 1,
            "cpu_speed": 500,
            "memory_mb": 512,
            "volumes": [],
        },
    )


async def test_redelivered_command_runs_once() -> None:
    driver = SimulatorDriver()
    core = AgentCore(driver)
    first = await core.execute(_start("c1"))
    again = await core.execute(_start("c1"))
    assert first == again
    assert first.result == {"power_state": "PowerOn"}
    assert driver.executed == 1
    assert await core.power_states() == {"i-2-1-VM": "PowerOn"}


async def test_redelivery_while_running_joins_the_first_execution() -> None:
    driver = SimulatorDriver(latency=0.2)
    core = AgentCore(driver)
    answers = await asyncio.gather(*(core.execute(_start("c2")) for _ in range(5)))
    assert len({answer.id for answer in answers}) == 1
    assert driver.executed == 1


async def test_old_answers_are_forgotten_beyond_the_limit() -> None:
    driver = SimulatorDriver()
    core = AgentCore(driver, remembered=2)
    for number in range(3):
        await core.execute(_start(f"c{number}", name=f"vm{number}"))
    await core.execute(_start("c0", name="vm0"))
    assert driver.executed == 4  # c0 fell out of memory; starting twice is harmless


async def test_bad_payload_and_stop_destroy_are_answers() -> None:
    core = AgentCore(SimulatorDriver())
    broken = await core.execute(Delivery(id="b", kind=CommandKind.STOP_VM, payload={}))
    assert broken.failed
    assert "instance_name" in broken.result["error"]
    await core.execute(_start("s"))
    stop = Delivery(id="t", kind=CommandKind.STOP_VM, payload={"instance_name": "i-2-1-VM"})
    assert (await core.execute(stop)).result == {}
    assert await core.power_states() == {"i-2-1-VM": "PowerOff"}
    destroy = Delivery(id="d", kind=CommandKind.DESTROY_VM, payload={"instance_name": "i-2-1-VM"})
    assert (await core.execute(destroy)).result == {}
    unknown = Delivery(id="u", kind=CommandKind.DESTROY_VM, payload={"instance_name": "nope"})
    assert (await core.execute(unknown)).result == {}
    assert await core.power_states() == {}


async def test_snapshot_answer_has_path_and_size() -> None:
    core = AgentCore(SimulatorDriver())
    answer = await core.execute(
        Delivery(
            id="snap",
            kind=CommandKind.CREATE_SNAPSHOT,
            payload={"snapshot_uuid": "s1", "volume_uuid": "v1"},
        )
    )
    assert set(answer.result) == {"path", "size"}
