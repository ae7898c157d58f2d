"""A small region to run workloads in, written through the models like ``world.py``.

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

from altostratus.db.models import (
    Account,
    Cluster,
    DiskOffering,
    Host,
    Network,
    NetworkOffering,
    OsType,
    Pod,
    ServiceOffering,
    Template,
    Zone,
)
from altostratus.db.models.hosts import HostState
from altostratus.runtime import Runtime

__all__ = ["ComputeWorld", "seed_compute", "wait_hosts_up"]


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
        zone = Zone(
            name="zone1",
            network_type="Advanced",
            dns1="8.8.8.8",
            internal_dns1="10.0.0.2",
            guest_cidr="10.1.0.0/16",
        )
        session.add(zone)
        await session.flush()
        pod = Pod(name="pod1", zone_id=zone.id, gateway="192.168.0.1", netmask="255.255.255.0")
        session.add(pod)
        await session.flush()
        cluster = Cluster(name="cluster1", pod_id=pod.id, hypervisor="Simulator")
        session.add(cluster)
        await session.flush()
        host_rows = [
            Host(
                name=f"host{number}",
                zone_id=zone.id,
                pod_id=pod.id,
                cluster_id=cluster.id,
                hypervisor="Simulator",
                url=f"sim://host{number}",
                state=HostState.CONNECTING,
                cpu_number=host_cpu,
                cpu_speed=host_speed,
                memory_mb=host_memory_mb,
                host_tags=host_tags,
            )
            for number in range(1, hosts + 1)
        ]
        session.add_all(host_rows)
        offering = NetworkOffering(
            name="DefaultSharedNetworkOffering",
            display_text="Offering for shared networks",
            guest_ip_type="Shared",
            services="Dhcp,Dns,UserData",
            is_default=True,
        )
        session.add(offering)
        await session.flush()
        network = Network(
            name="guest",
            display_text="Shared guest network",
            zone_id=zone.id,
            network_offering_id=offering.id,
            cidr="10.1.0.0/16",
            gateway="10.1.0.1",
            netmask="255.255.0.0",
            start_ip="10.1.0.10",
            end_ip="10.1.0.250",
        )
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
        disk = DiskOffering(name="5GB", display_text="5 GB", disk_size_gb=5)
        custom = DiskOffering(name="custom", display_text="Custom", is_customized=True)
        session.add_all([network, small, big, tagged, disk, custom])
        os_type = await session.scalar(select(OsType).order_by(OsType.id).limit(1))
        if os_type is None:
            os_type = OsType(description="Other Linux (64-bit)", category="Other")
            session.add(os_type)
        admin = await session.scalar(select(Account).where(Account.name == "admin"))
        assert admin is not None
        await session.flush()
        template = Template(
            name="Simulated Linux",
            display_text="Simulated Linux",
            url="http://images.invalid/linux.qcow2",
            format="QCOW2",
            hypervisor="Simulator",
            os_type_id=os_type.id,
            account_id=admin.id,
            domain_id=admin.domain_id,
            is_public=True,
            is_featured=True,
            size=2 * 1024**3,
        )
        session.add(template)
        await session.flush()
        return ComputeWorld(
            zone_id=zone.uuid,
            pod_id=pod.uuid,
            cluster_id=cluster.uuid,
            host_ids=[host.uuid for host in host_rows],
            network_id=network.uuid,
            small_offering_id=small.uuid,
            big_offering_id=big.uuid,
            tagged_offering_id=tagged.uuid,
            disk_offering_id=disk.uuid,
            custom_disk_offering_id=custom.uuid,
            template_id=template.uuid,
            os_type_id=os_type.uuid,
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
