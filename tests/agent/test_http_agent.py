"""A host agent over HTTP (in process): registration, failover, commands, redelivery."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette

from altostratus.agent.core import AgentCore
from altostratus.agent.drivers.simulator import SimulatorDriver
from altostratus.agent.host_agent import HostAgent
from altostratus.agent.link import ManagementLink
from altostratus.agent.protocol import Answer
from altostratus.db.models import Host, HostCommand, Zone
from altostratus.runtime import Runtime
from altostratus.services.agents import link as agent_link
from altostratus.timeutil import utcnow
from tests.support.agent_transport import ServerTransport
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld
from tests.support.jobs import run_job

DOWN = "http://mgmt1.invalid:8080"
UP = "http://mgmt2.invalid:8080"


class _FirstServerDown(httpx.AsyncBaseTransport):
    """``mgmt1`` refuses connections; ``mgmt2`` is the application under test."""

    def __init__(self, app: Starlette) -> None:
        self._app = ServerTransport(app=app)
        self.refused = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "mgmt1.invalid":
            self.refused += 1
            raise httpx.ConnectError("connection refused", request=request)
        return await self._app.handle_async_request(request)


async def _token(runtime: Runtime, zone_uuid: str) -> str:
    async with runtime.db.transaction() as session:
        zone = await session.scalar(select(Zone).where(Zone.uuid == zone_uuid))
        assert zone is not None
        return await agent_link.zone_token(session, runtime.deps.keyring, zone)


async def _wait_up(api: ApiClient, name: str, *, within: float = 15.0) -> dict[str, object]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        body = await api.ok("listHosts", name=name)
        if body and body["host"][0]["state"] == "Up":
            host: dict[str, object] = body["host"][0]
            return host
        assert loop.time() < deadline, f"host {name} not Up: {body}"
        await asyncio.sleep(0.1)


@pytest.fixture
async def agent(
    app: Starlette, compute: ComputeWorld
) -> AsyncIterator[tuple[HostAgent, SimulatorDriver, _FirstServerDown]]:
    transport = _FirstServerDown(app)
    token = await _token(app.state.runtime, compute.zone_id)
    driver = SimulatorDriver(cpu_number=8, cpu_speed=2500, memory_mb=16384)
    async with httpx.AsyncClient(transport=transport) as client:
        host_agent = HostAgent(
            ManagementLink([DOWN, UP], client=client, retry_pause=0.1),
            AgentCore(driver),
            name="remote1",
            token=token,
            poll_wait=1.0,
        )
        task = asyncio.create_task(host_agent.run())
        yield host_agent, driver, transport
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_agent_fails_over_registers_and_comes_up(
    api: ApiClient, agent: tuple[HostAgent, SimulatorDriver, _FirstServerDown]
) -> None:
    host_agent, _driver, transport = agent
    host = await _wait_up(api, "remote1")
    assert transport.refused >= 1
    assert host_agent.link.current == "http://mgmt2.invalid:8080"
    assert (host["cpunumber"], host["cpuspeed"]) == (8, 2500)
    assert host["hypervisor"] == "Simulator"
    assert host["id"] == host_agent.host_id


async def test_vm_lifecycle_through_the_http_agent(
    api: ApiClient,
    compute: ComputeWorld,
    agent: tuple[HostAgent, SimulatorDriver, _FirstServerDown],
) -> None:
    _host_agent, driver, _transport = agent
    host = await _wait_up(api, "remote1")
    result = await run_job(
        api,
        "deployVirtualMachine",
        zoneid=compute.zone_id,
        serviceofferingid=compute.small_offering_id,
        templateid=compute.template_id,
        hostid=host["id"],
    )
    vm = result["virtualmachine"]
    assert vm["state"] == "Running"
    assert vm["instancename"] in driver.running
    await run_job(api, "stopVirtualMachine", id=vm["id"])
    assert vm["instancename"] not in driver.running


async def test_the_guest_gets_the_vms_user_data_through_the_agent(
    api: ApiClient,
    compute: ComputeWorld,
    agent: tuple[HostAgent, SimulatorDriver, _FirstServerDown],
) -> None:
    _host_agent, driver, _transport = agent
    host = await _wait_up(api, "remote1")
    first, second = base64.b64encode(b"#cloud-config\n").decode(), base64.b64encode(b"v2").decode()
    result = await run_job(
        api,
        "deployVirtualMachine",
        zoneid=compute.zone_id,
        serviceofferingid=compute.small_offering_id,
        templateid=compute.template_id,
        hostid=host["id"],
        userdata=first,
    )
    vm = result["virtualmachine"]
    assert await driver.user_data(vm["instancename"]) == first
    await run_job(api, "stopVirtualMachine", id=vm["id"])
    await api.ok("updateVirtualMachine", id=vm["id"], userdata=second)
    await run_job(api, "startVirtualMachine", id=vm["id"], hostid=host["id"])
    assert await driver.user_data(vm["instancename"]) == second


async def test_reconnect_makes_the_agent_register_again(
    app: Starlette,
    api: ApiClient,
    agent: tuple[HostAgent, SimulatorDriver, _FirstServerDown],
) -> None:
    host_agent, _driver, _transport = agent
    host = await _wait_up(api, "remote1")
    result = await run_job(api, "reconnectHost", id=host["id"])
    assert result["host"]["state"] == "Up"
    assert host_agent.host_id == host["id"]  # adopted again, same host
    events = await api.ok("listEvents", type="HOST.CONNECT")
    assert events["count"] == 2


async def test_unknown_token_and_key_are_refused(app: Starlette, compute: ComputeWorld) -> None:
    transport = ServerTransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=UP) as client:
        facts = {"name": "x", "hypervisor": "KVM", "cpu_number": 1, "cpu_speed": 1, "memory_mb": 1}
        answer = await client.post("/agent/v1/register", json={"token": "nope", "facts": facts})
        assert answer.status_code == 401
        answer = await client.post(
            "/agent/v1/heartbeat",
            json={"power_states": {}},
            headers={"x-alto-host": compute.host_ids[0], "x-alto-key": "guess"},
        )
        assert answer.status_code == 401
        answer = await client.post("/agent/v1/register", content=b"{not json")
        assert answer.status_code == 400
        token = await _token(app.state.runtime, compute.zone_id)
        kvm = {**facts, "hypervisor": "KVM"}
        answer = await client.post("/agent/v1/register", json={"token": token, "facts": kvm})
        assert answer.status_code == 431
        assert "no cluster" in answer.json()["error"]


async def test_registration_records_the_host_s_address(
    app: Starlette, api: ApiClient, compute: ComputeWorld
) -> None:
    """``listHosts ipaddress``: what the agent reports, else the address it connects from."""
    token = await _token(app.state.runtime, compute.zone_id)
    facts = {"hypervisor": "Simulator", "cpu_number": 2, "cpu_speed": 1000, "memory_mb": 2048}
    transport = httpx.ASGITransport(app=app, client=("192.0.2.41", 50123))
    async with httpx.AsyncClient(transport=transport, base_url=UP) as client:
        for name, reported in (("told", "192.0.2.99"), ("untold", None)):
            answer = await client.post(
                "/agent/v1/register",
                json={"token": token, "facts": {**facts, "name": name, "ip_address": reported}},
            )
            assert answer.status_code == 200, answer.text
    told = (await api.ok("listHosts", name="told"))["host"][0]
    untold = (await api.ok("listHosts", name="untold"))["host"][0]
    assert told["ipaddress"] == "192.0.2.99"
    assert untold["ipaddress"] == "192.0.2.41"


async def _host_with_command(runtime: Runtime, zone_uuid: str, name: str) -> tuple[int, str]:
    """A host (no agent plays it) and one Pending StartVm for it: their ids."""
    async with runtime.db.transaction() as session:
        token_zone = await session.scalar(select(Zone).where(Zone.uuid == zone_uuid))
        assert token_zone is not None
        host = Host(
            name=name,
            zone_id=token_zone.id,
            pod_id=(await session.scalar(select(Host.pod_id).limit(1))) or 0,
            cluster_id=(await session.scalar(select(Host.cluster_id).limit(1))) or 0,
            hypervisor="Simulator",
            url=f"agent://{name}",
        )
        session.add(host)
        await session.flush()
        command = HostCommand(
            host_id=host.id,
            kind="StartVm",
            payload='{"instance_name": "i-9-9-VM", "vm_uuid": "u", "cpu_number": 1, '
            '"cpu_speed": 1, "memory_mb": 1, "volumes": []}',
        )
        session.add(command)
        await session.flush()
        return host.id, command.uuid


async def test_unanswered_commands_are_redelivered_and_run_once(
    app: Starlette, compute: ComputeWorld
) -> None:
    runtime: Runtime = app.state.runtime
    settings = runtime.settings
    host_id, command_uuid = await _host_with_command(runtime, compute.zone_id, "quiet")
    only_quiet = Host.id == host_id
    async with runtime.db.transaction() as session:
        first = await agent_link.take_commands(session, settings, only_quiet)
    async with runtime.db.transaction() as session:
        assert await agent_link.take_commands(session, settings, only_quiet) == []
        stale = utcnow() - agent_link.redelivery_after(settings) - timedelta(seconds=1)
        await session.execute(
            update(HostCommand).where(HostCommand.uuid == command_uuid).values(sent=stale)
        )
    async with runtime.db.transaction() as session:
        second = await agent_link.take_commands(session, settings, only_quiet)
    assert [d.id for _, d in first] == [d.id for _, d in second] == [command_uuid]
    driver = SimulatorDriver()
    core = AgentCore(driver)
    answers = [await core.execute(delivery) for _, delivery in [*first, *second]]
    assert driver.executed == 1
    async with runtime.db.transaction() as session:
        assert await agent_link.record_answers(session, answers, only_quiet) == [command_uuid]
        row = await session.scalar(select(HostCommand).where(HostCommand.uuid == command_uuid))
        assert row is not None
        assert (row.state, row.deliveries) == ("Done", 2)
        assert row.result == '{"power_state":"PowerOn"}'


async def test_an_agent_cannot_answer_another_hosts_commands(
    app: Starlette, compute: ComputeWorld
) -> None:
    runtime: Runtime = app.state.runtime
    host_a, _ = await _host_with_command(runtime, compute.zone_id, "host-a")
    host_b, command_b = await _host_with_command(runtime, compute.zone_id, "host-b")
    forged = Answer(id=command_b, result={"error": "forged"})
    async with runtime.db.transaction() as session:
        assert await agent_link.record_answers(session, [forged], Host.id == host_a) == []
    async with runtime.db.transaction() as session:
        row = await session.scalar(select(HostCommand).where(HostCommand.uuid == command_b))
        assert row is not None
        assert (row.state, row.result) == ("Pending", None)
        assert await agent_link.record_answers(session, [forged], Host.id == host_b) == [command_b]


async def test_concurrent_takes_hand_a_command_out_once(
    app: Starlette, compute: ComputeWorld
) -> None:
    """Two servers' long polls see the same Pending command; only one may deliver it.

    The first take stays uncommitted a moment, so the second reads the command as
    Pending and then waits for its row (PostgreSQL); SQLite runs them one at a time.
    """
    runtime: Runtime = app.state.runtime
    host_id, command_uuid = await _host_with_command(runtime, compute.zone_id, "busy")
    mine = Host.id == host_id
    first_took = asyncio.Event()

    async def first() -> list[str]:
        async with runtime.db.transaction() as session:
            taken = await agent_link.take_commands(session, runtime.settings, mine)
            first_took.set()
            await asyncio.sleep(0.3)
        return [delivery.id for _, delivery in taken]

    async def second() -> list[str]:
        await first_took.wait()
        async with runtime.db.transaction() as session:
            taken = await agent_link.take_commands(session, runtime.settings, mine)
        return [delivery.id for _, delivery in taken]

    assert list(await asyncio.gather(first(), second())) == [[command_uuid], []]
    async with runtime.db.transaction(write=False) as session:
        deliveries = await session.scalar(
            select(HostCommand.deliveries).where(HostCommand.uuid == command_uuid)
        )
    assert deliveries == 1


async def test_heartbeat_reply_tells_the_hosts_stored_state(
    app: Starlette, compute: ComputeWorld
) -> None:
    runtime: Runtime = app.state.runtime
    token = await _token(runtime, compute.zone_id)
    transport = ServerTransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=UP) as client:
        facts = {
            "name": "beating",
            "hypervisor": "Simulator",
            "cpu_number": 1,
            "cpu_speed": 1000,
            "memory_mb": 1024,
        }
        answer = await client.post("/agent/v1/register", json={"token": token, "facts": facts})
        assert answer.status_code == 200, answer.text
        registered = answer.json()
        headers = {"x-alto-host": registered["host_id"], "x-alto-key": registered["key"]}
        beat = await client.post("/agent/v1/heartbeat", json={"power_states": {}}, headers=headers)
    async with runtime.db.transaction(write=False) as session:
        row = (
            await session.execute(
                select(Host.state, Host.resource_state).where(Host.uuid == registered["host_id"])
            )
        ).one()
    assert beat.json() == {"state": row.state, "resource_state": row.resource_state}
    assert row.state == "Up"
