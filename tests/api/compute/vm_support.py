"""What the VM tests share: a region whose hosts are Up, deploying, reading capacity."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.applications import Starlette

from altostratus.db.models import Host, VirtualMachine
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld, wait_hosts_up
from tests.support.jobs import run_job

__all__ = ["allocations", "deploy", "deploy_args", "hosts_up", "vm_row"]


async def hosts_up(app: Starlette, world: ComputeWorld) -> ComputeWorld:
    await wait_hosts_up(app.state.runtime, world.host_ids)
    return world


def deploy_args(world: ComputeWorld, **extra: Any) -> dict[str, Any]:
    return {
        "zoneid": world.zone_id,
        "serviceofferingid": world.small_offering_id,
        "templateid": world.template_id,
        **extra,
    }


async def deploy(client: ApiClient, world: ComputeWorld, **extra: Any) -> dict[str, Any]:
    """Deploy and wait; the VM as the job's result shows it."""
    result = await run_job(client, "deployVirtualMachine", **deploy_args(world, **extra))
    vm: dict[str, Any] = result["virtualmachine"]
    return vm


async def allocations(app: Starlette) -> dict[str, tuple[int, int]]:
    """Each host's reserved (CPU MHz, memory MB), by host UUID."""
    async with app.state.runtime.db.transaction(write=False) as session:
        rows = await session.execute(
            select(Host.uuid, Host.cpu_allocated_mhz, Host.memory_allocated_mb)
        )
        return {uuid: (cpu, memory) for uuid, cpu, memory in rows}


async def vm_row(app: Starlette, vm_uuid: str) -> VirtualMachine:
    async with app.state.runtime.db.transaction(write=False) as session:
        vm: VirtualMachine | None = await session.scalar(
            select(VirtualMachine).where(VirtualMachine.uuid == vm_uuid)
        )
        assert vm is not None
        return vm
