"""How much of a cluster is silent: the guard against fencing hosts for a network's fault.

One host going silent is a host failure; half a cluster going silent at once is a switch
or a link (``../seeds``: a VPN link drops and every host behind it looks dead). Then no
host of it is fenced: they are Degraded until they are heard again or an operator acts.
Nor right after: hosts cut together come back one by one, and the last ones are silent
alone for a moment, so a host whose last look saw a network failure is given one more
``ha_recheck_interval`` before it may be fenced.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.db.models import Host, HostHa
from altostratus.db.models.hosts import ResourceState
from altostratus.services.infrastructure.host_monitor import last_heard
from altostratus.settings import Settings

__all__ = [
    "NETWORK_ENDED",
    "NETWORK_SUSPECTED",
    "ClusterSilence",
    "cluster_silence",
    "cluster_silences",
    "network_findings",
    "network_was_suspected",
]


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

    @property
    def summary(self) -> str:
        """As a host's recorded findings say it (``cluster``)."""
        return f"{self.silent} of {self.total} hosts silent"


#: ``network`` in a host's recorded findings: the last look took its silence for a
#: network failure, or found that failure just over (the others heard again).
NETWORK_SUSPECTED = "suspected"
NETWORK_ENDED = "ended"


def network_findings(silence: ClusterSilence) -> str:
    """The findings of a host Degraded because of its cluster's silence alone."""
    return orjson.dumps({"cluster": silence.summary, "network": NETWORK_SUSPECTED}).decode()


def network_was_suspected(resource: HostHa) -> bool:
    """Whether the host's last findings took its silence for a network failure."""
    if not resource.investigation:
        return False
    try:
        findings = orjson.loads(resource.investigation)
    except orjson.JSONDecodeError:
        return False
    return isinstance(findings, dict) and findings.get("network") == NETWORK_SUSPECTED


async def cluster_silences(
    session: AsyncSession, settings: Settings, cluster_ids: Collection[int], now: datetime
) -> dict[int, ClusterSilence]:
    """Per cluster: its enabled hosts, and how many were not heard for ``ha_suspect_after``."""
    if not cluster_ids:
        return {}
    silent_since = now - timedelta(seconds=settings.ha_suspect_after)
    rows = await session.execute(
        select(
            Host.cluster_id,
            func.count(),
            func.coalesce(func.sum(case((last_heard() < silent_since, 1), else_=0)), 0),
        )
        .where(
            Host.cluster_id.in_(list(cluster_ids)),
            Host.removed.is_(None),
            Host.resource_state == ResourceState.ENABLED,
        )
        .group_by(Host.cluster_id)
    )
    return {row[0]: ClusterSilence(silent=int(row[2]), total=int(row[1])) for row in rows}


async def cluster_silence(
    session: AsyncSession, settings: Settings, cluster_id: int, now: datetime
) -> ClusterSilence:
    """``cluster_silences`` of one cluster."""
    found = await cluster_silences(session, settings, [cluster_id], now)
    return found.get(cluster_id, ClusterSilence(silent=0, total=0))
