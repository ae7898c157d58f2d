"""``listReplicationStatus``: how far this region's copy of the global tables is."""

from __future__ import annotations

from typing import Any

from altostratus.api.declarations import ADMIN, CommandSet
from altostratus.api.params import Params
from altostratus.api.results import ResponseObject, Single
from altostratus.core.context import ServiceContext
from altostratus.federation.status import (
    PeerRegion,
    PeerStatus,
    read_peers,
    read_pull_status,
    read_stored_state,
)
from altostratus.timeutil import format_timestamp

__all__ = [
    "ListReplicationStatusParams",
    "PeerResponse",
    "ReplicationStatusResponse",
    "VectorEntryResponse",
    "commands",
    "list_replication_status",
]

commands = CommandSet()


class VectorEntryResponse(ResponseObject):
    origin: int
    seq: int


class PeerResponse(ResponseObject):
    regionid: int
    name: str
    endpoint: str
    #: Unknown (left out) until a server of this region has tried to pull from the peer.
    reachable: bool | None = None
    lastsuccess: str | None = None
    lasterror: str | None = None
    lagseconds: float | None = None
    entriespulled: int = 0


class ReplicationStatusResponse(ResponseObject):
    localregionid: int
    vector: list[VectorEntryResponse]
    pending: int
    peers: list[PeerResponse]
    #: The audit's last result per peer, as the audit recorded it.
    lastaudit: list[dict[str, Any]] | None = None


class ListReplicationStatusParams(Params):
    pass


@commands.command(
    "listReplicationStatus",
    ListReplicationStatusParams,
    description=(
        "Lists this region's replication state: its version vector, entries waiting to be "
        "applied, each peer region's reachability and lag as seen by this region, and the "
        "last audit results"
    ),
    allowed=ADMIN,
    response=("replicationstatus", ReplicationStatusResponse),
    writes=False,
    related=("listRegions",),
)
async def list_replication_status(ctx: ServiceContext, _p: ListReplicationStatusParams) -> Single:
    stored = await read_stored_state(ctx.session)
    local = ctx.deps.local_region_id
    pulls = await read_pull_status(ctx.session)
    peers = [_peer_view(peer, pulls.get(peer.id)) for peer in await read_peers(ctx.session, local)]
    return Single(
        "replicationstatus",
        ReplicationStatusResponse(
            localregionid=local,
            vector=[VectorEntryResponse(origin=o, seq=s) for o, s in sorted(stored.vector.items())],
            pending=stored.pending,
            peers=peers,
            lastaudit=stored.audits or None,
        ),
    )


def _peer_view(region: PeerRegion, status: PeerStatus | None) -> PeerResponse:
    if status is None:
        return PeerResponse(regionid=region.id, name=region.name, endpoint=region.endpoint)
    return PeerResponse(
        regionid=region.id,
        name=region.name,
        endpoint=region.endpoint,
        reachable=status.reachable,
        lastsuccess=format_timestamp(status.last_success) if status.last_success else None,
        lasterror=status.last_error,
        lagseconds=status.lag_seconds,
        entriespulled=status.entries_pulled,
    )
