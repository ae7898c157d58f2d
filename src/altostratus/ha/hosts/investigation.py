"""The investigation of a suspect host: ask, decide, fence, recover — one resumable job.

Investigators, consulted in order and recorded on the host's HA resource:

1. the agent's heartbeat (the host may have come back while the job waited);
2. neighbour hosts of the same cluster, whose agents probe the suspect's probe
   listener and read its storage heartbeat and its VMs' disk leases on shared storage
   (``CheckHost``): the activity check;
3. the cluster: when many of its hosts went silent together the network, not the
   hosts, failed.

Then one of three verdicts. **Fence**: power the host OFF through its BMC and read
STATUS back; Off is proof. **Proven off**: the activity check saw nothing written for
``ha_activity_period``. **Degraded**: anything else (alive, or unprovable), with an
alert; nothing is restarted. A proven-off host's VMs are evacuated (``services.compute.
evacuation``) in the step that records it Recovering.

Every decision is a job step, so a server that dies mid-way is replaced by one that
resumes from the last recorded step: the power actions (idempotent) may be repeated, a
recorded evacuation never is.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import select

from altostratus.agent.protocol import CheckHost, CommandKind, HostCheck
from altostratus.core.context import ServiceContext
from altostratus.db.clock import database_now
from altostratus.db.models import Host, HostHa, VirtualMachine, Volume
from altostratus.db.models.compute import VmState
from altostratus.db.models.host_ha import HaState
from altostratus.db.models.hosts import HostState
from altostratus.errors import CloudError
from altostratus.ha.hosts import states
from altostratus.ha.hosts.cluster import (
    NETWORK_ENDED,
    NETWORK_SUSPECTED,
    cluster_silence,
    network_was_suspected,
)
from altostratus.ha.oobm.drivers import OutOfBandError, PowerAction, PowerState
from altostratus.ha.oobm.service import issue_power_action, oobm_effective
from altostratus.jobs.kinds import JobKind, JobPayload
from altostratus.jobs.run import JobRun
from altostratus.services.compute import evacuation
from altostratus.services.infrastructure.hosts import host_event
from altostratus.services.shared.alerts import AlertType, raise_alert

__all__ = ["INVESTIGATE", "Activity", "HostRef", "Plan", "Verdict", "VerdictKind", "activity_of"]


class HostRef(JobPayload):
    host_id: int


@dataclass(frozen=True)
class Plan:
    """Whom to ask about the suspect, and what (``None`` from the first step: nothing to do)."""

    neighbour_ids: list[int]
    neighbour_names: list[str]
    check: dict[str, Any]


class Activity(enum.StrEnum):
    ALIVE = "alive"
    SILENT = "silent"
    UNKNOWN = "unknown"


class VerdictKind(enum.StrEnum):
    FENCE = "fence"
    PROVEN_OFF = "proven off"
    DEGRADED = "degraded"
    #: The host is back, or its HA state moved on (disabled, another investigation).
    NOTHING = "nothing"


@dataclass(frozen=True)
class Verdict:
    kind: VerdictKind
    activity: Activity = Activity.UNKNOWN
    findings: dict[str, Any] = field(default_factory=dict)


async def _resource(ctx: ServiceContext, host_id: int) -> tuple[HostHa, Host] | None:
    row = (
        await ctx.session.execute(
            select(HostHa, Host)
            .join(Host, Host.id == HostHa.host_id)
            .where(HostHa.host_id == host_id, Host.removed.is_(None))
            .execution_options(populate_existing=True)
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def _plan(ctx: ServiceContext, host_id: int) -> Plan | None:
    found = await _resource(ctx, host_id)
    if found is None or found[0].state not in (HaState.CHECKING, HaState.DEGRADED):
        return None
    _, host = found
    settings = ctx.deps.settings
    neighbours = (
        await ctx.session.execute(
            select(Host.id, Host.name)
            .where(
                Host.cluster_id == host.cluster_id,
                Host.id != host.id,
                Host.removed.is_(None),
                Host.state == HostState.UP,
            )
            .order_by(Host.last_heartbeat.desc(), Host.id)
            .limit(settings.ha_neighbours)
        )
    ).all()
    volume_uuids = await ctx.session.scalars(
        select(Volume.uuid)
        .join(VirtualMachine, VirtualMachine.id == Volume.vm_id)
        .where(
            VirtualMachine.host_id == host.id,
            VirtualMachine.removed.is_(None),
            VirtualMachine.state == VmState.RUNNING,
            Volume.removed.is_(None),
        )
        .order_by(Volume.id)
    )
    check = CheckHost(
        host_name=host.name, probe_address=host.probe_address, volume_uuids=list(volume_uuids)
    )
    return Plan(
        neighbour_ids=[row.id for row in neighbours],
        neighbour_names=[row.name for row in neighbours],
        check=check.model_dump(mode="json"),
    )


def activity_of(reports: list[HostCheck], period: float) -> Activity:
    """What the neighbours' reports say of the suspect's activity.

    Alive if any neighbour reached it or saw a recent write. Silent only if at least one
    neighbour read its storage heartbeat, all who did found it older than ``period``,
    none reached it and no disk of its VMs was renewed within ``period``. A report
    without a storage heartbeat (no shared storage) proves nothing.
    """
    if any(report.reachable for report in reports):
        return Activity.ALIVE
    ages = [
        age
        for report in reports
        for age in (report.heartbeat_age, report.disk_activity_age)
        if age is not None
    ]
    if any(age < period for age in ages):
        return Activity.ALIVE
    if any(report.heartbeat_age is not None for report in reports):
        return Activity.SILENT
    return Activity.UNKNOWN


def _findings(
    plan: Plan, outcomes: list[dict[str, Any] | CloudError]
) -> tuple[list[HostCheck], list[dict[str, Any]]]:
    reports: list[HostCheck] = []
    recorded: list[dict[str, Any]] = []
    for name, outcome in zip(plan.neighbour_names, outcomes, strict=True):
        if isinstance(outcome, CloudError):
            recorded.append({"neighbour": name, "error": outcome.text})
            continue
        report = HostCheck.model_validate(outcome)
        reports.append(report)
        recorded.append({"neighbour": name, **report.model_dump(mode="json")})
    return reports, recorded


async def _decide(
    ctx: ServiceContext, host_id: int, plan: Plan, outcomes: list[dict[str, Any] | CloudError]
) -> Verdict:
    """Weigh the investigators' findings and move the host: Fencing, Fenced or Degraded."""
    found = await _resource(ctx, host_id)
    if found is None or found[0].state not in (HaState.CHECKING, HaState.DEGRADED):
        return Verdict(VerdictKind.NOTHING)
    resource, host = found
    settings = ctx.deps.settings
    now = await database_now(ctx.session)
    # Only a recheck of a host still Degraded: one heard since and silent again is new.
    was_network = resource.state == HaState.DEGRADED and network_was_suspected(resource)
    reports, neighbours = _findings(plan, outcomes)
    activity = activity_of(reports, settings.ha_activity_period)
    silence = await cluster_silence(ctx.session, settings, host.cluster_id, now)
    fenceable = await oobm_effective(ctx.session, host.id)
    findings: dict[str, Any] = {
        "heartbeat": f"silent since {host.last_heartbeat:%Y-%m-%d %H:%M:%S}"
        if host.last_heartbeat
        else "never heard",
        "neighbours": neighbours,
        "activity": activity.value,
        "cluster": silence.summary,
        "outofband": "enabled" if fenceable else "not configured or disabled",
    }
    network = silence.network_suspected(settings)
    if network or was_network:
        findings["network"] = NETWORK_SUSPECTED if network else NETWORK_ENDED
    resource.investigation = orjson.dumps(findings).decode()
    resource.last_investigated = now
    if network:
        kind, why = VerdictKind.DEGRADED, f"{findings['cluster']}: a network failure, not hosts"
    elif was_network:
        # Hosts cut together come back one by one (each agent reconnects in its own
        # time): the last ones are alone silent for a moment, not dead.
        kind, why = (
            VerdictKind.DEGRADED,
            "the rest of its cluster is heard again after a network failure: one more "
            "recheck before it may be fenced",
        )
    elif fenceable and (activity is not Activity.ALIVE or settings.ha_fence_active_hosts):
        kind, why = VerdictKind.FENCE, f"agent silent, activity {activity}: fencing"
    elif activity is Activity.SILENT:
        kind, why = VerdictKind.PROVEN_OFF, "no storage or disk activity: proven off"
    elif activity is Activity.ALIVE:
        kind, why = VerdictKind.DEGRADED, "agent silent but the host is active; cannot fence"
    else:
        kind, why = VerdictKind.DEGRADED, "agent silent, activity unknown; cannot fence"
    target = {
        VerdictKind.FENCE: HaState.FENCING,
        VerdictKind.PROVEN_OFF: HaState.FENCED,
        VerdictKind.DEGRADED: HaState.DEGRADED,
    }[kind]
    was_degraded = resource.state == HaState.DEGRADED
    if target != resource.state and not await states.move(ctx, resource, host, target, why):
        return Verdict(VerdictKind.NOTHING)
    if kind is VerdictKind.DEGRADED and not was_degraded:
        await raise_alert(
            ctx.session,
            AlertType.HOST,
            f"Host {host.name} is silent and could not be proven off ({why}); "
            "its VMs are not restarted",
            zone_id=host.zone_id,
            pod_id=host.pod_id,
            cluster_id=host.cluster_id,
            host_id=host.id,
        )
    return Verdict(kind, activity, findings)


async def _fence(run: JobRun, host_id: int, activity: Activity) -> bool:
    """Power the host OFF and read STATUS back; whether it is proven off (and moved).

    Only while the host is still Fencing: an operator may have disabled its HA, or a
    resumed job may come after the host was healed; neither may power it off.
    """
    settings = run.deps.settings

    async def fencing(ctx: ServiceContext) -> bool:
        found = await _resource(ctx, host_id)
        return found is not None and found[0].state == HaState.FENCING

    if not await run.read(fencing):
        return False
    error: str | None = None
    state = PowerState.UNKNOWN
    timeout = settings.ha_fence_timeout
    try:
        await issue_power_action(run.db, run.deps, host_id, PowerAction.OFF, bmc_timeout=timeout)
        state = await issue_power_action(
            run.db, run.deps, host_id, PowerAction.STATUS, bmc_timeout=timeout
        )
    except OutOfBandError as failure:
        error = str(failure) or "the BMC did not answer in time"
    off = state is PowerState.OFF

    async def record(ctx: ServiceContext) -> bool:
        found = await _resource(ctx, host_id)
        if found is None or found[0].state != HaState.FENCING:
            return False
        resource, host = found
        if off:
            return await states.move(ctx, resource, host, HaState.FENCED, "power is Off")
        why = error or f"power reads {state} after OFF"
        if activity is Activity.SILENT:
            return await states.move(
                ctx,
                resource,
                host,
                HaState.FENCED,
                f"fence failed ({why}), but no activity for the activity period: proven off",
            )
        await states.move(ctx, resource, host, HaState.DEGRADED, f"fence failed: {why}")
        await raise_alert(
            ctx.session,
            AlertType.HA_ACTION,
            f"Fencing host {host.name} failed ({why}); its VMs are not restarted",
            zone_id=host.zone_id,
            pod_id=host.pod_id,
            cluster_id=host.cluster_id,
            host_id=host.id,
        )
        return False

    return await run.step("fenced", record)


async def _recover(ctx: ServiceContext, host_id: int) -> list[str]:
    """Fenced → Recovering: the VMs evacuated, their restart jobs recorded on the resource.

    The move comes first: of two investigations that both found the host Fenced (one
    resubmitted after the other stalled), only the one that moved it evacuates.
    """
    found = await _resource(ctx, host_id)
    if found is None or found[0].state != HaState.FENCED:
        return []
    resource, host = found
    if not await states.move(ctx, resource, host, HaState.RECOVERING, "restarting its HA VMs"):
        return []
    if host.state != HostState.DOWN:
        # The host monitor may not have judged the silence yet: without this the
        # scheduler could place a restart back on the dead host.
        host.state, host.state_changed = HostState.DOWN, await database_now(ctx.session)
        await host_event(ctx, host, "HOST.DOWN", f"Host {host.name} is Down: fenced")
    evacuated = await evacuation.evacuate(ctx, host_id)
    resource.recovery_jobs = orjson.dumps(evacuated.restart_jobs).decode()
    await host_event(
        ctx,
        host,
        "HA.VM.EVACUATE",
        f"Host {host.name}: {len(evacuated.restart_jobs)} HA VM(s) restarting elsewhere, "
        f"{len(evacuated.stopped)} left Stopped",
    )
    ctx.deps.signals.jobs_submitted()
    return evacuated.restart_jobs


async def _investigate(run: JobRun, payload: HostRef) -> str:
    host_id = payload.host_id
    plan = await run.step("plan", lambda ctx: _plan(ctx, host_id), result_type=Plan)
    if plan is None:
        return VerdictKind.NOTHING.value
    outcomes = (
        await run.host_commands(
            "ask neighbours",
            [(n, CommandKind.CHECK_HOST, plan.check) for n in plan.neighbour_ids],
            answer_within=run.deps.settings.ha_investigation_timeout,
        )
        if plan.neighbour_ids
        else []
    )
    verdict = await run.step(
        "verdict", lambda ctx: _decide(ctx, host_id, plan, outcomes), result_type=Verdict
    )
    proven = verdict.kind is VerdictKind.PROVEN_OFF
    if verdict.kind is VerdictKind.FENCE:
        proven = await _fence(run, host_id, verdict.activity)
    if proven:
        await run.step("recover", lambda ctx: _recover(ctx, host_id))
    return verdict.kind.value


#: Submitted by the host HA monitor for a Suspect (or Degraded, again later) host.
INVESTIGATE: JobKind[HostRef, str] = JobKind(HostRef, _investigate, internal="ha.investigateHost")
