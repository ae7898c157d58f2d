"""How much of a cluster is silent: the guard against fencing hosts for a network's fault.

One host going silent is a host failure; half a cluster going silent at once is a switch
or a link (``../seeds``: a VPN link drops and every host behind it looks dead). Then no
host of it is fenced: they are Degraded until they are heard again or an operator acts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.db.models import Host
from altostratus.db.models.hosts import ResourceState
from altostratus.services.infrastructure.host_monitor import last_heard
from altostratus.settings import Settings

__all__ = ["ClusterSilence", "cluster_silence"]


@dataclass(frozen=True)
class ClusterSilence:
    silent: int
    total: int

    def network_suspected(self, settings: Settings) -> bool:
        """Two or more hosts, and at least ``ha_max_down_fraction`` of them, silent."""
        return (
            self.silent >= 2
            and self.total > 0
            and self.silent / self.total >= settings.ha_max_down_fraction
        )


async def cluster_silence(
    session: AsyncSession, settings: Settings, cluster_id: int, now: datetime
) -> ClusterSilence:
    """The cluster's enabled hosts, and how many were not heard for ``ha_suspect_after``."""
    silent_since = now - timedelta(seconds=settings.ha_suspect_after)
    row = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(case((last_heard() < silent_since, 1), else_=0)), 0),
            ).where(
                Host.cluster_id == cluster_id,
                Host.removed.is_(None),
                Host.resource_state == ResourceState.ENABLED,
            )
        )
    ).one()
    return ClusterSilence(silent=int(row[1]), total=int(row[0]))
