"""The host HA monitor: moves HA resources with what the heartbeats say, submits investigations.

It runs under the ``host-ha`` lease, so one server of the region decides, every
``interval``. It never fences or restarts anything itself: a silent host gets an
investigation job (``investigation``), which the job executor runs and resumes. What it
does per host, by HA state:

* Available, silent for ``ha_suspect_after``: Suspect, then at once Checking with an
  investigation — or Degraded with an alert, if so much of its cluster is silent that
  the network is the likelier culprit (``cluster``);
* Suspect, Checking, Degraded, Recovered, heard again: Available;
* Degraded, still silent: investigated again every ``ha_recheck_interval``;
* Recovering: Recovered once every restart job ended, with an alert for each VM that
  found no host;
* not eligible (no provider, host not Enabled, HA disabled for its cluster or zone):
  Ineligible; eligible again: Available. Fencing, Fenced and Recovering are left to
  their investigation.

``host_ha`` off (the kill switch) stops all of it; states stay where they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import lazyload

from altostratus.core.context import Dependencies, ServiceContext
from altostratus.core.leases import hold_lease
from altostratus.core.worker import Tick
from altostratus.db.clock import database_now
from altostratus.db.engine import Database
from altostratus.db.models import HaScope, Host, HostHa
from altostratus.db.models.host_ha import HaState
from altostratus.db.models.hosts import ResourceState
from altostratus.ha.hosts import states
from altostratus.ha.hosts.cluster import ClusterSilence, cluster_silences, network_findings
from altostratus.ha.hosts.investigation import INVESTIGATE, HostRef
from altostratus.services.compute import evacuation
from altostratus.services.infrastructure.host_monitor import last_heard
from altostratus.services.infrastructure.hosts import system_context
from altostratus.services.shared import async_jobs
from altostratus.services.shared.alerts import AlertType, raise_alert
from altostratus.settings import Settings

__all__ = ["LEASE", "HostHaMonitor", "Round"]

LEASE = "host-ha"


@dataclass
class Round:
    """One pass of the monitor; its sentence is the log line."""

    moved: int = 0
    investigations: int = 0
    held: bool = True
    switched_off: bool = False

    def __str__(self) -> str:
        if self.switched_off:
            return "host HA is switched off (host_ha = false)"
        if not self.held:
            return f"another server holds the {LEASE} lease"
        return f"{self.moved} HA state change(s), {self.investigations} investigation(s) submitted"


class HostHaMonitor:
    """A worker (``core.worker``); its lease is renewed in the transaction that moves hosts."""

    name = "host-ha"
    lease = None
    wake_up = None
    run_at_start = True

    def __init__(self, db: Database, deps: Dependencies) -> None:
        self._db = db
        self._deps = deps
        settings = deps.settings
        self.interval = min(settings.heartbeat_interval, settings.ha_suspect_after / 3, 1.0)
        self._lease_seconds = max(3 * self.interval, 1.0)

    async def tick(self) -> Tick:
        done = await self.run_once()
        return Tick(str(done), changed=bool(done.moved or done.investigations))

    async def run_once(self) -> Round:
        if not self._deps.settings.host_ha:
            return Round(switched_off=True)
        async with self._db.transaction() as session:
            if not await hold_lease(session, LEASE, self._deps.server_id, self._lease_seconds):
                return Round(held=False)
            ctx = await system_context(session, self._deps)
            return await _round(ctx, await database_now(session))


async def _round(ctx: ServiceContext, now: datetime) -> Round:
    session, settings = ctx.session, ctx.deps.settings
    disabled = {(row.scope, row.scope_id) for row in await session.scalars(select(HaScope))}
    silent_since = now - timedelta(seconds=settings.ha_suspect_after)
    rows = (
        await session.execute(
            select(HostHa, Host)
            .join(Host, Host.id == HostHa.host_id)
            .where(
                HostHa.enabled.is_(True),
                Host.removed.is_(None),
                _needs_attention(silent_since, disabled),
            )
            .order_by(Host.id)
            .options(lazyload("*"))
            .execution_options(populate_existing=True)
        )
    ).all()
    # One query for the silence of every cluster a host of this round may be Suspect in.
    silences = await cluster_silences(
        session,
        settings,
        {host.cluster_id for resource, host in rows if resource.state != HaState.DEGRADED},
        now,
    )
    done = Round()

    async def to(resource: HostHa, host: Host, state: HaState, why: str) -> None:
        if await states.move(ctx, resource, host, state, why):
            done.moved += 1

    for resource, host in rows:
        state = HaState(resource.state)
        if state == HaState.RECOVERING:
            await _settle_recovery(ctx, resource, host, done)
            continue
        if state in states.SETTLED:
            continue
        if not _eligible(resource, host, disabled):
            await to(resource, host, HaState.INELIGIBLE, "not eligible for HA")
            continue
        heard = host.last_heartbeat or host.state_changed or host.created
        if heard >= silent_since:
            if state != HaState.AVAILABLE:
                await to(resource, host, HaState.AVAILABLE, "agent heard")
            continue
        if state in (HaState.DISABLED, HaState.INELIGIBLE, HaState.RECOVERED):
            if state != HaState.RECOVERED:
                await to(resource, host, HaState.AVAILABLE, "eligible for HA")
            continue
        if state == HaState.AVAILABLE:
            await to(resource, host, HaState.SUSPECT, f"no heartbeat since {heard:%H:%M:%S}")
            state = HaState(resource.state)
        if state == HaState.SUSPECT:
            silence = silences.get(host.cluster_id, ClusterSilence(silent=0, total=0))
            if silence.network_suspected(settings):
                await to(resource, host, HaState.DEGRADED, _network_why(silence))
                # Judging the cluster's silence is this host's check: the next one is
                # ``ha_recheck_interval`` away, not in the next round.
                resource.investigation = network_findings(silence)
                resource.last_investigated = now
                await _network_alert(ctx, host, silence)
                continue
            await to(resource, host, HaState.CHECKING, "investigating")
            await _submit_investigation(ctx, host, done)
        elif (state == HaState.DEGRADED and _recheck_due(resource, settings, now)) or (
            state == HaState.CHECKING and _stalled(resource, settings, now)
        ):
            resource.last_investigated = now
            resource.state_changed = now
            await _submit_investigation(ctx, host, done)
    if done.investigations:
        ctx.deps.signals.jobs_submitted()
    return done


def _needs_attention(silent_since: datetime, disabled: set[tuple[str, int]]) -> ColumnElement[bool]:
    """Every resource but an Available, eligible, heard one: in a steady region, none.

    So a round over 10,000 healthy hosts reads no row; ``_eligible`` and the silence
    are judged again in Python on what it does read.
    """
    clusters = [scope_id for scope, scope_id in disabled if scope == "Cluster"]
    zones = [scope_id for scope, scope_id in disabled if scope == "Zone"]
    return or_(
        HostHa.state != HaState.AVAILABLE,
        HostHa.provider.is_(None),
        Host.resource_state != ResourceState.ENABLED,
        last_heard() < silent_since,
        Host.cluster_id.in_(clusters),
        Host.zone_id.in_(zones),
    )


def _eligible(resource: HostHa, host: Host, disabled: set[tuple[str, int]]) -> bool:
    return (
        resource.provider is not None
        and host.resource_state == ResourceState.ENABLED
        and ("Cluster", host.cluster_id) not in disabled
        and ("Zone", host.zone_id) not in disabled
    )


def _recheck_due(resource: HostHa, settings: Settings, now: datetime) -> bool:
    last = resource.last_investigated
    return last is None or (now - last).total_seconds() >= settings.ha_recheck_interval


def _stalled(resource: HostHa, settings: Settings, now: datetime) -> bool:
    """Checking for far longer than an investigation takes: its job failed or was lost."""
    allowed = 2 * (settings.ha_investigation_timeout + settings.ha_fence_timeout) + 30.0
    changed = resource.state_changed
    return changed is None or (now - changed).total_seconds() > allowed


def _network_why(silence: ClusterSilence) -> str:
    return (
        f"{silence.silent} of {silence.total} hosts of its cluster silent at once: "
        "a network failure is likelier than host failures"
    )


async def _network_alert(ctx: ServiceContext, host: Host, silence: ClusterSilence) -> None:
    await raise_alert(
        ctx.session,
        AlertType.HOST,
        f"Host {host.name} is silent with {silence.silent - 1} other host(s) of its cluster; "
        "nothing is fenced or restarted",
        zone_id=host.zone_id,
        pod_id=host.pod_id,
        cluster_id=host.cluster_id,
        host_id=host.id,
    )


async def _submit_investigation(ctx: ServiceContext, host: Host, done: Round) -> None:
    await async_jobs.submit(
        ctx, INVESTIGATE, HostRef(host_id=host.id), instance_type="Host", instance_uuid=host.uuid
    )
    done.investigations += 1


async def _settle_recovery(ctx: ServiceContext, resource: HostHa, host: Host, done: Round) -> None:
    """Recovering → Recovered once every restart ended; an alert per VM left Stopped."""
    jobs: list[str] = orjson.loads(resource.recovery_jobs or "[]")
    outcome = await evacuation.restart_outcome(ctx, jobs)
    if outcome.pending:
        return
    if not await states.move(
        ctx,
        resource,
        host,
        HaState.RECOVERED,
        f"{len(jobs) - len(outcome.failed)} of {len(jobs)} HA VM(s) restarted",
    ):
        return
    done.moved += 1
    for vm_uuid, why in outcome.failed:
        await raise_alert(
            ctx.session,
            AlertType.USERVM,
            f"HA VM {vm_uuid} of fenced host {host.name} could not be restarted: {why}",
            zone_id=host.zone_id,
            pod_id=host.pod_id,
            cluster_id=host.cluster_id,
            host_id=host.id,
        )
