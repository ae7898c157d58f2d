"""A small region to run workloads in: the quick-start zone plus offerings tests need.

    zone1 ─ pod1 ─ cluster1 ─ sim hosts host1..hostN (Simulator, 4 x 2000 MHz, 8 GiB)
    shared guest network 10.1.0.0/16 (addresses .0.10 to .0.250)
    offerings: small (1 x 500 MHz, 512 MB), big (4 x 2000 MHz, 8 GiB), tagged (hosttags ssd)
    disk offerings: 5 GB and custom;  template "Simulated Linux" (public, featured)

The hosts start ``Connecting``: the in-process simulator brings them ``Up``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import select

from altostratus.db.models import Account, Host, ServiceOffering, Template, VirtualMachine, Zone
from altostratus.db.models.hosts import HostState
from altostratus.runtime import Runtime
from altostratus.services.quickstart import build_region

__all__ = ["ComputeWorld", "InsertedVm", "insert_vm", "seed_compute", "wait_hosts_up"]


@dataclass(frozen=True)
class ComputeWorld:
    zone_id: str
    pod_id: str
    cluster_id: str
    host_ids: list[str]
    network_id: str
    small_offering_id: str
    big_offering_id: str
    tagged_offering_id: str
    disk_offering_id: str
    custom_disk_offering_id: str
    template_id: str
    os_type_id: str


async def seed_compute(
    runtime: Runtime,
    *,
    hosts: int = 2,
    host_cpu: int = 4,
    host_speed: int = 2000,
    host_memory_mb: int = 8192,
    host_tags: str = "",
) -> ComputeWorld:
    async with runtime.db.transaction() as session:
        region = await build_region(
            session,
            hosts=hosts,
            host_cpu=host_cpu,
            host_speed=host_speed,
            host_memory_mb=host_memory_mb,
            host_tags=host_tags,
        )
        region.network.end_ip = "10.1.0.250"
        small = ServiceOffering(
            name="small", display_text="Small", cpu_number=1, cpu_speed=500, memory_mb=512
        )
        big = ServiceOffering(
            name="big", display_text="Big", cpu_number=4, cpu_speed=2000, memory_mb=8192
        )
        tagged = ServiceOffering(
            name="tagged",
            display_text="Needs ssd",
            cpu_number=1,
            cpu_speed=500,
            memory_mb=512,
            host_tags="ssd",
        )
        session.add_all([small, big, tagged])
        await session.flush()
        disk, custom = region.disk_offerings
        return ComputeWorld(
            zone_id=region.zone.uuid,
            pod_id=region.pod.uuid,
            cluster_id=region.cluster.uuid,
            host_ids=[host.uuid for host in region.hosts],
            network_id=region.network.uuid,
            small_offering_id=small.uuid,
            big_offering_id=big.uuid,
            tagged_offering_id=tagged.uuid,
            disk_offering_id=disk.uuid,
            custom_disk_offering_id=custom.uuid,
            template_id=region.template.uuid,
            os_type_id=region.os_type.uuid,
        )


async def wait_hosts_up(runtime: Runtime, host_ids: list[str], *, within: float = 20.0) -> None:
    """Wait until the simulator has brought every host ``Up``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        async with runtime.db.transaction(write=False) as session:
            states = list(await session.scalars(select(Host.state).where(Host.uuid.in_(host_ids))))
        if states and all(state == HostState.UP for state in states):
            return
        assert loop.time() < deadline, f"hosts not Up after {within} s: {states}"
        await asyncio.sleep(0.1)


@dataclass(frozen=True)
class InsertedVm:
    id: int
    uuid: str


async def insert_vm(
    runtime: Runtime, world: ComputeWorld, account_name: str, name: str = "vm"
) -> InsertedVm:
    """A Stopped small VM of ``account_name`` written straight to the database.

    For tests of what refers to VMs (NICs, groups, tags) without running a deploy.
    """
    async with runtime.db.transaction() as session:
        account = await session.scalar(select(Account).where(Account.name == account_name))
        zone = await session.scalar(select(Zone).where(Zone.uuid == world.zone_id))
        offering = await session.scalar(
            select(ServiceOffering).where(ServiceOffering.uuid == world.small_offering_id)
        )
        template = await session.scalar(select(Template).where(Template.uuid == world.template_id))
        assert account is not None
        assert zone is not None
        assert offering is not None
        assert template is not None
        vm = VirtualMachine(
            name=name,
            display_name=name,
            instance_name=f"i-{account.id}-{name}-VM",
            account_id=account.id,
            domain_id=account.domain_id,
            zone_id=zone.id,
            service_offering_id=offering.id,
            template_id=template.id,
            cpu_number=offering.cpu_number,
            cpu_speed=offering.cpu_speed,
            memory_mb=offering.memory_mb,
        )
        session.add(vm)
        await session.flush()
        return InsertedVm(vm.id, vm.uuid)
