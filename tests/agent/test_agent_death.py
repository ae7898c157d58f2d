"""Agent death: a separate ``alto agent`` process killed with SIGKILL; its hosts go
Disconnected, then Down (a real server, real HTTP, real heartbeats)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.client import ApiClient
from tests.support.server import LiveServer

pytestmark = pytest.mark.slow

ALTO = str(Path(sys.executable).parent / "alto")
FAST_CLOCK = {
    "ALTO_HEARTBEAT_INTERVAL": "0.5",
    "ALTO_HOST_DISCONNECT_AFTER": "2",
    "ALTO_HOST_DOWN_AFTER": "5",
}


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ALTO_")}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with LiveServer(tmp_path / "mgmt", extra_env=FAST_CLOCK) as live:
        yield live


@pytest.fixture
async def admin(server: LiveServer) -> AsyncIterator[ApiClient]:
    keys = server.admin
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
        yield ApiClient(http, keys["apikey"], keys["secretkey"])


def _read_token(server: LiveServer) -> str:
    """``alto agent token`` reads the zone's token from the database, as an operator would."""
    return subprocess.run(
        [ALTO, "agent", "token", "--zone", "z1", "--data-dir", str(server.data_dir)],
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def _start_agent(server: LiveServer, token: str, log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [
                ALTO,
                "agent",
                "--endpoint",
                f"http://127.0.0.1:{server.port}",
                "--driver",
                "simulator",
                "--hosts",
                "3",
                "--name-prefix",
                "doomed-",
            ],
            # From the environment, as deploy/systemd/alto-agent.service passes it.
            env={**_env(), "ALTO_AGENT_TOKEN": token},
            stdout=log,
            stderr=subprocess.STDOUT,
        )


async def _states(admin: ApiClient) -> list[str]:
    body = await admin.ok("listHosts", keyword="doomed-")
    return sorted(host["state"] for host in body.get("host", []))


async def _wait_states(admin: ApiClient, wanted: list[str], within: float) -> float:
    """Seconds until every host is in ``wanted`` states."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while (states := await _states(admin)) != wanted:
        assert loop.time() - start < within, f"hosts are {states}, not {wanted}"
        await asyncio.sleep(0.1)
    return loop.time() - start


async def test_killed_agent_hosts_go_disconnected_then_down(
    server: LiveServer, admin: ApiClient
) -> None:
    zone = (
        await admin.ok(
            "createZone", name="z1", dns1="8.8.8.8", internaldns1="10.0.0.2", networktype="Advanced"
        )
    )["zone"]
    pod = (
        await admin.ok(
            "createPod",
            zoneid=zone["id"],
            name="p1",
            gateway="192.168.10.1",
            netmask="255.255.255.0",
        )
    )["pod"]
    await admin.ok(
        "addCluster",
        zoneid=zone["id"],
        podid=pod["id"],
        clustername="c1",
        clustertype="CloudManaged",
        hypervisor="Simulator",
    )
    log_path = server.data_dir.parent / "agent.log"
    agent = _start_agent(server, _read_token(server), log_path)
    try:
        await _wait_states(admin, ["Up"] * 3, within=30)
        agent.kill()  # SIGKILL: no goodbye
        agent.wait()
        disconnected_after = await _wait_states(admin, ["Disconnected"] * 3, within=15)
        down_after = await _wait_states(admin, ["Down"] * 3, within=15)
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
    assert disconnected_after >= 1.0  # not before host_disconnect_after (2 s) of silence
    assert down_after >= 1.0
    events = await admin.ok("listEvents", type="HOST.DOWN")
    assert events["count"] == 3
