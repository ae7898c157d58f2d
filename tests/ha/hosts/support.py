"""Driving host HA in-process: HA VMs, a host made silent, waiting for HA states."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from altostratus.db.models import Host
from altostratus.runtime import Runtime
from altostratus.timeutil import utcnow
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld
from tests.support.jobs import run_job

__all__ = [
    "deploy",
    "enable_ha",
    "ha_offering",
    "hastate",
    "heal",
    "silence",
    "silence_together",
    "wait_hastate",
]


async def ha_offering(api: ApiClient) -> str:
    created = await api.ok(
        "createServiceOffering",
        name="ha-small",
        displaytext="HA small",
        cpunumber=1,
        cpuspeed=500,
        memory=512,
        offerha=True,
    )
    offering_id: str = created["serviceoffering"]["id"]
    return offering_id


async def deploy(api: ApiClient, world: ComputeWorld, offering_id: str, host_id: str) -> str:
    result = await run_job(
        api,
        "deployVirtualMachine",
        zoneid=world.zone_id,
        serviceofferingid=offering_id,
        templateid=world.template_id,
        hostid=host_id,
    )
    vm_id: str = result["virtualmachine"]["id"]
    return vm_id


async def enable_ha(api: ApiClient, host_id: str) -> None:
    await run_job(api, "configureHAForHost", hostid=host_id, provider="simulatorhaprovider")
    await run_job(api, "enableHAForHost", hostid=host_id)


async def silence(runtime: Runtime, host_id: str) -> str:
    """The host's agent falls silent: the in-process simulator lets it go (no ``sim://``)
    and its last heartbeat is older than ``ha_suspect_after``. Returns its URL, for ``heal``."""
    (url,) = await silence_together(runtime, [host_id])
    return url


async def silence_together(runtime: Runtime, host_ids: list[str]) -> list[str]:
    """Several hosts fall silent in one transaction, as a network cut does: no monitor
    round can see one of them silent and the others still heard. Returns their URLs."""
    stale = utcnow() - timedelta(seconds=runtime.settings.ha_suspect_after + 1)
    urls = []
    async with runtime.db.transaction() as session:
        for host_id in host_ids:
            url = await session.scalar(select(Host.url).where(Host.uuid == host_id))
            assert url is not None
            urls.append(url)
            await session.execute(
                update(Host)
                .where(Host.uuid == host_id)
                .values(url=f"agent://{host_id}", last_heartbeat=stale)
            )
    return urls


async def heal(runtime: Runtime, host_id: str, url: str) -> None:
    """The simulator takes the host back (``url`` from ``silence``): heartbeats resume."""
    async with runtime.db.transaction() as session:
        await session.execute(update(Host).where(Host.uuid == host_id).values(url=url))


async def hastate(api: ApiClient, host_id: str) -> dict[str, Any]:
    listed: dict[str, Any] = (await api.ok("listHosts", id=host_id))["host"][0]["hostha"]
    return listed


async def wait_hastate(api: ApiClient, host_id: str, state: str, within: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while (seen := (await hastate(api, host_id))["hastate"]) != state:
        assert loop.time() < deadline, f"hastate {seen}, not {state}, after {within} s"
        await asyncio.sleep(0.1)
