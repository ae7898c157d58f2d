"""Seconds from a host's power-off to its HA VMs Running elsewhere, on real processes.

The bench builds the host HA netns rig (``tests/support/ha_rig.py``, docs/ha.md "How host
HA is tested"; root needed): one management server, ``--hosts`` simulated hosts in one
cluster, each an ``alto-agent`` in its own network namespace with the safety belts
(shared storage, disk leases, ledger, probe listener) behind an ``ipmi_sim`` BMC, every
host HA-enabled with out-of-band management. The database is SQLite in the rig's
directory, or ``--database-url`` (an empty PostgreSQL database reached through its unix
socket directory, ``postgresql://alto@/NAME?host=DIR&port=PORT``: the server runs in a
namespace where the root's loopback does not exist), or ``--postgres`` (a throwaway
cluster of the tests' kind, fsync off).

**Failover runs** (``--runs``), each on the next host in turn: deploy ``--vms`` HA VMs on
it, power it off through its BMC (``ipmitool chassis power off``: the agent is SIGKILLed,
its VMs die with it), time from the ledger's ``host-off`` entry until ``listVirtualMachines``
shows the last of them Running on another host; then power it on again and wait until it
is Up and HA Available; destroy the VMs. The HA.STATE.TRANSITION and VM events of the run
(read from the database: their timestamps have microseconds, the API's only seconds) say
where the time went:

- **suspect**: power-off → Suspect (``ha_suspect_after`` less the age of the last
  heartbeat, plus up to one monitor round);
- **investigate**: Suspect → Fencing (the investigation job picked up, ``CheckHost`` asked
  of the neighbours and answered, the verdict);
- **fence**: Fencing → Fenced (BMC power OFF, then STATUS reads Off);
- **evacuate**: Fenced → Recovering (the VMs Stopped and their restart jobs submitted);
- **lease wait**: Recovering → the last VM's last "Starting again" (a start refused
  because the dead host's disk lease had not run out yet, retried each second; 0 if
  none was refused);
- **restart**: → that VM's "Started on host" (placement, StartVm to the new host's
  agent, its answer);
- **seen**: → the bench's poll seeing it Running (polled every 0.2 s).

**Partition runs** (``--partition-runs`` of each), which must restart nothing: an HA VM
per cut host, then

- ``mgmt cut, no BMC``: a host's management link cut, its out-of-band management
  disabled (it cannot be fenced; its neighbours still reach it over the cluster link);
- ``mgmt+BMC cut``: a host's management and BMC links cut, its storage heartbeat live;
- ``half cluster cut``: the management links of half the cluster's hosts cut at once,
  their BMCs reachable (the cluster guard must take it for a network failure).

The cut is held until every cut host is Degraded and then one ``ha_recheck_interval``
more (so a second investigation runs too), then healed: the management link first, a
cut BMC link once its host is Available again; then the bench waits twice the fence
timeout for late effects. A **false restart** is a VM of a cut host that the ledger
shows started on another host during the run; the report also names the hosts HA
recorded Fenced and the hosts whose power went off. **Overlaps** are VMs the ledger
shows running on two hosts at once, over every run of the bench: both must be 0.

Profiles:

- ``default``: the server's own settings (agent heartbeat 5 s, ``ha_suspect_after``
  15 s, investigation timeout 5 s, fence timeout 10 s, recheck 30 s) and the agents'
  (lease TTL 10 s, storage heartbeat 2 s).
- ``tuned``: agent heartbeat 1 s and ``ha_suspect_after`` 3 s, so three heartbeats
  must be missed before anything happens (one late heartbeat on a busy host costs
  nothing, and even a wrong suspicion costs only an investigation, never a restart);
  a disk lease TTL of 4 s with a storage heartbeat every 1 s (four renewals per TTL,
  so two slow writes do not lose a lease) and ``ha_activity_period`` 10 s, above the
  TTL as the activity check needs; investigation timeout 2 s (a neighbour answers
  ``CheckHost`` from files on the shared storage: the whole investigation took 0.2 to
  1.4 s on a loaded 2-core machine) and fence timeout 5 s (the fences took at most
  2.7 s there); a Degraded host is investigated again every 10 s. The price is
  heartbeats: at 1 s a region takes one heartbeat write per host per second (see what
  one server absorbs with ``bench/heartbeat_bench.py`` before tuning a large region).

``--bmc-poll S`` reads every host's power STATUS through the API every S seconds (a
periodic power-state read, like OpenStack Ironic's power sync). It keeps the server's
IPMI sessions in use: without it, a fence on a session idle for half a minute times out and its
abandoned OFF reaches the BMC later (docs/ha.md, "Host HA figures"), which the report
shows as failed runs and power-offs the bench did not ask for.

    uv run python bench/host_failover_bench.py --runs 20 --profile tuned --bmc-poll 5
    uv run python bench/host_failover_bench.py --runs 20 --profile default --bmc-poll 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from altostratus.db.engine import Database
from altostratus.db.models import Event
from tests.support.client import ApiClient
from tests.support.ha_rig import HaRig, RigHost, postgres_url, rig_missing
from tests.support.host_ha_rig import (
    Catalog,
    belt_args,
    deploy,
    hastate,
    overlaps,
    protect,
    seed_catalog,
)
from tests.support.jobs import run_job
from tests.support.postgres import TemporaryPostgres, find_pg_bin

#: Seconds a powered-on host may take to start its agent and come Up on a loaded machine.
AGENT_START = 60.0
POLL = 0.2
_TRANSITION = re.compile(r"HA (\w+) -> (\w+):")
#: Where a cut host's HA goes from Available: Degraded, or a fence begun (and maybe done).
_SETTLED_UNDER_CUT = frozenset({"Degraded", "Fencing", "Fenced", "Recovering", "Recovered"})


@dataclass(frozen=True)
class Profile:
    name: str
    server_env: Mapping[str, str]
    #: The agents' ``--lease-ttl`` and ``--storage-heartbeat-interval`` (None: default).
    lease_ttl: float | None
    storage_heartbeat_interval: float | None
    #: ``ha_recheck_interval``: how long a partition is held once its hosts are Degraded.
    recheck: float
    #: ``ha_fence_timeout``: a BMC call abandoned after it may still arrive a little later.
    fence_timeout: float
    #: Seconds a failover may take before the run counts as failed.
    limit: float

    def agent_args(self, rig: HaRig, host: RigHost) -> list[str]:
        return belt_args(
            rig,
            host,
            lease_ttl=self.lease_ttl,
            storage_heartbeat_interval=self.storage_heartbeat_interval,
        )


PROFILES = {
    "default": Profile("default", {}, None, None, recheck=30.0, fence_timeout=10.0, limit=180.0),
    "tuned": Profile(
        "tuned",
        {
            "ALTO_HEARTBEAT_INTERVAL": "1",
            "ALTO_HOST_DISCONNECT_AFTER": "3",
            "ALTO_HA_SUSPECT_AFTER": "3",
            "ALTO_HA_INVESTIGATION_TIMEOUT": "2",
            "ALTO_HA_ACTIVITY_PERIOD": "10",
            "ALTO_HA_FENCE_TIMEOUT": "5",
            "ALTO_HA_RECHECK_INTERVAL": "10",
        },
        lease_ttl=4.0,
        storage_heartbeat_interval=1.0,
        recheck=10.0,
        fence_timeout=5.0,
        limit=90.0,
    ),
}
PHASES = ("suspect", "investigate", "fence", "evacuate", "lease wait", "restart", "seen")


@dataclass(frozen=True)
class Failover:
    host: str
    seconds: float
    #: Seconds per phase (``PHASES``), from the run's events.
    phases: dict[str, float]
    refused_starts: int


@dataclass
class Partition:
    scenario: str
    vms: int = 0
    #: VMs of the cut hosts the ledger shows started on another host.
    false_restarts: int = 0
    #: Hosts HA recorded Fenced, and hosts whose power went off, during the run.
    fenced: list[str] = field(default_factory=list)
    powered_off: list[str] = field(default_factory=list)


@dataclass
class Figures:
    profile: Profile
    #: What the rig was: hosts, HA VMs per power-off, database backend.
    setup: str
    failovers: list[Failover] = field(default_factory=list)
    failed_runs: list[str] = field(default_factory=list)
    partitions: list[Partition] = field(default_factory=list)
    overlaps: int = 0
    #: Power-offs in failover runs other than the bench's own (one per run).
    stray_power_offs: list[str] = field(default_factory=list)
    load: list[tuple[float, float, float]] = field(default_factory=list)


# -- time ------------------------------------------------------------------------------


def _wall(monotonic_ns: int) -> datetime:
    """A CLOCK_MONOTONIC time (the ledger's) as the wall clock the server stamps events
    with: one machine, so the offset between the two clocks is the same everywhere."""
    offset = time.time_ns() - time.monotonic_ns()
    return datetime.fromtimestamp((monotonic_ns + offset) / 1e9, UTC)


def _host_off(rig: HaRig, host: RigHost, after_ns: int, *, within: float = 15.0) -> int:
    """The ledger's ``host-off`` time for ``host`` after ``after_ns``: the power cut."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for entry in rig.ledger_entries():
            if (
                entry["action"] == "host-off"
                and entry["host"] == host.name
                and entry["monotonic_ns"] > after_ns
            ):
                off: int = entry["monotonic_ns"]
                return off
        time.sleep(0.05)
    raise AssertionError(f"no host-off entry for {host.name} in the ledger")


# -- the rig ---------------------------------------------------------------------------


async def _running_elsewhere(
    api: ApiClient, vm_ids: Sequence[str], old_host_id: str, *, within: float
) -> int:
    """The monotonic ns at which every VM is first seen Running on another host."""
    deadline = time.monotonic() + within
    while True:
        listed = (await api.ok("listVirtualMachines", listall=True)).get("virtualmachine", [])
        by_id = {machine["id"]: machine for machine in listed}
        if all(
            by_id[v]["state"] == "Running" and by_id[v].get("hostid") != old_host_id for v in vm_ids
        ):
            return time.monotonic_ns()
        if time.monotonic() > deadline:
            states = {v: (by_id[v]["state"], by_id[v].get("hostname")) for v in vm_ids}
            raise AssertionError(f"not Running elsewhere after {within:.0f} s: {states}")
        await asyncio.sleep(POLL)


async def _wait_hastate(
    api: ApiClient, host: RigHost, wanted: Iterable[str], *, within: float
) -> str:
    """The first of ``wanted`` HA states ``host`` is seen in."""
    states = set(wanted)
    deadline = time.monotonic() + within
    while (seen := await hastate(api, host)) not in states:
        if time.monotonic() > deadline:
            raise AssertionError(f"host {host.name} HA is {seen}, not one of {sorted(states)}")
        await asyncio.sleep(POLL)
    return seen


async def _host_ids(api: ApiClient) -> dict[str, str]:
    return {host["name"]: host["id"] for host in (await api.ok("listHosts"))["host"]}


async def _restore(rig: HaRig, api: ApiClient, bmc_cut: Sequence[RigHost] = ()) -> None:
    """Every link healed, every host powered on, Up and HA Available.

    A host whose BMC link was cut too gets its management link back first and its BMC
    only once it is Available: a Degraded host still silent when its BMC returns is
    fenced then, as it should be (it cannot be managed, and now it can be proven off).
    """
    for host in rig.hosts:
        rig.cut_management(host, cut=False)
        rig.cut_cluster(host, cut=False)
    for host in bmc_cut:
        await _wait_hastate(api, host, {"Available"}, within=AGENT_START)
        rig.cut_bmc(host, cut=False)
    for host in rig.hosts:
        if rig.power(host, "status") != "Chassis Power is on":
            # A recovery under way powers it off again: let it end first.
            await _wait_hastate(
                api, host, {"Recovered", "Degraded", "Available"}, within=AGENT_START
            )
            rig.power(host, "on")
    await rig.wait_for_states(api, {host.name: "Up" for host in rig.hosts}, within=AGENT_START)
    for host in rig.hosts:
        await _wait_hastate(api, host, {"Available"}, within=AGENT_START)


async def _destroy(api: ApiClient, vm_ids: Iterable[str]) -> None:
    await asyncio.gather(
        *(run_job(api, "destroyVirtualMachine", id=v, expunge=True) for v in vm_ids)
    )


# -- failover --------------------------------------------------------------------------


async def _events(db: Database, resource_uuids: Sequence[str], since: datetime) -> list[Event]:
    async with db.transaction(write=False) as session:
        found = await session.scalars(
            select(Event)
            .where(Event.resource_uuid.in_(list(resource_uuids)), Event.created >= since)
            .order_by(Event.created, Event.id)
        )
        return list(found)


def _phases(
    events: Sequence[Event], host_uuid: str, vm_ids: Sequence[str], off: datetime, seen: datetime
) -> tuple[dict[str, float], int]:
    """Seconds per phase of one failover, and how many starts a disk lease refused."""
    entered: dict[str, datetime] = {}
    for event in events:
        match = _TRANSITION.search(event.description)
        if event.resource_uuid == host_uuid and match and match[2] not in entered:
            entered[match[2]] = event.created
    started: dict[str, datetime] = {}
    again: dict[str, datetime] = {}
    refused = 0
    for event in events:
        vm_id = event.resource_uuid
        if vm_id is None or vm_id not in vm_ids or event.type != "VM.START":
            continue
        if event.description.startswith("Started on host"):
            started.setdefault(vm_id, event.created)
        elif event.description.startswith("Starting again"):
            again[vm_id] = event.created
        elif event.level == "ERROR":
            refused += 1
    last_vm = max(vm_ids, key=lambda v: started[v])
    recovering = entered["Recovering"]
    retried = again.get(last_vm, recovering)
    marks = [
        off,
        entered["Suspect"],
        entered["Fencing"],
        entered["Fenced"],
        recovering,
        retried,
        started[last_vm],
        seen,
    ]
    return {
        phase: (later - earlier).total_seconds()
        for phase, (earlier, later) in zip(PHASES, itertools.pairwise(marks), strict=True)
    }, refused


async def _failover(
    rig: HaRig,
    api: ApiClient,
    db: Database,
    catalog: Catalog,
    host: RigHost,
    *,
    vms: int,
    limit: float,
) -> Failover:
    host_uuid = (await _host_ids(api))[host.name]
    vm_ids = list(await asyncio.gather(*(deploy(api, catalog, host, ha=True) for _ in range(vms))))
    before = time.monotonic_ns()
    rig.power(host, "off")
    off = _host_off(rig, host, before)
    seen = await _running_elsewhere(api, vm_ids, host_uuid, within=limit)
    await _wait_hastate(api, host, {"Recovered"}, within=limit)
    events = await _events(db, [host_uuid, *vm_ids], _wall(before))
    phases, refused = _phases(events, host_uuid, vm_ids, _wall(off), _wall(seen))
    rig.power(host, "on")
    await rig.wait_for_states(api, {host.name: "Up"}, within=AGENT_START)
    await _wait_hastate(api, host, {"Available"}, within=AGENT_START)
    await _destroy(api, vm_ids)
    return Failover(host.name, (seen - off) / 1e9, phases, refused)


# -- partitions ------------------------------------------------------------------------


async def _partition(
    rig: HaRig,
    api: ApiClient,
    db: Database,
    catalog: Catalog,
    scenario: str,
    cut: Sequence[RigHost],
    *,
    bmc_cut: bool,
    without_bmc: bool,
    profile: Profile,
) -> Partition:
    ids = await _host_ids(api)
    outcome = Partition(scenario)
    for host in cut if without_bmc else ():
        await run_job(api, "disableOutOfBandManagementForHost", hostid=ids[host.name])
    placed = {host.name: await deploy(api, catalog, host, ha=True) for host in cut}
    #: Each VM's instance name (the ledger's) and the host it must stay on.
    home = {
        (await api.ok("listVirtualMachines", id=vm_id))["virtualmachine"][0]["instancename"]: host
        for host, vm_id in placed.items()
    }
    outcome.vms = len(placed)
    began = time.monotonic_ns()
    try:
        for host in cut:
            rig.cut_management(host)
            if bmc_cut:
                rig.cut_bmc(host)
        for host in cut:
            await _wait_hastate(api, host, _SETTLED_UNDER_CUT, within=profile.limit)
        await asyncio.sleep(profile.recheck + 2.0)
    finally:
        await _restore(rig, api, cut if bmc_cut else ())
        for host in cut if without_bmc else ():
            await run_job(api, "enableOutOfBandManagementForHost", hostid=ids[host.name])
    # A power action abandoned after its timeout may still reach a BMC: wait it out.
    await asyncio.sleep(2 * profile.fence_timeout)
    entries = [entry for entry in rig.ledger_entries() if entry["monotonic_ns"] > began]
    outcome.false_restarts = len(
        {
            entry["instance"]
            for entry in entries
            if entry["action"] == "start"
            and entry["instance"] in home
            and entry["host"] != home[entry["instance"]]
        }
    )
    outcome.powered_off = sorted({e["host"] for e in entries if e["action"] == "host-off"})
    host_uuids = [ids[host.name] for host in rig.hosts]
    outcome.fenced = sorted(
        {
            match[1]
            for event in await _events(db, host_uuids, _wall(began))
            if (match := re.search(r"Host (\S+) HA \w+ -> Fenced:", event.description))
        }
    )
    await _restore(rig, api)
    await _destroy(api, placed.values())
    return outcome


def _partition_scenarios(rig: HaRig) -> list[tuple[str, list[RigHost], bool, bool]]:
    """(name, hosts cut, BMC cut too, OOBM disabled) of each partition scenario."""
    half = rig.hosts[: len(rig.hosts) // 2]
    return [
        ("mgmt cut, no BMC", [rig.hosts[1]], False, True),
        ("mgmt+BMC cut", [rig.hosts[2]], True, False),
        ("half cluster cut", half, False, False),
    ]


# -- the bench -------------------------------------------------------------------------


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def _poll_bmcs(api: ApiClient, host_ids: Sequence[str], every: float) -> None:
    """Read every host's power STATUS through the API every ``every`` seconds: it keeps
    the server's IPMI sessions in use (docs/ha.md, "Host HA figures": a session idle for
    half a minute hangs)."""
    while True:
        for host_id in host_ids:
            with contextlib.suppress(AssertionError):
                await run_job(
                    api, "issueOutOfBandManagementPowerAction", hostid=host_id, action="STATUS"
                )
        await asyncio.sleep(every)


async def _bench(rig: HaRig, args: argparse.Namespace, figures: Figures) -> None:
    db = Database(rig.database_url)
    try:
        async with rig.api() as api, rig.api() as poller:
            await rig.wait_for_states(
                api, {host.name: "Up" for host in rig.hosts}, within=AGENT_START
            )
            catalog = await seed_catalog(api)
            for host in rig.hosts:
                await protect(api, host, bmc=True)
            for host in rig.hosts:
                await _wait_hastate(api, host, {"Available"}, within=AGENT_START)
            host_ids = list((await _host_ids(api)).values())
            keepalive = (
                asyncio.create_task(_poll_bmcs(poller, host_ids, args.bmc_poll))
                if args.bmc_poll
                else None
            )
            try:
                await _runs(rig, api, db, catalog, args, figures)
            finally:
                if keepalive is not None:
                    keepalive.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await keepalive
    finally:
        await db.close()
        figures.overlaps = len(overlaps(rig))


async def _runs(
    rig: HaRig,
    api: ApiClient,
    db: Database,
    catalog: Catalog,
    args: argparse.Namespace,
    figures: Figures,
) -> None:
    figures.load.append(os.getloadavg())
    for number in range(args.runs):
        host = rig.hosts[number % len(rig.hosts)]
        began = time.monotonic_ns()
        try:
            run = await _failover(
                rig, api, db, catalog, host, vms=args.vms, limit=figures.profile.limit
            )
        except (AssertionError, KeyError) as failure:
            first_line = str(failure).splitlines()[0]
            figures.failed_runs.append(f"run {number + 1} on {host.name}: {first_line}")
            _log(f"run {number + 1}: FAILED {failure}")
            await _restore(rig, api)
        else:
            figures.failovers.append(run)
            phases = " ".join(f"{k} {v:.1f}" for k, v in run.phases.items())
            _log(f"run {number + 1} {host.name}: {run.seconds:.1f} s ({phases})")
        # The bench powers one host off per run; any other power-off is a stray.
        offs = [
            f"run {number + 1}: {e['host']} at {_wall(e['monotonic_ns']):%H:%M:%S.%f}"
            for e in rig.ledger_entries()
            if e["action"] == "host-off" and e["monotonic_ns"] > began
        ]
        figures.stray_power_offs += offs[1:]
    figures.load.append(os.getloadavg())
    for _ in range(args.partition_runs):
        for name, cut, bmc_cut, without_bmc in _partition_scenarios(rig):
            outcome = await _partition(
                rig,
                api,
                db,
                catalog,
                name,
                cut,
                bmc_cut=bmc_cut,
                without_bmc=without_bmc,
                profile=figures.profile,
            )
            figures.partitions.append(outcome)
            _log(f"{name}: {outcome.false_restarts} false restart(s) {outcome}")
    figures.load.append(os.getloadavg())


def _quantile(values: Sequence[float], q: int) -> float:
    """The q-th percentile, interpolated between the closest ranks (the max past them)."""
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def report(figures: Figures) -> str:
    seconds = [run.seconds for run in figures.failovers]
    false_restarts = sum(p.false_restarts for p in figures.partitions)
    loads = ", ".join(f"{one:.1f}" for one, _, _ in figures.load)
    lines = [
        f"profile {figures.profile.name}: {figures.setup}",
        f"load average (1 min) before, after failovers, after partitions: {loads}",
        "",
        f"{'runs':>5} {'failed':>6} {'p50 s':>7} {'p99 s':>7} {'max s':>7} "
        f"{'false restarts':>15} {'overlaps':>9}",
        f"{len(seconds):>5} {len(figures.failed_runs):>6} {_quantile(seconds, 50):>7.1f} "
        f"{_quantile(seconds, 99):>7.1f} {max(seconds, default=float('nan')):>7.1f} "
        f"{false_restarts:>15} {figures.overlaps:>9}",
        "",
        f"{'phase':<12} {'p50 s':>7} {'p99 s':>7} {'max s':>7}",
    ]
    for phase in PHASES:
        values = [run.phases[phase] for run in figures.failovers]
        lines.append(
            f"{phase:<12} {_quantile(values, 50):>7.2f} {_quantile(values, 99):>7.2f} "
            f"{max(values, default=float('nan')):>7.2f}"
        )
    refused = sum(run.refused_starts for run in figures.failovers)
    lines += [
        "",
        f"starts refused by a live disk lease: {refused}",
        f"power-offs the bench did not ask for: {len(figures.stray_power_offs)}",
        *(f"  {stray}" for stray in figures.stray_power_offs),
        "",
    ]
    lines.append(
        f"{'partition':<18} {'runs':>5} {'VMs':>5} {'false restarts':>15}  fenced / powered off"
    )
    for name in dict.fromkeys(p.scenario for p in figures.partitions):
        of = [p for p in figures.partitions if p.scenario == name]
        fenced = ", ".join(h for p in of for h in p.fenced) or "-"
        powered_off = ", ".join(h for p in of for h in p.powered_off) or "-"
        lines.append(
            f"{name:<18} {len(of):>5} {sum(p.vms for p in of):>5} "
            f"{sum(p.false_restarts for p in of):>15}  {fenced} / {powered_off}"
        )
    lines += [f"failed: {why}" for why in figures.failed_runs]
    return "\n".join(lines)


def _throwaway_postgres(stack: contextlib.ExitStack) -> str:
    """A PostgreSQL cluster of the tests' kind (``tests/support/postgres.py``), stopped
    with the stack; the URL of its empty database through the unix socket directory."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise SystemExit("--postgres: PostgreSQL's binaries are not installed")
    postgres = TemporaryPostgres(bin_dir)
    postgres.start()
    stack.callback(postgres.stop)
    postgres.create_database("alto_failover_bench")
    return postgres_url(postgres, "alto_failover_bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="tuned")
    parser.add_argument("--runs", type=int, default=20, help="power-off runs")
    parser.add_argument("--vms", type=int, default=3, help="HA VMs on the host powered off")
    parser.add_argument("--hosts", type=int, default=4, help="hosts of the cluster (4 or more)")
    parser.add_argument("--partition-runs", type=int, default=1, help="runs of each partition")
    parser.add_argument("--database-url", default=None, help="an empty database (unix socket)")
    parser.add_argument(
        "--postgres", action="store_true", help="a throwaway PostgreSQL (the tests' own, fsync off)"
    )
    parser.add_argument(
        "--bmc-poll",
        type=float,
        default=0.0,
        help="read every BMC's power STATUS through the API every this many seconds (0: never)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the rig's directory and logs")
    args = parser.parse_args()
    if (why := rig_missing()) is not None:
        parser.exit(2, f"the rig cannot run here: {why}\n")
    if args.hosts < 4:
        parser.error("--hosts must be at least 4: half a cluster is cut at once")
    profile = PROFILES[args.profile]
    backend = "PostgreSQL" if args.database_url or args.postgres else "SQLite"
    poll = f", BMC STATUS every {args.bmc_poll:g} s" if args.bmc_poll else ""
    setup = f"{args.hosts} hosts, {args.vms} HA VMs per power-off, {backend}{poll}"
    figures = Figures(profile, setup)
    directory = Path(tempfile.mkdtemp(prefix="alto-failover-bench-"))
    _log(f"rig in {directory}")
    try:
        with contextlib.ExitStack() as stack:
            database_url = _throwaway_postgres(stack) if args.postgres else args.database_url
            rig = stack.enter_context(
                HaRig(
                    directory,
                    hosts=args.hosts,
                    database_url=database_url,
                    server_env=profile.server_env,
                    extra_agent_args=profile.agent_args,
                )
            )
            asyncio.run(_bench(rig, args, figures))
    finally:
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)
        print(report(figures), flush=True)


if __name__ == "__main__":
    main()
