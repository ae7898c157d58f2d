"""A region that works at once: what ``alto server --quickstart`` creates on first start.

One zone with a pod, a cluster and a few simulated hosts, a shared guest network, two
service offerings, two disk offerings and a public template, so that a newcomer can
deploy a VM with ``cs`` in the next minute. Nothing is created when the region already
has a zone: the quick start never touches an inventory an operator built.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.db.engine import Database
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

__all__ = ["QuickstartRegion", "build_region", "seed_quickstart"]

#: The default shared network offering; a migration may already have created it.
_SHARED_OFFERING = "DefaultSharedNetworkOffering"


@dataclass(frozen=True)
class QuickstartRegion:
    zone: Zone
    pod: Pod
    cluster: Cluster
    hosts: list[Host]
    network: Network
    service_offerings: list[ServiceOffering]
    disk_offerings: list[DiskOffering]
    os_type: OsType
    template: Template


async def seed_quickstart(db: Database, *, hosts: int = 4) -> QuickstartRegion | None:
    """Create the quick-start region unless the region has a zone already."""
    async with db.transaction() as session:
        if await session.scalar(select(Zone.id).limit(1)) is not None:
            return None
        return await build_region(session, hosts=hosts)


async def build_region(
    session: AsyncSession,
    *,
    hosts: int,
    host_cpu: int = 8,
    host_speed: int = 2000,
    host_memory_mb: int = 16384,
    host_tags: str = "",
) -> QuickstartRegion:
    """The rows of a simulated zone, in the caller's transaction (tests build on it)."""
    zone = Zone(
        name="zone1",
        description="Quick-start zone with simulated hosts",
        network_type="Advanced",
        dns1="10.0.0.2",
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
    network_offering = await session.scalar(
        select(NetworkOffering).where(NetworkOffering.name == _SHARED_OFFERING)
    )
    if network_offering is None:
        network_offering = NetworkOffering(
            name=_SHARED_OFFERING,
            display_text="Offering for shared networks",
            guest_ip_type="Shared",
            services="Dhcp,Dns,UserData",
            is_default=True,
        )
        session.add(network_offering)
        await session.flush()
    network = Network(
        name="guest",
        display_text="Shared guest network",
        zone_id=zone.id,
        network_offering_id=network_offering.id,
        cidr="10.1.0.0/16",
        gateway="10.1.0.1",
        netmask="255.255.0.0",
        start_ip="10.1.0.10",
        end_ip="10.1.255.250",
    )
    service_offerings = [
        ServiceOffering(
            name="Small Instance",
            display_text="1 x 500 MHz, 512 MB",
            cpu_number=1,
            cpu_speed=500,
            memory_mb=512,
        ),
        ServiceOffering(
            name="Medium Instance",
            display_text="2 x 1000 MHz, 2 GB",
            cpu_number=2,
            cpu_speed=1000,
            memory_mb=2048,
        ),
    ]
    disk_offerings = [
        DiskOffering(name="Small", display_text="5 GB", disk_size_gb=5),
        DiskOffering(name="Custom", display_text="Any size", is_customized=True),
    ]
    session.add_all([network, *service_offerings, *disk_offerings])
    os_type = await session.scalar(
        select(OsType).where(OsType.description.ilike("%other%linux%")).limit(1)
    ) or await session.scalar(select(OsType).order_by(OsType.id).limit(1))
    if os_type is None:
        os_type = OsType(description="Other Linux (64-bit)", category="Other")
        session.add(os_type)
    admin = await session.scalar(select(Account).where(Account.name == "admin"))
    assert admin is not None, "the quick start runs after bootstrap created the admin"
    await session.flush()
    template = Template(
        name="Simulated Linux",
        display_text="A Linux image for simulated hosts",
        # Simulated hosts never fetch it; .invalid names can never resolve.
        url="http://images.invalid/simulated-linux.qcow2",
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
    return QuickstartRegion(
        zone=zone,
        pod=pod,
        cluster=cluster,
        hosts=host_rows,
        network=network,
        service_offerings=service_offerings,
        disk_offerings=disk_offerings,
        os_type=os_type,
        template=template,
    )
