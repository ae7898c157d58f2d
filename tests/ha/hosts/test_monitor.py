"""The host HA monitor in-process: what silence alone does (no fence, no proof: nothing)."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from starlette.applications import Starlette

from altostratus.db.models import AsyncJob, HostHa
from tests.ha.hosts.support import (
    deploy,
    enable_ha,
    ha_offering,
    heal,
    silence,
    silence_together,
    wait_hastate,
)
from tests.support.client import ApiClient
from tests.support.compute_world import seed_compute, wait_hosts_up


async def _vm(api: ApiClient, vm_id: str) -> dict[str, object]:
    listed: dict[str, object] = (await api.ok("listVirtualMachines", id=vm_id))["virtualmachine"][0]
    return listed


async def test_a_silent_host_that_cannot_be_proven_off_is_degraded_and_keeps_its_vms(
    app: Starlette, api: ApiClient
) -> None:
    """No BMC and no storage heartbeat to read: Degraded, an alert, nothing restarted;
    heard again, Available with its VM where it was."""
    runtime = app.state.runtime
    world = await seed_compute(runtime, hosts=3)
    await wait_hosts_up(runtime, world.host_ids)
    suspect = world.host_ids[0]
    vm_id = await deploy(api, world, await ha_offering(api), suspect)
    await enable_ha(api, suspect)
    await wait_hastate(api, suspect, "Available")

    url = await silence(runtime, suspect)
    await wait_hastate(api, suspect, "Degraded")
    alerts = (await api.ok("listAlerts"))["alert"]
    assert any("could not be proven off" in alert["description"] for alert in alerts), alerts
    vm = await _vm(api, vm_id)
    assert (vm["state"], vm["hostid"]) == ("Running", suspect)
    async with runtime.db.transaction(write=False) as session:
        resource = await session.scalar(select(HostHa))
        assert resource is not None
        assert resource.investigation is not None
        assert '"activity":"unknown"' in resource.investigation
    events = await api.ok("listEvents", type="HA.STATE.TRANSITION")
    moves = [e["description"].split(": ", 1)[0] for e in reversed(events["event"])]
    assert any("Available -> Suspect" in m for m in moves)
    assert any("Suspect -> Checking" in m for m in moves)
    assert any("Checking -> Degraded" in m for m in moves)

    await heal(runtime, suspect, url)
    await wait_hastate(api, suspect, "Available")
    vm = await _vm(api, vm_id)
    assert (vm["state"], vm["hostid"]) == ("Running", suspect)


async def test_half_a_cluster_silent_at_once_is_taken_for_a_network_failure(
    app: Starlette, api: ApiClient
) -> None:
    runtime = app.state.runtime
    world = await seed_compute(runtime, hosts=4)
    await wait_hosts_up(runtime, world.host_ids)
    cut = world.host_ids[:2]
    for host_id in cut:
        await enable_ha(api, host_id)
        await wait_hastate(api, host_id, "Available")
    await silence_together(runtime, cut)
    for host_id in cut:
        await wait_hastate(api, host_id, "Degraded")
    alerts = (await api.ok("listAlerts"))["alert"]
    assert any("other host(s) of its cluster" in alert["description"] for alert in alerts), alerts
    # A few monitor rounds later (one a second at most) still no investigation: the next
    # look at a network-Degraded host is ha_recheck_interval (30 s) away.
    await asyncio.sleep(3.0)
    async with runtime.db.transaction(write=False) as session:
        investigations = await session.scalars(
            select(AsyncJob).where(AsyncJob.kind == "ha.investigateHost")
        )
        assert investigations.all() == []
