"""Two real ``alto agent`` processes on one shared storage: heartbeats, probes, death.

No management server is needed: an agent writes its storage heartbeat and serves its
probe listener from the moment it starts, registered or not (a host cut off from every
server must still show its neighbours that it is alive).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from altostratus.agent.core import AgentCore
from altostratus.agent.drivers.simulator import SimulatorDriver
from altostratus.agent.protocol import CheckHost, CommandKind, Delivery, HostCheck
from altostratus.agent.shared_storage import SharedStorage

pytestmark = pytest.mark.slow

ALTO = str(Path(sys.executable).parent / "alto")
INTERVAL = 0.2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _agent(shared: Path, prefix: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(
            [
                ALTO,
                "agent",
                "--endpoint",
                f"http://127.0.0.1:{_free_port()}",  # nobody: the agent keeps retrying
                "--token",
                "unused",
                "--driver",
                "simulator",
                "--name-prefix",
                prefix,
                "--shared-storage",
                str(shared),
                "--probe-listen",
                f"127.0.0.1:{port}",
                "--lease-ttl",
                "2",
                "--storage-heartbeat-interval",
                str(INTERVAL),
            ],
            env={k: v for k, v in os.environ.items() if not k.startswith("ALTO_")},
            stdout=output,
            stderr=subprocess.STDOUT,
        )


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[dict[str, tuple[subprocess.Popen[bytes], int]]]:
    """Host ``a-1`` and host ``b-1``, each in an agent process of its own."""
    started: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    try:
        for prefix in ("a-", "b-"):
            port = _free_port()
            log = tmp_path / f"{prefix}agent.log"
            started[f"{prefix}1"] = (_agent(tmp_path / "primary", prefix, port, log), port)
        yield started
    finally:
        for process, _port in started.values():
            if process.poll() is None:
                process.kill()
            process.wait()


async def _check(neighbour: AgentCore, host: str, port: int) -> HostCheck:
    check = CheckHost(host_name=host, probe_address=f"127.0.0.1:{port}", volume_uuids=[])
    answer = await neighbour.execute(
        Delivery(
            id=f"{host}-{asyncio.get_running_loop().time()}",
            kind=CommandKind.CHECK_HOST,
            payload=check.model_dump(),
        )
    )
    return HostCheck.model_validate(answer.result)


async def _until(condition: Callable[[], Awaitable[bool]], what: str, within: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await condition():
        assert loop.time() < deadline, what
        await asyncio.sleep(0.1)


async def test_a_killed_agent_stops_answering_and_writing(
    tmp_path: Path, agents: dict[str, tuple[subprocess.Popen[bytes], int]]
) -> None:
    neighbour = AgentCore(
        SimulatorDriver(), host_name="c-1", storage=SharedStorage(tmp_path / "primary")
    )

    async def both_alive() -> bool:
        checks = [await _check(neighbour, host, port) for host, (_, port) in agents.items()]
        return all(
            check.reachable and check.heartbeat_age is not None and check.heartbeat_age < 1.0
            for check in checks
        )

    await _until(both_alive, "both agents answer their probes and write heartbeats")
    doomed, port = agents["a-1"]
    doomed.kill()  # SIGKILL: the host's power went off
    doomed.wait()
    await asyncio.sleep(10 * INTERVAL)
    dead = await _check(neighbour, "a-1", port)
    alive = await _check(neighbour, "b-1", agents["b-1"][1])
    assert dead.reachable is False
    assert dead.heartbeat_age is not None
    assert dead.heartbeat_age >= 10 * INTERVAL
    assert alive.reachable is True
    assert alive.heartbeat_age is not None
    assert alive.heartbeat_age < 5 * INTERVAL
