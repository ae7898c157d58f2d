"""Many hosts, fast: the scheduler's tests and ``bench/scheduler_bench.py`` share this.

Hosts are written with one multi-row INSERT (no ORM objects), into a database whose
schema comes straight from the models: the scheduler's tests need the tables, not the
bootstrap (no keys, regions or identities).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, insert, select

from altostratus.db.engine import Database
from altostratus.db.models import (
    Account,
    Base,
    Cluster,
    Domain,
    Host,
    OsType,
    Pod,
    Role,
    RoleType,
    ServiceOffering,
    Template,
    Zone,
)
from altostratus.db.models.base import new_uuid

__all__ = ["Fleet", "HostSpec", "add_hosts", "clear_hosts", "create_fleet"]


@dataclass(frozen=True)
class HostSpec:
    """One host as the tests vary it; the defaults make an empty 4 x 2000 MHz, 8 GiB host."""

    state: str = "Up"
    resource_state: str = "Enabled"
    cpu_number: int = 4
    cpu_speed: int = 2000
    memory_mb: int = 8192
    cpu_allocated_mhz: int = 0
    memory_allocated_mb: int = 0
    host_tags: str = ""
    cluster: int = 0


@dataclass(frozen=True)
class Fleet:
    """The inventory hosts go into: one zone, one pod, ``clusters`` clusters; an account."""

    zone_id: int
    pod_id: int
    cluster_ids: list[int]
    account_id: int
    domain_id: int
    offering_id: int
    template_id: int
    other_zone_id: int


async def create_fleet(db: Database, *, clusters: int = 2) -> Fleet:
    """Create the schema and the inventory; ``clusters`` clusters in one pod."""
    async with db.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    async with db.transaction() as session:
        zones = [
            Zone(name=name, network_type="Advanced", dns1="8.8.8.8", internal_dns1="10.0.0.2")
            for name in ("zone1", "zone2")
        ]
        session.add_all(zones)
        await session.flush()
        pod = Pod(name="pod1", zone_id=zones[0].id, gateway="192.168.0.1", netmask="255.255.255.0")
        session.add(pod)
        await session.flush()
        cluster_rows = [
            Cluster(name=f"cluster{number}", pod_id=pod.id, hypervisor="Simulator")
            for number in range(clusters)
        ]
        role = Role(name="User", type=RoleType.USER)
        domain = Domain(name="ROOT", path="ROOT", level=0)
        os_type = OsType(description="Other", category="Other")
        offering = ServiceOffering(
            name="small", display_text="small", cpu_number=1, cpu_speed=500, memory_mb=512
        )
        session.add_all([*cluster_rows, role, domain, os_type, offering])
        await session.flush()
        account = Account(name="alice", domain_id=domain.id, type=0, role_id=role.id)
        session.add(account)
        await session.flush()
        template = Template(
            name="linux",
            display_text="linux",
            url="http://images.invalid/linux.qcow2",
            format="QCOW2",
            hypervisor="Simulator",
            os_type_id=os_type.id,
            account_id=account.id,
            domain_id=domain.id,
        )
        session.add(template)
        await session.flush()
        return Fleet(
            zone_id=zones[0].id,
            pod_id=pod.id,
            cluster_ids=[cluster.id for cluster in cluster_rows],
            account_id=account.id,
            domain_id=domain.id,
            offering_id=offering.id,
            template_id=template.id,
            other_zone_id=zones[1].id,
        )


async def add_hosts(db: Database, fleet: Fleet, specs: Sequence[HostSpec]) -> list[int]:
    """Insert the hosts in the order given; their ids, in that order."""
    uuids = [new_uuid() for _ in specs]
    rows = [
        {
            "uuid": uuid,
            "name": uuid,
            "zone_id": fleet.zone_id,
            "pod_id": fleet.pod_id,
            "cluster_id": fleet.cluster_ids[spec.cluster],
            "hypervisor": "Simulator",
            "url": f"sim://{uuid}",
            "state": spec.state,
            "resource_state": spec.resource_state,
            "cpu_number": spec.cpu_number,
            "cpu_speed": spec.cpu_speed,
            "memory_mb": spec.memory_mb,
            "cpu_allocated_mhz": spec.cpu_allocated_mhz,
            "memory_allocated_mb": spec.memory_allocated_mb,
            "host_tags": spec.host_tags,
        }
        for uuid, spec in zip(uuids, specs, strict=True)
    ]
    async with db.transaction() as session:
        for start in range(0, len(rows), 500):
            await session.execute(insert(Host), rows[start : start + 500])
        ids = {uuid: host_id for uuid, host_id in await session.execute(select(Host.uuid, Host.id))}
    return [ids[uuid] for uuid in uuids]


async def clear_hosts(db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(delete(Host))
