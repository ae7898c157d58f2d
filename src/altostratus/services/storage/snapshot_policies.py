"""Snapshot policies: ``createSnapshotPolicy``, ``updateSnapshotPolicy``,
``listSnapshotPolicies`` and ``deleteSnapshotPolicies``.

A policy belongs to its volume: whoever may act on the volume may act on its policies,
and a policy of a deleted volume is gone with it (the scheduler removes the row). A
volume has at most one policy per interval; creating another for the same interval
changes that one, keeping its id, as CloudStack does (Ansible's ``cs_snapshot_policy``
relies on it). The policies run in ``services.storage.snapshot_scheduler``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, delete, select

from altostratus.core.context import ServiceContext
from altostratus.core.paging import Page, PageRequest, equal_if_given, keyword_filter, paginate
from altostratus.db.models import Account, Domain, SnapshotPolicy, Volume
from altostratus.db.models.compute import SnapshotInterval, VolumeState
from altostratus.errors import InvalidParameter, invalid
from altostratus.services.shared.events import record_event
from altostratus.services.shared.ownership import visible_to
from altostratus.services.storage.snapshot_schedule import next_run, parse_schedule
from altostratus.services.storage.volumes import get_volume
from altostratus.timeutil import utcnow

__all__ = [
    "PolicySpec",
    "create_policy",
    "delete_policies",
    "list_policies",
    "max_snaps_allowed",
    "update_policy",
]


@dataclass(frozen=True)
class PolicySpec:
    """What ``createSnapshotPolicy`` asks for; ``for_display`` is an admin's to set."""

    interval: SnapshotInterval
    schedule: str
    timezone: str
    max_snaps: int
    for_display: bool | None = None


def _is_admin(ctx: ServiceContext) -> bool:
    return ctx.caller.is_root_admin or ctx.caller.is_domain_admin


def max_snaps_allowed(ctx: ServiceContext, interval: SnapshotInterval) -> int:
    """``snapshot.max.<interval>``: the most snapshots a policy of that interval keeps."""
    settings = ctx.deps.settings
    return {
        SnapshotInterval.HOURLY: settings.snapshot_max_hourly,
        SnapshotInterval.DAILY: settings.snapshot_max_daily,
        SnapshotInterval.WEEKLY: settings.snapshot_max_weekly,
        SnapshotInterval.MONTHLY: settings.snapshot_max_monthly,
    }[interval]


def _next_run(spec: PolicySpec, after: datetime) -> datetime:
    try:
        schedule = parse_schedule(spec.interval, spec.schedule)
    except ValueError as error:
        raise invalid("schedule", str(error), value=spec.schedule) from None
    return next_run(schedule, spec.timezone, after)


def _policies() -> Select[SnapshotPolicy]:
    """Policies of live volumes, joined with the volume's owner for ``visible_to``."""
    return (
        select(SnapshotPolicy)
        .join(Volume, SnapshotPolicy.volume_id == Volume.id)
        .join(Account, Volume.account_id == Account.id)
        .join(Domain, Volume.domain_id == Domain.id)
        .where(Volume.removed.is_(None))
    )


async def _event(ctx: ServiceContext, policy: SnapshotPolicy, event_type: str, verb: str) -> None:
    volume = policy.volume
    await record_event(
        ctx,
        event_type,
        f"{verb} {policy.interval_type.lower()} snapshot policy ({policy.uuid}) "
        f"of volume {volume.name} ({volume.uuid})",
        resource_type="Volume",
        resource_uuid=volume.uuid,
        owner=volume.account,
    )


async def create_policy(ctx: ServiceContext, volume_uuid: str, spec: PolicySpec) -> SnapshotPolicy:
    """The volume's policy for ``spec.interval``, new or changed to ``spec``."""
    volume = await get_volume(ctx, volume_uuid, "volumeid")
    if volume.state != VolumeState.READY:
        raise invalid(
            "volumeid",
            f"volume {volume.name} is {volume.state}, not Ready: it has no data to snapshot",
            value=volume_uuid,
        )
    allowed = max_snaps_allowed(ctx, spec.interval)
    if spec.max_snaps > allowed:
        raise invalid(
            "maxsnaps",
            f"at most {allowed} snapshots are kept for an {spec.interval.value} policy "
            f"(snapshot.max.{spec.interval.value.lower()})",
            value=spec.max_snaps,
        )
    due = _next_run(spec, utcnow())
    policy = await ctx.session.scalar(
        select(SnapshotPolicy).where(
            SnapshotPolicy.volume_id == volume.id, SnapshotPolicy.interval_type == spec.interval
        )
    )
    verb = "Updated"
    if policy is None:
        policy = SnapshotPolicy(volume_id=volume.id, interval_type=spec.interval)
        ctx.session.add(policy)
        verb = "Created"
    policy.schedule = spec.schedule.strip()
    policy.timezone = spec.timezone
    policy.max_snaps = spec.max_snaps
    policy.next_run = due
    if spec.for_display is not None and _is_admin(ctx):
        policy.for_display = spec.for_display
    await ctx.session.flush()
    await ctx.session.refresh(policy, ["volume"])
    await _event(ctx, policy, "SNAPSHOTPOLICY.CREATE", verb)
    return policy


async def _visible_policy(ctx: ServiceContext, uuid: str, parameter: str) -> SnapshotPolicy:
    policy = await ctx.session.scalar(
        _policies().where(SnapshotPolicy.uuid == uuid, visible_to(ctx.caller))
    )
    if policy is None:
        raise InvalidParameter(
            f"Unable to find snapshot policy with id {uuid} (parameter {parameter})"
        )
    return policy


async def update_policy(
    ctx: ServiceContext, uuid: str, *, for_display: bool | None
) -> SnapshotPolicy:
    policy = await _visible_policy(ctx, uuid, "id")
    if for_display is not None and _is_admin(ctx):
        policy.for_display = for_display
        await ctx.session.flush()
        await _event(ctx, policy, "SNAPSHOTPOLICY.UPDATE", "Updated")
    return policy


async def delete_policies(ctx: ServiceContext, uuids: list[str], parameter: str) -> None:
    """Delete every one of ``uuids``, or none if any is not the caller's to delete."""
    policies = [await _visible_policy(ctx, uuid, parameter) for uuid in dict.fromkeys(uuids)]
    for policy in policies:
        await _event(ctx, policy, "SNAPSHOTPOLICY.DELETE", "Deleted")
    await ctx.session.execute(
        delete(SnapshotPolicy).where(SnapshotPolicy.id.in_([p.id for p in policies]))
    )


def _for_display_filter(ctx: ServiceContext, for_display: bool | None) -> ColumnElement[bool]:
    """Users see only displayed policies, as CloudStack's ``fordisplay`` is an admin's."""
    if for_display is None and not _is_admin(ctx):
        for_display = True
    return equal_if_given((SnapshotPolicy.for_display, for_display))


async def list_policies(
    ctx: ServiceContext,
    *,
    uuid: str | None,
    volume_uuid: str | None,
    for_display: bool | None,
    keyword: str | None,
    page: PageRequest,
) -> Page[SnapshotPolicy]:
    """The policies of the volumes the caller may act on; a ``volumeid`` it may not see
    is 431 (the volume is not found), not an empty list."""
    query = _policies().where(
        visible_to(ctx.caller),
        equal_if_given((SnapshotPolicy.uuid, uuid)),
        _for_display_filter(ctx, for_display),
        keyword_filter(keyword, Volume.name),
    )
    if volume_uuid is not None:
        volume = await get_volume(ctx, volume_uuid, "volumeid")
        query = query.where(SnapshotPolicy.volume_id == volume.id)
    return await paginate(ctx.session, query.order_by(SnapshotPolicy.id), page)
