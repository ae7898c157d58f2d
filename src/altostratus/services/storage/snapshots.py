"""Volume snapshots: ``createSnapshot``, ``deleteSnapshot`` and ``listSnapshots``.

A snapshot belongs to its volume's account and zone. The request records it
(BackingUp, counted against the SNAPSHOT limit at once); the job asks the host that
holds the volume (its running VM's host, else the host of its storage) to take it, and
records it BackedUp with the path and size the agent answers. A volume that was never
written to any host's storage has nothing to copy: its snapshot is recorded directly.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select

from altostratus.agent.protocol import CommandKind, SnapshotVolume
from altostratus.core.context import ServiceContext
from altostratus.core.paging import (
    Page,
    PageRequest,
    equal_if_given,
    keyword_filter,
    paginate,
)
from altostratus.db.models import Snapshot, Volume, Zone
from altostratus.db.models.compute import SnapshotInterval, SnapshotState
from altostratus.errors import invalid
from altostratus.services.shared import limits, tags
from altostratus.services.shared.events import record_event
from altostratus.services.shared.limits import ResourceType
from altostratus.services.shared.ownership import (
    OwnerScope,
    find_visible,
    listed_owners,
    with_owner_joins,
)
from altostratus.services.storage.volumes import HostCall, get_volume, host_holding, tagged
from altostratus.timeutil import utcnow

__all__ = [
    "check_delete",
    "create_snapshot",
    "fail_snapshot",
    "finish_delete",
    "finish_snapshot",
    "get_snapshot",
    "list_snapshots",
    "load_snapshot",
    "snapshot_call",
]

_STAMP = "%Y%m%d%H%M%S"


async def get_snapshot(ctx: ServiceContext, uuid: str, parameter: str = "id") -> Snapshot:
    """A snapshot the caller may see (not deleted); else 431 naming ``parameter``."""
    return await find_visible(ctx, Snapshot, uuid, noun="snapshot", parameter=parameter)


async def load_snapshot(ctx: ServiceContext, uuid: str) -> Snapshot:
    """A snapshot by id, for a job that already checked access."""
    snapshot = await ctx.session.scalar(
        select(Snapshot).where(Snapshot.uuid == uuid).execution_options(populate_existing=True)
    )
    assert snapshot is not None, f"snapshot {uuid} vanished"
    return snapshot


async def _event(ctx: ServiceContext, snapshot: Snapshot, event_type: str, verb: str) -> None:
    await record_event(
        ctx,
        event_type,
        f"{verb} snapshot {snapshot.name} ({snapshot.uuid}) of volume {snapshot.volume.name}",
        resource_type="Snapshot",
        resource_uuid=snapshot.uuid,
        owner=snapshot.account,
    )


async def create_snapshot(
    ctx: ServiceContext,
    volume_uuid: str,
    name: str | None,
    *,
    interval: SnapshotInterval | None = None,
) -> Snapshot:
    """Record a snapshot of the volume, BackingUp until the job has taken it.

    ``interval``: a policy's scheduled snapshot, typed by its interval as CloudStack
    types it (``HOURLY`` …, not ``MANUAL``); the policy keeps that many of its type.
    """
    volume = await get_volume(ctx, volume_uuid, "volumeid")
    await limits.check(ctx.session, volume.account_id, {ResourceType.SNAPSHOT: 1})
    owner = volume.vm.name if volume.vm else "detached"
    kind = interval.value if interval is not None else "MANUAL"
    snapshot = Snapshot(
        name=name or f"{owner}_{volume.name}_{utcnow().strftime(_STAMP)}",
        account_id=volume.account_id,
        domain_id=volume.domain_id,
        zone_id=volume.zone_id,
        volume_id=volume.id,
        state=SnapshotState.BACKING_UP,
        snapshot_type=kind,
        interval_type=kind,
    )
    ctx.session.add(snapshot)
    await ctx.session.flush()
    await ctx.session.refresh(snapshot, ["account", "domain", "zone", "volume"])
    await _event(ctx, snapshot, "SNAPSHOT.CREATE", "Started")
    return snapshot


async def snapshot_call(ctx: ServiceContext, uuid: str, kind: CommandKind) -> HostCall | None:
    """CreateSnapshot or DeleteSnapshot for the volume's host, if its data lives on one.

    A removed host counts as none: its command would never be delivered and the job
    would only time out.
    """
    snapshot = await load_snapshot(ctx, uuid)
    volume = snapshot.volume
    host_id = await host_holding(ctx, volume)
    if host_id is None or (kind is CommandKind.DELETE_SNAPSHOT and snapshot.path is None):
        return None
    command = SnapshotVolume(
        snapshot_uuid=snapshot.uuid,
        volume_uuid=volume.uuid,
        instance_name=volume.vm.instance_name if volume.vm else None,
    )
    return HostCall(host_id, kind, command.model_dump())


async def finish_snapshot(ctx: ServiceContext, uuid: str, answer: dict[str, Any]) -> str:
    """BackedUp, with the agent's ``path`` and ``size`` (or the volume's size without one)."""
    snapshot = await load_snapshot(ctx, uuid)
    snapshot.state = SnapshotState.BACKED_UP
    snapshot.path = answer.get("path")
    snapshot.size = int(answer.get("size") or snapshot.volume.size)
    await _event(ctx, snapshot, "SNAPSHOT.CREATE", "Backed up")
    return snapshot.uuid


async def fail_snapshot(ctx: ServiceContext, uuid: str) -> str:
    """The host could not take it: Error, and no longer counted against the limit."""
    snapshot = await load_snapshot(ctx, uuid)
    snapshot.state = SnapshotState.ERROR
    snapshot.removed = utcnow()
    await _event(ctx, snapshot, "SNAPSHOT.CREATE", "Failed to back up")
    return snapshot.uuid


async def check_delete(ctx: ServiceContext, uuid: str) -> Snapshot:
    snapshot = await get_snapshot(ctx, uuid)
    if snapshot.state == SnapshotState.BACKING_UP:
        raise invalid("id", f"snapshot {snapshot.name} is still being taken", value=uuid)
    return snapshot


async def finish_delete(ctx: ServiceContext, uuid: str) -> str:
    snapshot = await load_snapshot(ctx, uuid)
    if snapshot.removed is None:
        snapshot.state = SnapshotState.DESTROYED
        snapshot.removed = utcnow()
        await tags.delete_tags_of(ctx.session, "Snapshot", snapshot.uuid)
        await _event(ctx, snapshot, "SNAPSHOT.DELETE", "Deleted")
    return snapshot.uuid


async def list_snapshots(
    ctx: ServiceContext,
    *,
    uuid: str | None,
    volume_uuid: str | None,
    name: str | None,
    zone_uuid: str | None,
    keyword: str | None,
    tags: list[dict[str, str]] | None,
    owner: OwnerScope,
    page: PageRequest,
) -> Page[Snapshot]:
    """Snapshots of the listing's owners; an ``id`` is looked up among all the caller sees."""
    query = with_owner_joins(Snapshot).where(
        Snapshot.removed.is_(None),
        await listed_owners(ctx, replace(owner, listall=owner.listall or uuid is not None)),
        equal_if_given((Snapshot.uuid, uuid), (Snapshot.name, name)),
        keyword_filter(keyword, Snapshot.name),
        tagged("Snapshot", Snapshot.uuid, tags),
    )
    if volume_uuid is not None:
        query = query.where(
            Snapshot.volume_id.in_(select(Volume.id).where(Volume.uuid == volume_uuid))
        )
    if zone_uuid is not None:
        query = query.where(Snapshot.zone_id.in_(select(Zone.id).where(Zone.uuid == zone_uuid)))
    return await paginate(ctx.session, query.order_by(Snapshot.id), page)
