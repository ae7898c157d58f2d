"""Host HA configuration through the API: providers, configure, enable/disable, listings."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.applications import Starlette

from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld, wait_hosts_up
from tests.support.jobs import run_job


async def _hostha(api: ApiClient, host_id: str) -> dict[str, Any]:
    listed: dict[str, Any] = (await api.ok("listHosts", id=host_id))["host"][0]["hostha"]
    return listed


async def _wait_state(api: ApiClient, host_id: str, state: str, within: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while (seen := (await _hostha(api, host_id))["hastate"]) != state:
        assert loop.time() < deadline, f"hastate {seen}, not {state}, after {within} s"
        await asyncio.sleep(0.1)


async def test_providers_per_hypervisor(api: ApiClient) -> None:
    kvm = await api.ok("listHostHAProviders", hypervisor="KVM")
    assert [p["haprovider"] for p in kvm["haprovider"]] == ["kvmhaprovider"]
    sim = await api.ok("listHostHAProviders", hypervisor="simulator")
    assert [p["haprovider"] for p in sim["haprovider"]] == ["simulatorhaprovider"]
    text = await api.fails("listHostHAProviders", 431, hypervisor="Hyper-V")
    assert "hypervisor" in text


async def test_a_host_is_ha_disabled_until_configured_and_enabled(
    app: Starlette, api: ApiClient, compute: ComputeWorld
) -> None:
    await wait_hosts_up(app.state.runtime, compute.host_ids)
    host_id = compute.host_ids[0]
    assert await _hostha(api, host_id) == {
        "hostid": host_id,
        "haenable": False,
        "hastate": "Disabled",
    }
    assert (await api.ok("listHostHAResources")).get("hostha", []) == []
    text = await api.fails("enableHAForHost", 431, hostid=host_id)
    assert "configureHAForHost" in text

    configured = await run_job(
        api, "configureHAForHost", hostid=host_id, provider="simulatorhaprovider"
    )
    assert configured["hostha"]["haprovider"] == "simulatorhaprovider"
    assert configured["hostha"]["haenable"] is False
    assert configured["hostha"]["hastate"] == "Disabled"

    enabled = await run_job(api, "enableHAForHost", hostid=host_id)
    assert enabled["hostha"]["haenable"] is True
    await _wait_state(api, host_id, "Available")
    resources = (await api.ok("listHostHAResources", hostid=host_id))["hostha"]
    assert [(r["hostid"], r["hastate"]) for r in resources] == [(host_id, "Available")]

    await run_job(api, "disableHAForHost", hostid=host_id)
    assert await _hostha(api, host_id) == {
        "hostid": host_id,
        "haenable": False,
        "haprovider": "simulatorhaprovider",
        "hastate": "Disabled",
    }
    events = await api.ok("listEvents", type="HA.STATE.TRANSITION")
    texts = [event["description"] for event in events["event"]]
    assert any("Disabled -> Available" in text for text in texts)
    assert any("Available -> Disabled" in text for text in texts)


async def test_configure_refuses_a_provider_of_another_hypervisor(
    app: Starlette, api: ApiClient, compute: ComputeWorld
) -> None:
    host_id = compute.host_ids[0]
    text = await api.fails("configureHAForHost", 431, hostid=host_id, provider="kvmhaprovider")
    assert "provider" in text
    assert "kvmhaprovider" in text
    text = await api.fails("configureHAForHost", 431, hostid=host_id, provider="")
    assert "provider" in text
    text = await api.fails(
        "configureHAForHost",
        431,
        hostid="00000000-0000-0000-0000-000000000000",
        provider="simulatorhaprovider",
    )
    assert "hostid" in text
    assert (await api.ok("listHostHAResources")).get("hostha", []) == []


async def test_ha_off_for_its_cluster_or_zone_makes_a_host_ineligible(
    app: Starlette, api: ApiClient, compute: ComputeWorld
) -> None:
    await wait_hosts_up(app.state.runtime, compute.host_ids)
    host_id = compute.host_ids[0]
    await run_job(api, "configureHAForHost", hostid=host_id, provider="simulatorhaprovider")
    await run_job(api, "enableHAForHost", hostid=host_id)
    await _wait_state(api, host_id, "Available")

    await run_job(api, "disableHAForCluster", clusterid=compute.cluster_id)
    await _wait_state(api, host_id, "Ineligible")
    await run_job(api, "enableHAForCluster", clusterid=compute.cluster_id)
    await _wait_state(api, host_id, "Available")

    await run_job(api, "disableHAForZone", zoneid=compute.zone_id)
    await _wait_state(api, host_id, "Ineligible")
    await run_job(api, "enableHAForZone", zoneid=compute.zone_id)
    await _wait_state(api, host_id, "Available")

    text = await api.fails("disableHAForZone", 431, zoneid="00000000-0000-0000-0000-000000000000")
    assert "zoneid" in text


async def test_host_ha_is_for_root_admins(clients: Clients, compute: ComputeWorld) -> None:
    for caller in (clients.d1admin, clients.alice):
        await caller.fails("listHostHAProviders", 531, hypervisor="KVM")
        await caller.fails(
            "configureHAForHost", 531, hostid=compute.host_ids[0], provider="simulatorhaprovider"
        )
