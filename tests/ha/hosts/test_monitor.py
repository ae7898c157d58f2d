"""The host HA monitor in-process: what silence alone does (no fence, no proof: nothing)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import select, update
from starlette.applications import Starlette

from altostratus.db.models import AsyncJob, Host, HostHa
from altostratus.runtime import Runtime
from altostratus.timeutil import utcnow
from tests.ha.hosts.support import (
    deploy,
    enable_ha,
    ha_offering,
    hastate,
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


async def _recheck_due(runtime: Runtime, host_id: str) -> None:
    """The Degraded host's next look is due now rather than ``ha_recheck_interval`` later."""
    async with runtime.db.transaction() as session:
        await session.execute(
            update(HostHa)
            .where(HostHa.host_id == select(Host.id).where(Host.uuid == host_id).scalar_subquery())
            .values(last_investigated=utcnow() - timedelta(hours=1))
        )


async def _findings_once(runtime: Runtime, host_id: str, wanted: str | None) -> dict[str, Any]:
    """The host's recorded findings, once their ``network`` entry is ``wanted``."""
    for _ in range(300):
        async with runtime.db.transaction(write=False) as session:
            recorded = await session.scalar(
                select(HostHa.investigation).join(Host).where(Host.uuid == host_id)
            )
        findings: dict[str, Any] = orjson.loads(recorded) if recorded else {}
        if "neighbours" in findings and findings.get("network") == wanted:
            return findings
        await asyncio.sleep(0.1)
    raise AssertionError(f"findings of {host_id} never had network={wanted}: {findings}")


async def test_the_last_host_back_from_a_network_failure_gets_one_more_recheck(
    app: Starlette, api: ApiClient
) -> None:
    """Hosts cut together come back one by one: the last one, silent alone for a moment,
    is not taken for dead at its next look, only at the one after."""
    runtime = app.state.runtime
    world = await seed_compute(runtime, hosts=4)
    await wait_hosts_up(runtime, world.host_ids)
    first, last = world.host_ids[:2]
    for host_id in (first, last):
        await enable_ha(api, host_id)
        await wait_hastate(api, host_id, "Available")
    first_url, _ = await silence_together(runtime, [first, last])
    for host_id in (first, last):
        await wait_hastate(api, host_id, "Degraded")
    await heal(runtime, first, first_url)
    await wait_hastate(api, first, "Available")

    await _recheck_due(runtime, last)
    await _findings_once(runtime, last, "ended")
    assert (await hastate(api, last))["hastate"] == "Degraded"
    await _recheck_due(runtime, last)
    findings = await _findings_once(runtime, last, None)
    assert findings["cluster"] == "1 of 4 hosts silent"
    assert (await hastate(api, last))["hastate"] == "Degraded"
