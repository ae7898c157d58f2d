"""The snapshot policy scheduler: a worker under the region's ``snapshot-policies`` lease.

Each round, in one transaction: policies whose volume is gone are removed; every due
policy gets one snapshot (taken by the usual ``createSnapshot`` job, so a scheduled
snapshot is made and recorded as a manual one is) and its next time; and each policy's
oldest BackedUp snapshots beyond its ``maxsnaps`` are deleted by ``deleteSnapshot`` jobs.
A server that was down for a day takes one snapshot per policy when it is back, not one
per missed time; a snapshot still being taken when its next time comes is not doubled.
The lease keeps two servers from taking the same snapshot; were two ever to overlap (a
paused holder and its successor), the policy row's next time, moved in the same
transaction, lets only one of them commit a snapshot for it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select

from altostratus.core.context import Dependencies, ServiceContext
from altostratus.core.leases import LeaseHolder
from altostratus.core.worker import Tick
from altostratus.db.clock import database_now
from altostratus.db.engine import Database
from altostratus.db.models import AsyncJob, Snapshot, SnapshotPolicy, Volume
from altostratus.db.models.compute import SnapshotInterval, SnapshotState, VolumeState
from altostratus.errors import CloudError
from altostratus.jobs.status import JobStatus
from altostratus.services.infrastructure.hosts import system_context
from altostratus.services.shared import async_jobs
from altostratus.services.shared.events import record_event
from altostratus.services.storage import jobs as storage_jobs
from altostratus.services.storage import snapshots
from altostratus.services.storage.snapshot_schedule import next_run, parse_schedule

__all__ = ["BATCH", "SNAPSHOT_POLICY_LEASE", "SnapshotScheduler"]

SNAPSHOT_POLICY_LEASE = "snapshot-policies"
#: Due policies handled per round (one transaction); more wait for the next round.
BATCH = 200


class SnapshotScheduler:
    """Takes the due policies' snapshots and deletes what their ``maxsnaps`` no longer keep."""

    name = SNAPSHOT_POLICY_LEASE
    wake_up = None
    run_at_start = True

    def __init__(self, db: Database, deps: Dependencies) -> None:
        self._db = db
        self._deps = deps
        self.interval = deps.settings.snapshot_policy_interval
        self.lease: LeaseHolder | None = LeaseHolder(
            db, SNAPSHOT_POLICY_LEASE, deps.server_id, 1.5 * self.interval
        )

    async def tick(self, now: datetime | None = None) -> Tick:
        """One round; ``now`` (default: the database's clock) lets tests choose the time."""
        async with self._db.transaction() as session:
            ctx = await system_context(session, self._deps)
            current = now if now is not None else await database_now(session)
            orphans = await _remove_orphans(ctx)
            taken = sum([await _run(ctx, policy, current) for policy in await _due(ctx, current)])
            pruned = await _prune(ctx)
        return Tick(
            f"{taken} scheduled snapshot(s) started, {pruned} beyond maxsnaps deleted, "
            f"{orphans} policy(ies) of deleted volumes removed",
            changed=bool(taken or pruned or orphans),
        )


async def _remove_orphans(ctx: ServiceContext) -> int:
    gone = select(Volume.id).where(Volume.removed.is_not(None))
    result = await ctx.session.execute(
        delete(SnapshotPolicy).where(SnapshotPolicy.volume_id.in_(gone))
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def _due(ctx: ServiceContext, now: datetime) -> list[SnapshotPolicy]:
    rows = await ctx.session.scalars(
        select(SnapshotPolicy)
        .where(SnapshotPolicy.next_run <= now)
        .order_by(SnapshotPolicy.next_run)
        .limit(BATCH)
        .with_for_update(of=SnapshotPolicy)
    )
    return list(rows)


async def _run(ctx: ServiceContext, policy: SnapshotPolicy, now: datetime) -> int:
    """Move the policy to its next time and start its snapshot: 1 if one was started."""
    interval = SnapshotInterval(policy.interval_type)
    policy.next_run = next_run(parse_schedule(interval, policy.schedule), policy.timezone, now)
    volume = policy.volume
    if volume.state != VolumeState.READY or await _still_taking(ctx, volume, interval):
        return 0
    try:
        snapshot = await snapshots.create_snapshot(ctx, volume.uuid, None, interval=interval)
    except CloudError as error:
        await record_event(
            ctx,
            "SNAPSHOT.CREATE",
            f"Scheduled {interval.value.lower()} snapshot of volume {volume.name} "
            f"({volume.uuid}) not taken: {error}",
            resource_type="Volume",
            resource_uuid=volume.uuid,
            owner=volume.account,
            level="ERROR",
        )
        return 0
    await async_jobs.submit(
        ctx,
        storage_jobs.CREATE_SNAPSHOT,
        storage_jobs.SnapshotPayload(id=snapshot.uuid),
        instance_type="Snapshot",
        instance_uuid=snapshot.uuid,
    )
    return 1


async def _still_taking(ctx: ServiceContext, volume: Volume, interval: SnapshotInterval) -> bool:
    taking = await ctx.session.scalar(
        select(func.count())
        .select_from(Snapshot)
        .where(
            Snapshot.volume_id == volume.id,
            Snapshot.snapshot_type == interval.value,
            Snapshot.state == SnapshotState.BACKING_UP,
            Snapshot.removed.is_(None),
        )
    )
    return bool(taking)


async def _prune(ctx: ServiceContext) -> int:
    """Start a ``deleteSnapshot`` job for each policy's BackedUp snapshots beyond its
    ``maxsnaps``, oldest first, unless one is already on its way."""
    newest_first = (
        func.row_number()
        .over(
            partition_by=(Snapshot.volume_id, Snapshot.snapshot_type),
            order_by=Snapshot.id.desc(),
        )
        .label("rank")
    )
    ranked = (
        select(Snapshot.uuid, Snapshot.volume_id, Snapshot.snapshot_type, newest_first)
        .where(Snapshot.state == SnapshotState.BACKED_UP, Snapshot.removed.is_(None))
        .subquery()
    )
    being_deleted = select(AsyncJob.instance_uuid).where(
        AsyncJob.kind == storage_jobs.DELETE_SNAPSHOT.name,
        AsyncJob.status == JobStatus.PENDING,
    )
    excess = await ctx.session.scalars(
        select(ranked.c.uuid)
        .join(
            SnapshotPolicy,
            (SnapshotPolicy.volume_id == ranked.c.volume_id)
            & (SnapshotPolicy.interval_type == ranked.c.snapshot_type),
        )
        .where(ranked.c.rank > SnapshotPolicy.max_snaps, ranked.c.uuid.not_in(being_deleted))
    )
    pruned = 0
    for uuid in excess:
        await async_jobs.submit(
            ctx,
            storage_jobs.DELETE_SNAPSHOT,
            storage_jobs.SnapshotPayload(id=uuid),
            instance_type="Snapshot",
            instance_uuid=uuid,
        )
        pruned += 1
    return pruned
