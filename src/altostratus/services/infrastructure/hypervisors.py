"""Which hypervisors the cloud offers: ``listHypervisors``.

CloudStack answers the hypervisors a zone's clusters run, or, without a zone, every
hypervisor the cloud is configured for. Ours are the ones an agent driver exists for:
libvirt's (KVM) and the simulator's, named as clusters and templates name them, so a
client (Ansible's ``cs_template``) may pick one of them for a template.
"""

from __future__ import annotations

from sqlalchemy import select

from altostratus.core.context import ServiceContext
from altostratus.db.models import Cluster, Host, Pod, Zone
from altostratus.db.models.inventory import Hypervisor
from altostratus.services.shared.lookup import find_by_uuid

__all__ = ["SUPPORTED", "hypervisors_of"]

#: The hypervisors of the agent's drivers: ``LibvirtDriver`` (KVM) and ``SimulatorDriver``.
SUPPORTED = (Hypervisor.KVM, Hypervisor.SIMULATOR)


async def hypervisors_of(ctx: ServiceContext, zone_uuid: str | None) -> list[str]:
    """The hypervisors of the zone's clusters and hosts, or every supported one.

    A zone's list comes from its clusters (a cluster is of one hypervisor) and from the
    hosts registered in it, sorted; a zone with neither offers none.
    """
    if zone_uuid is None:
        return sorted(SUPPORTED)
    zone = await find_by_uuid(ctx, Zone, zone_uuid, "zoneid")
    of_clusters = await ctx.session.scalars(
        select(Cluster.hypervisor)
        .join(Pod, Cluster.pod_id == Pod.id)
        .where(Pod.zone_id == zone.id)
        .distinct()
    )
    of_hosts = await ctx.session.scalars(
        select(Host.hypervisor).where(Host.zone_id == zone.id, Host.removed.is_(None)).distinct()
    )
    return sorted({*of_clusters, *of_hosts})
