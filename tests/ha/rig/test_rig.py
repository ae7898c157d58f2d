"""The host HA rig works: hosts come Up over real links, their BMCs power them off and
on, cuts and drops partition them, and a management server can be killed and restarted.

One rig per backend for the whole module; every test leaves it with all hosts Up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.conftest import BACKENDS
from tests.support.client import ApiClient
from tests.support.ha_rig import API_PORT, HaRig, RigHost, rig_database

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ha_rig")]

#: Disconnected after 2 s of silence; never Down within a test (no HA monitor yet).
FAST_CLOCK = {
    "ALTO_HEARTBEAT_INTERVAL": "0.5",
    "ALTO_HOST_DISCONNECT_AFTER": "2",
    "ALTO_HOST_DOWN_AFTER": "120",
}
#: Seconds an agent may take to start and register on a loaded machine.
AGENT_START = 45.0


@pytest.fixture(scope="module", params=BACKENDS)
def rig(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HaRig]:
    database_url = rig_database(request, request.param)
    with HaRig(
        tmp_path_factory.mktemp(f"rig-{request.param}"),
        hosts=3,
        database_url=database_url,
        server_env=FAST_CLOCK,
    ) as built:
        yield built


@pytest.fixture
async def admin(rig: HaRig) -> AsyncIterator[ApiClient]:
    async with rig.api() as api:
        await _all_up(rig, api)
        yield api


async def _all_up(rig: HaRig, api: ApiClient) -> None:
    await rig.wait_for_states(api, {host.name: "Up" for host in rig.hosts}, within=AGENT_START)


async def test_hosts_come_up_through_their_management_links(rig: HaRig, admin: ApiClient) -> None:
    hosts = (await admin.ok("listHosts"))["host"]
    assert sorted(host["name"] for host in hosts) == ["host1-1", "host2-1", "host3-1"]
    for host in rig.hosts:
        assert len(rig.agent_pids(host)) == 1
        assert rig.power(host, "status") == "Chassis Power is on"
        # Each host reaches the servers over its management link only.
        assert host.netns.reach(rig.servers[0].address, API_PORT) == "open"


async def test_bmc_power_off_kills_the_agent_and_power_on_brings_it_back(
    rig: HaRig, admin: ApiClient
) -> None:
    host = rig.hosts[0]
    assert rig.power(host, "off") == "Chassis Power Control: Down/Off"
    await rig.wait_for_states(admin, {host.name: "Disconnected"}, within=15)
    assert rig.agent_pids(host) == []
    assert rig.power(host, "status") == "Chassis Power is off"
    assert {"action": "host-off", "host": host.name} in [
        {key: entry[key] for key in ("action", "host")} for entry in rig.ledger_entries()
    ]
    others = {other.name: "Up" for other in rig.hosts if other is not host}
    assert (await rig.host_states(admin)).items() >= others.items()

    assert rig.power(host, "on") == "Chassis Power Control: Up/On"
    await rig.wait_for_states(admin, {host.name: "Up"}, within=AGENT_START)
    assert rig.power(host, "status") == "Chassis Power is on"


async def _disconnected_but_alive(rig: HaRig, admin: ApiClient, host: RigHost) -> list[int]:
    """Wait until ``host`` is Disconnected while its agent lives on and its neighbours
    still reach it over the cluster link; return the agent's pids."""
    pids = rig.agent_pids(host)
    await rig.wait_for_states(admin, {host.name: "Disconnected"}, within=15)
    assert rig.agent_pids(host) == pids != []
    neighbour = next(other for other in rig.hosts if other is not host)
    # Nothing listens on port 9: a refusal is h<i>'s own kernel answering.
    assert neighbour.netns.reach(host.cluster_address, 9) == "refused"
    assert rig.m.reach(host.management_address, 9) == "silent"
    return pids


async def test_a_cut_management_link_disconnects_a_running_host(
    rig: HaRig, admin: ApiClient
) -> None:
    host = rig.hosts[1]
    rig.cut_management(host)
    try:
        pids = await _disconnected_but_alive(rig, admin, host)
    finally:
        rig.cut_management(host, cut=False)
    await rig.wait_for_states(admin, {host.name: "Up"}, within=30)
    assert rig.agent_pids(host) == pids


async def test_an_nftables_drop_disconnects_and_its_removal_heals(
    rig: HaRig, admin: ApiClient
) -> None:
    host = rig.hosts[2]
    with rig.drop_to_host(host):
        pids = await _disconnected_but_alive(rig, admin, host)
    await rig.wait_for_states(admin, {host.name: "Up"}, within=30)
    assert rig.agent_pids(host) == pids


async def test_a_killed_management_server_starts_again(rig: HaRig, admin: ApiClient) -> None:
    server = rig.servers[0]
    server.kill()
    assert not server.running
    with pytest.raises(httpx.TransportError):
        await admin.call("listHosts")
    server.start()
    await _all_up(rig, admin)
