"""End to end: a VM deployed through the API runs as a libvirt domain (``test:///default``)
on a host whose agent uses the libvirt driver, and disappears when expunged."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx
from sqlalchemy import select, update
from starlette.applications import Starlette

from altostratus.agent.core import AgentCore
from altostratus.agent.drivers.libvirt import LibvirtDriver
from altostratus.agent.host_agent import HostAgent
from altostratus.agent.link import ManagementLink
from altostratus.db.models import Template, Zone
from altostratus.runtime import Runtime
from altostratus.services.agents import link as agent_link
from tests.support.agent_transport import ServerTransport
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld
from tests.support.jobs import run_job


async def _prepare(runtime: Runtime, world: ComputeWorld, image: Path) -> str:
    """The template points at a local image; returns the zone's agent token."""
    async with runtime.db.transaction() as session:
        await session.execute(
            update(Template).where(Template.uuid == world.template_id).values(url=image.as_uri())
        )
        zone = await session.scalar(select(Zone).where(Zone.uuid == world.zone_id))
        assert zone is not None
        return await agent_link.zone_token(session, runtime.deps.keyring, zone)


async def test_deployed_vm_is_a_libvirt_domain_until_expunged(
    app: Starlette, api: ApiClient, compute: ComputeWorld, tmp_path: Path
) -> None:
    image = tmp_path / "linux.qcow2"
    image.write_bytes(b"QFI\xfb" + bytes(1024))
    token = await _prepare(app.state.runtime, compute, image)
    await api.ok(
        "addCluster",
        zoneid=compute.zone_id,
        podid=compute.pod_id,
        clustername="kvm1",
        clustertype="CloudManaged",
        hypervisor="KVM",
    )
    driver = LibvirtDriver("test:///default", tmp_path / "agent", shutdown_timeout=5)
    transport = ServerTransport(app=app)
    async with httpx.AsyncClient(transport=transport) as client:
        agent = HostAgent(
            ManagementLink(["http://mgmt.invalid"], client=client),
            AgentCore(driver),
            name="kvm-host-1",
            token=token,
            poll_wait=1.0,
        )
        task = asyncio.create_task(agent.run())
        try:
            for _ in range(100):
                listed = await api.ok("listHosts", name="kvm-host-1")
                if listed and listed["host"][0]["state"] == "Up":
                    break
                await asyncio.sleep(0.1)
            host = listed["host"][0]
            assert host["hypervisor"] == "KVM"
            assert host["clustername"] == "kvm1"
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
            domain = driver._conn.lookupByName(vm["instancename"])
            assert domain.isActive()
            assert domain.maxMemory() == 512 * 1024
            await run_job(api, "destroyVirtualMachine", id=vm["id"], expunge=True)
            names = [d.name() for d in driver._conn.listAllDomains(0)]
            assert vm["instancename"] not in names
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await driver.close()
