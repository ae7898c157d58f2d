"""Host HA on real processes and real partitions: the issue's scenarios 1-4 and 7.

Three hosts, each an ``alto-agent`` process in its own network namespace behind an
``ipmi_sim`` BMC that starts and kills it, on shared storage with disk leases and a
ledger; one management server. After every scenario the ledger must show no VM on two
hosts at once. One rig per backend for the module; each test leaves every host powered
on, linked and Up, and its VMs destroyed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import select

from altostratus.agent.protocol import LEASE_HELD, CommandKind, StartVm
from altostratus.db.engine import Database
from altostratus.db.models import Host, HostCommand
from altostratus.db.models.hosts import CommandState
from tests.conftest import BACKENDS
from tests.support.client import ApiClient
from tests.support.ha_rig import HaRig, rig_database
from tests.support.host_ha_rig import (
    HA_CLOCK,
    Catalog,
    belts,
    deploy,
    overlaps,
    protect,
    seed_catalog,
    vm,
    wait_hastate,
    wait_vm,
)
from tests.support.jobs import run_job

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ha_rig")]

#: Seconds a powered-on host may take to start its agent and come Up on a loaded machine.
AGENT_START = 45.0
#: Seconds for a dead host's HA VMs to run elsewhere on the rig's clock (15 s goal, slack
#: for a loaded 2-core machine).
RECOVERY = 60.0


@pytest.fixture(scope="module", params=BACKENDS)
def rig(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HaRig]:
    database_url = rig_database(request, request.param)
    with HaRig(
        tmp_path_factory.mktemp(f"hostha-{request.param}"),
        hosts=3,
        database_url=database_url,
        server_env=HA_CLOCK,
        extra_agent_args=belts,
    ) as built:
        yield built


@pytest.fixture(scope="module")
def catalog(rig: HaRig) -> Catalog:
    async def seed() -> Catalog:
        async with rig.api() as api:
            await _all_up(rig, api)
            return await seed_catalog(api)

    return asyncio.run(seed())


@pytest.fixture
async def admin(rig: HaRig, catalog: Catalog) -> AsyncIterator[ApiClient]:
    async with rig.api() as api:
        await _all_up(rig, api)
        try:
            yield api
        finally:
            await _restore(rig, api)
    assert overlaps(rig) == []


async def _all_up(rig: HaRig, api: ApiClient) -> None:
    await rig.wait_for_states(api, {host.name: "Up" for host in rig.hosts}, within=AGENT_START)


async def _restore(rig: HaRig, api: ApiClient) -> None:
    """Every link healed, every host powered on and Up, HA off, no VM left."""
    for host in rig.hosts:
        rig.cut_management(host, cut=False)
        rig.cut_bmc(host, cut=False)
        rig.cut_cluster(host, cut=False)
        if rig.power(host, "status") != "Chassis Power is on":
            rig.power(host, "on")
    await _all_up(rig, api)
    for host in (await api.ok("listHostHAResources")).get("hostha", []):
        if host["haenable"]:
            await run_job(api, "disableHAForHost", hostid=host["hostid"])
    for machine in (await api.ok("listVirtualMachines", listall=True)).get("virtualmachine", []):
        await run_job(api, "destroyVirtualMachine", id=machine["id"], expunge=True)


async def test_1_a_powered_off_host_is_fenced_and_its_ha_vms_run_elsewhere(
    rig: HaRig, admin: ApiClient, catalog: Catalog
) -> None:
    host = rig.hosts[0]
    host_id = await protect(admin, host, bmc=True)
    ha_vms = [await deploy(admin, catalog, host, ha=True) for _ in range(2)]
    plain_vm = await deploy(admin, catalog, host, ha=False)

    rig.power(host, "off")
    seconds = max(
        [await wait_vm(admin, v, "Running", not_on=host_id, within=RECOVERY) for v in ha_vms]
    )
    print(f"\npower off → last HA VM Running elsewhere: {seconds:.1f} s")
    await wait_hastate(admin, host, "Recovered", within=RECOVERY)
    assert (await vm(admin, plain_vm))["state"] == "Stopped"
    events = (await admin.ok("listEvents", type="HA.STATE.TRANSITION"))["event"]
    texts = [event["description"] for event in events]
    assert any("Checking -> Fencing" in text for text in texts)
    assert any("Fencing -> Fenced" in text and "power is Off" in text for text in texts)
    assert rig.power(host, "status") == "Chassis Power is off"

    rig.power(host, "on")
    await wait_hastate(admin, host, "Available", within=AGENT_START)


async def test_2_a_cut_management_link_to_a_live_host_without_bmc_restarts_nothing(
    rig: HaRig, admin: ApiClient, catalog: Catalog
) -> None:
    host = rig.hosts[1]
    host_id = await protect(admin, host, bmc=False)
    ha_vm = await deploy(admin, catalog, host, ha=True)
    pids = rig.agent_pids(host)
    rig.cut_management(host)
    try:
        await wait_hastate(admin, host, "Degraded", within=RECOVERY)
        alerts = (await admin.ok("listAlerts"))["alert"]
        assert any(host.name in alert["description"] for alert in alerts)
        assert (await vm(admin, ha_vm))["hostid"] == host_id
    finally:
        rig.cut_management(host, cut=False)
    await wait_hastate(admin, host, "Available", within=30)
    await rig.wait_for_states(admin, {host.name: "Up"}, within=30)
    assert rig.agent_pids(host) == pids
    machine = await vm(admin, ha_vm)
    assert (machine["state"], machine["hostid"]) == ("Running", host_id)


async def test_3_a_cut_management_link_with_a_reachable_bmc_fences_before_restarting(
    rig: HaRig, admin: ApiClient, catalog: Catalog
) -> None:
    host = rig.hosts[2]
    host_id = await protect(admin, host, bmc=True)
    ha_vm = await deploy(admin, catalog, host, ha=True)
    rig.cut_management(host)
    try:
        await wait_vm(admin, ha_vm, "Running", not_on=host_id, within=RECOVERY)
        assert rig.agent_pids(host) == []
        assert rig.power(host, "status") == "Chassis Power is off"
    finally:
        rig.cut_management(host, cut=False)
    # The ledger orders it: the old copy ended (host-off) before the new one started.
    entries = rig.ledger_entries()
    off = max(
        e["monotonic_ns"] for e in entries if e["action"] == "host-off" and e["host"] == host.name
    )
    instance = (await vm(admin, ha_vm))["instancename"]
    assert instance
    restarts = [
        e["monotonic_ns"]
        for e in entries
        if e["action"] == "start" and e["instance"] == instance and e["host"] != host.name
    ]
    assert restarts
    assert min(restarts) > off
    rig.power(host, "on")


async def test_4_management_and_bmc_cut_with_live_activity_restarts_nothing(
    rig: HaRig, admin: ApiClient, catalog: Catalog
) -> None:
    host = rig.hosts[0]
    host_id = await protect(admin, host, bmc=True)
    ha_vm = await deploy(admin, catalog, host, ha=True)
    rig.cut_management(host)
    rig.cut_bmc(host)
    try:
        await wait_hastate(admin, host, "Degraded", within=RECOVERY)
        alerts = (await admin.ok("listAlerts"))["alert"]
        assert any(host.name in alert["description"] for alert in alerts)
        assert (await vm(admin, ha_vm))["hostid"] == host_id
        assert len(rig.agent_pids(host)) == 1
    finally:
        # The management link first: a Degraded host still silent when its BMC comes
        # back is fenced then (it cannot be managed, and now it can be proven off).
        rig.cut_management(host, cut=False)
        await wait_hastate(admin, host, "Available", within=30)
        rig.cut_bmc(host, cut=False)
    machine = await vm(admin, ha_vm)
    assert (machine["state"], machine["hostid"]) == ("Running", host_id)


async def test_7_the_lease_belt_refuses_a_second_copy(
    rig: HaRig, admin: ApiClient, catalog: Catalog
) -> None:
    """A copy of a running VM started by hand on another host (the first host's StartVm
    handed to the second host's agent, behind the control plane's back) is refused by
    the disk lease the first host holds, and never runs."""
    first, second = rig.hosts[1], rig.hosts[2]
    ha_vm = await deploy(admin, catalog, first, ha=True)
    db = Database(rig.database_url)
    try:
        async with db.transaction() as session:
            original = await session.scalar(
                select(HostCommand).where(
                    HostCommand.kind == CommandKind.START_VM, HostCommand.payload.contains(ha_vm)
                )
            )
            second_id = await session.scalar(select(Host.id).where(Host.name == second.name))
            assert original is not None
            assert second_id is not None
            copy = HostCommand(host_id=second_id, kind=original.kind, payload=original.payload)
            session.add(copy)
            await session.flush()
            copy_uuid = copy.uuid
        answer = await _answer(db, copy_uuid, within=30)
    finally:
        await db.close()
    assert answer.state == CommandState.FAILED
    assert LEASE_HELD in (answer.result or "")
    assert first.name in (answer.result or "")
    instance = StartVm.model_validate_json(original.payload).instance_name
    assert not [
        e for e in rig.ledger_entries() if e["instance"] == instance and e["host"] == second.name
    ]
    assert (await vm(admin, ha_vm))["state"] == "Running"


async def _answer(db: Database, command_uuid: str, *, within: float) -> HostCommand:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        async with db.transaction(write=False) as session:
            command = await session.scalar(
                select(HostCommand).where(HostCommand.uuid == command_uuid)
            )
        assert command is not None
        if command.state in (CommandState.DONE, CommandState.FAILED):
            return command
        assert loop.time() < deadline, f"the agent did not answer {command_uuid}"
        await asyncio.sleep(0.2)
