"""The neighbour check: what one agent answers about another (``CheckHost``)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from altostratus.agent.core import AgentCore
from altostratus.agent.drivers.simulator import SimulatorDriver
from altostratus.agent.probe import listen
from altostratus.agent.protocol import CheckHost, CommandKind, Delivery, HostCheck
from altostratus.agent.shared_storage import SharedStorage


@pytest.fixture
async def listener() -> AsyncIterator[str]:
    """A probe listener of an agent process running host ``suspect``."""
    server, address = await listen("127.0.0.1:0", ["suspect", "suspect-2"])
    yield address
    server.close()
    await server.wait_closed()


def _dead_address() -> str:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


async def _check(core: AgentCore, check: CheckHost) -> HostCheck:
    answer = await core.execute(
        Delivery(
            id=f"check-{time.monotonic_ns()}",
            kind=CommandKind.CHECK_HOST,
            payload=check.model_dump(),
        )
    )
    assert not answer.failed, answer.result
    return HostCheck.model_validate(answer.result)


def _neighbour(shared: Path | None = None) -> AgentCore:
    storage = None if shared is None else SharedStorage(shared)
    return AgentCore(SimulatorDriver(), host_name="neighbour", storage=storage)


async def test_a_listening_suspect_is_reachable(listener: str) -> None:
    check = await _check(
        _neighbour(), CheckHost(host_name="suspect-2", probe_address=listener, volume_uuids=[])
    )
    assert check == HostCheck(reachable=True, heartbeat_age=None, disk_activity_age=None)


async def test_a_dead_listener_is_unreachable() -> None:
    check = CheckHost(host_name="suspect", probe_address=_dead_address(), volume_uuids=[])
    assert (await _check(_neighbour(), check)).reachable is False


async def test_a_listener_of_other_hosts_does_not_count(listener: str) -> None:
    check = CheckHost(host_name="impostor", probe_address=listener, volume_uuids=[])
    assert (await _check(_neighbour(), check)).reachable is False


async def test_a_listener_that_never_answers_is_unreachable_within_a_second() -> None:
    async def silent(reader: asyncio.StreamReader, _writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts and says nothing: a hung agent

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        started = time.monotonic()
        check = CheckHost(host_name="suspect", probe_address=f"127.0.0.1:{port}", volume_uuids=[])
        assert (await _check(_neighbour(), check)).reachable is False
        assert time.monotonic() - started < 2.0
    finally:
        server.close()


async def test_without_an_address_reachability_is_unknown(tmp_path: Path) -> None:
    check = await _check(
        _neighbour(tmp_path), CheckHost(host_name="suspect", probe_address=None, volume_uuids=[])
    )
    assert check.reachable is None


async def test_ages_come_from_the_suspects_files_on_shared_storage(tmp_path: Path) -> None:
    """The suspect wrote its heartbeat and leased its VM's disk; then it went quiet."""
    suspect = AgentCore(SimulatorDriver(), host_name="suspect", storage=SharedStorage(tmp_path))
    await suspect.belts.beat()
    storage = suspect.belts.storage
    assert storage is not None
    await asyncio.to_thread(storage.acquire, "suspect", "i-2-7-VM", ["root-1"])
    await asyncio.sleep(0.3)
    neighbour = _neighbour(tmp_path)
    ask = CheckHost(host_name="suspect", probe_address=None, volume_uuids=["root-1", "other"])
    first = await _check(neighbour, ask)
    await asyncio.sleep(0.3)
    later = await _check(neighbour, ask)
    for age, older in [
        (first.heartbeat_age, later.heartbeat_age),
        (first.disk_activity_age, later.disk_activity_age),
    ]:
        assert age is not None
        assert older is not None
        assert 0.3 <= age < older < 5


async def test_a_host_without_files_has_no_ages(tmp_path: Path) -> None:
    check = CheckHost(host_name="never-ran", probe_address=None, volume_uuids=["root-9"])
    found = await _check(_neighbour(tmp_path), check)
    assert (found.heartbeat_age, found.disk_activity_age) == (None, None)
