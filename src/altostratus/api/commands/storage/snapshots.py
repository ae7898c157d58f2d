"""Volume snapshots.

``createSnapshot`` and ``deleteSnapshot`` are asynchronous; the request checks and
records, the job asks the volume's host (``services.storage.jobs``). Libcloud reads
``id``, ``volumeid``, ``name`` and ``tags``.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from altostratus.api.commands.shared.tags import TagResponse, tag_view
from altostratus.api.declarations import ANYONE, SUCCESS, CommandSet, Job, answer_success
from altostratus.api.ownership import OwnedListParams
from altostratus.api.params import MapParam, Params, Uuid, page_request
from altostratus.api.results import ListResult, ResponseObject, Single, Submitted
from altostratus.core.context import ServiceContext
from altostratus.db.models import Snapshot
from altostratus.services.shared import tags
from altostratus.services.storage import jobs as storage_jobs
from altostratus.services.storage import snapshots
from altostratus.timeutil import format_timestamp

__all__ = [
    "CreateSnapshotParams",
    "DeleteSnapshotParams",
    "ListSnapshotsParams",
    "SnapshotResponse",
    "commands",
    "create_snapshot",
    "delete_snapshot",
    "list_snapshots",
    "snapshot_view",
]

commands = CommandSet()

RESOURCE_TYPE = "Snapshot"


class SnapshotResponse(ResponseObject):
    id: str
    name: str
    volumeid: str
    volumename: str
    volumetype: str
    state: str
    created: str
    account: str
    domainid: str
    domain: str
    snapshottype: str
    intervaltype: str
    zoneid: str
    zonename: str
    #: Bytes.
    physicalsize: int
    virtualsize: int
    tags: list[TagResponse] = Field(default_factory=list)


def snapshot_view(
    snapshot: Snapshot, snapshot_tags: Sequence[TagResponse] = ()
) -> SnapshotResponse:
    return SnapshotResponse(
        id=snapshot.uuid,
        name=snapshot.name,
        volumeid=snapshot.volume.uuid,
        volumename=snapshot.volume.name,
        volumetype=snapshot.volume.type,
        state=snapshot.state,
        created=format_timestamp(snapshot.created),
        account=snapshot.account.name,
        domainid=snapshot.domain.uuid,
        domain=snapshot.domain.name,
        snapshottype=snapshot.snapshot_type,
        intervaltype=snapshot.interval_type,
        zoneid=snapshot.zone.uuid,
        zonename=snapshot.zone.name,
        physicalsize=snapshot.size,
        virtualsize=snapshot.volume.size,
        tags=list(snapshot_tags),
    )


def _submitted(snapshot: Snapshot) -> Submitted:
    return Submitted(
        storage_jobs.SnapshotPayload(id=snapshot.uuid),
        instance_type=RESOURCE_TYPE,
        instance_uuid=snapshot.uuid,
    )


async def _answer(ctx: ServiceContext, uuid: str) -> Single:
    snapshot = await snapshots.load_snapshot(ctx, uuid)
    found = await tags.tags_of(ctx.session, RESOURCE_TYPE, [uuid])
    return Single("snapshot", snapshot_view(snapshot, [tag_view(tag) for tag in found[uuid]]))


class CreateSnapshotParams(Params):
    volumeid: Uuid = Field(description="The volume to snapshot")
    name: str | None = Field(
        None, min_length=1, max_length=255, description="Name (default: VM_volume_timestamp)"
    )


@commands.command(
    "createSnapshot",
    CreateSnapshotParams,
    description="Takes a snapshot of a volume",
    allowed=ANYONE,
    response=("snapshot", SnapshotResponse),
    related=("listSnapshots",),
    job=Job(storage_jobs.CREATE_SNAPSHOT, _answer),
)
async def create_snapshot(ctx: ServiceContext, p: CreateSnapshotParams) -> Submitted:
    return _submitted(await snapshots.create_snapshot(ctx, p.volumeid, p.name))


class DeleteSnapshotParams(Params):
    id: Uuid = Field(description="The snapshot to delete")


@commands.command(
    "deleteSnapshot",
    DeleteSnapshotParams,
    description="Deletes a snapshot",
    allowed=ANYONE,
    response=SUCCESS,
    job=Job(storage_jobs.DELETE_SNAPSHOT, answer_success),
)
async def delete_snapshot(ctx: ServiceContext, p: DeleteSnapshotParams) -> Submitted:
    return _submitted(await snapshots.check_delete(ctx, p.id))


class ListSnapshotsParams(OwnedListParams):
    id: Uuid | None = Field(None, description="List the snapshot of this id")
    name: str | None = Field(None, max_length=255, description="List snapshots of this name")
    volumeid: Uuid | None = Field(None, description="List the snapshots of this volume")
    zoneid: Uuid | None = Field(None, description="List the snapshots of this zone")
    tags: MapParam | None = Field(None, description="List snapshots with these tags (key, value)")


@commands.command(
    "listSnapshots",
    ListSnapshotsParams,
    description="Lists volume snapshots",
    allowed=ANYONE,
    response=("snapshot", SnapshotResponse),
    writes=False,
)
async def list_snapshots(ctx: ServiceContext, p: ListSnapshotsParams) -> ListResult:
    page = await snapshots.list_snapshots(
        ctx,
        uuid=p.id,
        volume_uuid=p.volumeid,
        name=p.name,
        zone_uuid=p.zoneid,
        keyword=p.keyword,
        tags=p.tags,
        owner=p.scope(),
        page=page_request(ctx, p),
    )
    found = await tags.tags_of(ctx.session, RESOURCE_TYPE, [s.uuid for s in page.items])
    return ListResult(
        "snapshot",
        [snapshot_view(s, [tag_view(t) for t in found[s.uuid]]) for s in page.items],
        page.total,
    )
