"""Host HA under chaos: the issue's scenarios 5 and 6, and random sequences of failures.

Four hosts, all HA-enabled with BMCs, and two management servers, on one rig per
backend. Scenario 5 cuts half the cluster's management links at once (a switch failure):
nothing may be fenced or restarted. Scenario 6 SIGKILLs the server that drives a
recovery halfway: the other must finish it without forgetting or doubling a VM. The
property test drives random power-offs, cuts, heals and server kills, and checks the
rule: a VM moves only after its old host was proven off, and once everything healed
every HA VM runs exactly once. Each test leaves every server running, every host
powered on, linked and Up, and its VMs destroyed; the ledger never shows a VM on two
hosts at once.

Besides ``HA_CLOCK`` the servers run a short failover clock (``FAILOVER_CLOCK``), so a
killed server's jobs are taken over in seconds rather than the production half minute.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from altostratus.agent.ledger import Action, LedgerEntry, read_ledger
from altostratus.db.engine import Database
from altostratus.db.models import AsyncJob, Host
from altostratus.jobs.status import JobStatus
from tests.conftest import BACKENDS
from tests.support.client import ApiClient
from tests.support.ha_rig import HaRig, RigHost, RigServer, rig_database
from tests.support.host_ha_rig import (
    HA_CLOCK,
    Catalog,
    belts,
    deploy,
    hastate,
    overlaps,
    protect,
    seed_catalog,
    vm,
    wait_hastate,
    wait_vm,
)
from tests.support.jobs import run_job

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ha_rig")]

#: Seconds a powered-on host may take to start its agent and come Up on a loaded machine.
AGENT_START = 45.0
#: Seconds for a dead host's HA VMs to run elsewhere, a server kill included.
RECOVERY = 90.0
#: A killed server is Down for its peers after 4 s, which frees its jobs at once; a job's
#: lease, renewed every 2 s, lapses after 6 s anyway.
FAILOVER_CLOCK = {
    "ALTO_SERVER_HEARTBEAT_INTERVAL": "1",
    "ALTO_SERVER_DOWN_AFTER": "4",
    "ALTO_JOB_LEASE_SECONDS": "6",
}


@pytest.fixture(scope="module", params=BACKENDS)
def rig(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HaRig]:
    database_url = rig_database(request, request.param)
    with HaRig(
        tmp_path_factory.mktemp(f"chaos-{request.param}"),
        hosts=4,
        servers=2,
        database_url=database_url,
        server_env={**HA_CLOCK, **FAILOVER_CLOCK},
        extra_agent_args=belts,
    ) as built:
        yield built


@pytest.fixture(scope="module")
def catalog(rig: HaRig) -> Catalog:
    async def seed() -> Catalog:
        async with rig.api() as api:
            await _all_up(rig, api)
            return await seed_catalog(api)

    return asyncio.run(seed())


@pytest.fixture
async def admin(rig: HaRig, catalog: Catalog) -> AsyncIterator[ApiClient]:
    async with rig.api() as api:
        await _all_up(rig, api)
        try:
            yield api
        finally:
            await _restore(rig, api)
    assert overlaps(rig) == []


async def _all_up(rig: HaRig, api: ApiClient) -> None:
    await rig.wait_for_states(api, {host.name: "Up" for host in rig.hosts}, within=AGENT_START)


def _heal_links(rig: HaRig, host: RigHost) -> None:
    rig.cut_management(host, cut=False)
    rig.cut_bmc(host, cut=False)
    rig.cut_cluster(host, cut=False)


def _revive_servers(rig: HaRig) -> None:
    for server in rig.servers:
        if not server.running:
            server.start()


def _powered_on(rig: HaRig, host: RigHost) -> bool:
    """What the host's BMC says (its BMC link must be up)."""
    return rig.power(host, "status") == "Chassis Power is on"


def _running(rig: HaRig, host: RigHost) -> bool:
    """Whether the host's agent runs (powered on), asked without its BMC, which may be cut."""
    return bool(rig.agent_pids(host))


async def _investigations_pending(db: Database) -> int:
    """Host HA investigations not finished yet (the only jobs about a host here)."""
    async with db.transaction(write=False) as session:
        pending = await session.scalar(
            select(func.count()).where(
                AsyncJob.instance_type == "Host", AsyncJob.status == JobStatus.PENDING
            )
        )
    return pending or 0


async def _restore(rig: HaRig, api: ApiClient) -> None:
    """Every server running, every link healed, HA off, every host powered on and Up, no
    VM left. ``api`` goes through server 1, which is started first if it was killed.

    HA goes off before the hosts are powered on, and its last investigations are let
    finish: a host silent for a moment while its link heals may still be fenced by one.
    """
    _revive_servers(rig)
    for host in rig.hosts:
        _heal_links(rig, host)
    for host in (await api.ok("listHostHAResources")).get("hostha", []):
        if host["haenable"]:
            await run_job(api, "disableHAForHost", hostid=host["hostid"])
    db = Database(rig.database_url)
    try:
        deadline = time.monotonic() + RECOVERY
        while await _investigations_pending(db):
            assert time.monotonic() < deadline, "investigations still running"
            await asyncio.sleep(0.5)
    finally:
        await db.close()
    for host in rig.hosts:
        if not _powered_on(rig, host):
            rig.power(host, "on")
    await _all_up(rig, api)
    for machine in (await api.ok("listVirtualMachines", listall=True)).get("virtualmachine", []):
        await run_job(api, "destroyVirtualMachine", id=machine["id"], expunge=True)


async def _protect_all(rig: HaRig, api: ApiClient) -> dict[str, str]:
    """HA and out-of-band management on for every host; host name → id."""
    return {host.name: await protect(api, host, bmc=True) for host in rig.hosts}


def _entries_since(rig: HaRig, mark: int) -> list[LedgerEntry]:
    return [entry for entry in read_ledger(rig.ledger) if entry.monotonic_ns >= mark]


def _running_copies(entries: Iterable[LedgerEntry]) -> dict[str, set[str]]:
    """Instance → the hosts the ledger says run it now (started, not stopped since, and
    no power-off of the host since)."""
    running: dict[str, set[str]] = defaultdict(set)
    for entry in sorted(entries, key=lambda entry: entry.monotonic_ns):
        if entry.action is Action.HOST_OFF:
            for hosts in running.values():
                hosts.discard(entry.host)
        elif entry.instance is not None and entry.action is Action.START:
            running[entry.instance].add(entry.host)
        elif entry.instance is not None:
            running[entry.instance].discard(entry.host)
    return running


# -- scenario 5 ---------------------------------------------------------------------------


@pytest.mark.timeout(300)
async def test_5_half_the_cluster_cut_at_once_is_degraded_never_fenced(
    rig: HaRig, admin: ApiClient, catalog: Catalog
) -> None:
    """A switch failure: the management links of two of four hosts cut at once. Both
    hosts are Degraded with an alert each; no BMC powers anything off and no VM moves,
    also through the rechecks of a Degraded host. Healed, they are Available again with
    their VMs where they were."""
    host_ids = await _protect_all(rig, admin)
    cut = rig.hosts[:2]
    vms = {host.name: await deploy(admin, catalog, host, ha=True) for host in cut}
    pids = {host.name: rig.agent_pids(host) for host in cut}
    mark = time.monotonic_ns()
    for host in cut:
        rig.cut_management(host)
    try:
        for host in cut:
            await wait_hastate(admin, host, "Degraded", within=RECOVERY)
        # Two rechecks of a Degraded host (``ha_recheck_interval`` is 5 s): still no fence.
        await asyncio.sleep(12)
        for host in cut:
            assert await hastate(admin, host) == "Degraded"
            assert _powered_on(rig, host)
            assert rig.agent_pids(host) == pids[host.name]
            assert (await vm(admin, vms[host.name]))["hostid"] == host_ids[host.name]
        alerts = (await admin.ok("listAlerts"))["alert"]
        for host in cut:
            assert any(host.name in alert["description"] for alert in alerts), host.name
    finally:
        for host in cut:
            rig.cut_management(host, cut=False)
    for host in cut:
        await wait_hastate(admin, host, "Available", within=30)
    for host in cut:
        machine = await vm(admin, vms[host.name])
        assert (machine["state"], machine["hostid"]) == ("Running", host_ids[host.name])
    events = (await admin.ok("listEvents", type="HA.STATE.TRANSITION"))["event"]
    assert not [
        event
        for event in events
        if "Fencing" in event["description"] and any(h.name in event["description"] for h in cut)
    ]
    # Nothing started, stopped or powered off on the cut hosts since the cut.
    assert not [entry for entry in _entries_since(rig, mark) if entry.host in pids]


# -- scenario 6 ---------------------------------------------------------------------------


async def _investigation_past_verdict(db: Database, host: RigHost, *, within: float) -> AsyncJob:
    """``host``'s investigation once it recorded its verdict (the host Fencing, Fenced
    or Recovering next): ``owner`` is the server driving it."""
    deadline = time.monotonic() + within
    while True:
        async with db.transaction(write=False) as session:
            host_uuid = await session.scalar(select(Host.uuid).where(Host.name == host.name))
            job = await session.scalar(
                select(AsyncJob)
                .where(
                    AsyncJob.instance_type == "Host",
                    AsyncJob.instance_uuid == host_uuid,
                    AsyncJob.status == JobStatus.PENDING,
                    AsyncJob.owner.is_not(None),
                )
                .order_by(AsyncJob.id.desc())
            )
        if job is not None and '"verdict"' in (job.progress or ""):
            return job
        assert time.monotonic() < deadline, f"no investigation of {host.name} went that far"
        await asyncio.sleep(0.05)


@pytest.mark.timeout(300)
async def _wait_done(db: Database, job_id: int, *, within: float) -> None:
    """Until the job succeeded; it must have been resumed (claimed a second time)."""
    deadline = time.monotonic() + within
    while True:
        async with db.transaction(write=False) as session:
            job = await session.get_one(AsyncJob, job_id)
        if job.status != JobStatus.PENDING:
            assert job.status == JobStatus.SUCCEEDED, job.result
            assert job.attempts >= 2, "the investigation was not resumed"
            return
        assert time.monotonic() < deadline, f"the investigation is still at {job.progress}"
        await asyncio.sleep(0.2)


@pytest.mark.timeout(300)
async def test_6_the_server_running_a_recovery_is_killed_and_the_other_finishes_it(
    rig: HaRig, admin: ApiClient, catalog: Catalog
) -> None:
    """A host with three HA VMs loses power; the server driving its investigation is
    SIGKILLed after the verdict, mid-fence or mid-recovery. The other server resumes the
    job: every HA VM runs exactly once on another host, started there once, none
    forgotten, and the host ends Recovered."""
    await _protect_all(rig, admin)
    host = rig.hosts[0]
    ha_vms = [await deploy(admin, catalog, host, ha=True) for _ in range(3)]
    instances = {v: (await vm(admin, v))["instancename"] for v in ha_vms}
    mark = time.monotonic_ns()
    rig.power(host, "off")
    db = Database(rig.database_url)
    try:
        job = await _investigation_past_verdict(db, host, within=RECOVERY)
        assert job.owner is not None
        killed = rig.server_of(job.owner)
        killed.kill()
        survivor = next(server for server in rig.servers if server is not killed)
        print(f"\nkilled server {killed.number} after {job.progress}")
        await _wait_done(db, job.id, within=RECOVERY)
    finally:
        await db.close()
    async with rig.api(survivor.number) as api:
        host_id = (await api.ok("listHosts", name=host.name))["host"][0]["id"]
        for v in ha_vms:
            await wait_vm(api, v, "Running", not_on=host_id, within=RECOVERY)
        await wait_hastate(api, host, "Recovered", within=RECOVERY)
        placed = {v: (await vm(api, v))["hostname"] for v in ha_vms}
    killed.start()  # (the fixture's restore starts it too, should this test fail first)
    entries = _entries_since(rig, mark)
    copies = _running_copies(read_ledger(rig.ledger))
    for v, instance in instances.items():
        assert copies[instance] == {placed[v]}, instance
        starts = [e.host for e in entries if e.instance == instance and e.action is Action.START]
        assert starts == [placed[v]], f"{instance} started {starts}"
    assert not _powered_on(rig, host)


# -- the property -------------------------------------------------------------------------


@dataclass
class Chaos:
    """What the test did to the rig in one sequence (the model's side)."""

    #: Hosts the test powered off (a fence powers hosts off too: the ledger tells).
    powered_off: set[str] = field(default_factory=set)
    #: Hosts whose management link the test cut: the only ones a fence may hit.
    management_cut: set[str] = field(default_factory=set)
    #: Hosts whose BMC link is cut now: the rig cannot power them off.
    bmc_cut: set[str] = field(default_factory=set)
    steps: list[str] = field(default_factory=list)


STEPS = ("power-off", "cut-management", "cut-bmc", "heal", "kill-server", "revive-servers")


def _live_server(rig: HaRig) -> RigServer:
    return next(server for server in rig.servers if server.running)


def _apply(rig: HaRig, chaos: Chaos, step: str, index: int) -> None:
    """Do one step to the rig. A power-off goes through the host's BMC (so not while its
    link is cut), and only while no host is off: two hosts off at once are half the
    cluster, held Degraded by design until one is heard again, and a host powered back
    on before its VMs were restarted loses them (no VM-level HA)."""
    host = rig.hosts[index % len(rig.hosts)]
    server = rig.servers[index % len(rig.servers)]
    done = {"kill-server": f"{step} {server.number}", "revive-servers": step}.get(
        step, f"{step} {host.name}"
    )
    if step == "power-off":
        if host.name in chaos.bmc_cut:
            done += " skipped (its BMC is cut)"
        elif not chaos.powered_off and all(_running(rig, other) for other in rig.hosts):
            # The test's own power-off first: the agent of a host just powered off may
            # still be running for a moment, and only settling powers a host on again.
            rig.power(host, "off")
            chaos.powered_off.add(host.name)
        else:
            done += " skipped (a host is off)"
    elif step == "cut-management":
        rig.cut_management(host)
        chaos.management_cut.add(host.name)
    elif step == "cut-bmc":
        rig.cut_bmc(host)
        chaos.bmc_cut.add(host.name)
    elif step == "heal":
        _heal_links(rig, host)
        chaos.bmc_cut.discard(host.name)
    elif step == "kill-server":
        if sum(other.running for other in rig.servers) > 1 and server.running:
            server.kill()
        else:
            done += " skipped (the last one running, or dead)"
    else:
        _revive_servers(rig)
    chaos.steps.append(done)


async def _settle(rig: HaRig, deadline: float) -> None:
    """Heal everything: servers, links; a host that is off is powered on once its HA VMs
    were restarted elsewhere (Recovered). Until every host is on, Up and Available, and
    no investigation is left running (one that fenced after the test turned HA off
    would leave a host off with nothing to recover it)."""
    _revive_servers(rig)
    for host in rig.hosts:
        _heal_links(rig, host)
    db = Database(rig.database_url)
    try:
        async with rig.api(_live_server(rig).number) as api:
            while not await _settled(rig, api, db):
                assert time.monotonic() < deadline, (
                    f"not settled: {[await hastate(api, h) for h in rig.hosts]}\n{rig.diagnosis()}"
                )
                await asyncio.sleep(0.5)
    finally:
        await db.close()


async def _settled(rig: HaRig, api: ApiClient, db: Database) -> bool:
    """One look; powers on a host that is off and Recovered."""
    settled = True
    for host in rig.hosts:
        state = await hastate(api, host)
        if not _running(rig, host):
            settled = False
            if state == "Recovered" and not _powered_on(rig, host):
                rig.power(host, "on")
        elif state != "Available":
            settled = False
    return (
        settled
        and set((await rig.host_states(api)).values()) == {"Up"}
        and not await _investigations_pending(db)
    )


async def _check_the_rule(
    rig: HaRig,
    api: ApiClient,
    chaos: Chaos,
    vms: dict[str, str],
    homes: dict[str, str],
    mark: int,
) -> None:
    """Every HA VM Running exactly once, where the API says; one that moved, only after
    its old host's power went off; none of a host never off moved; no host off but the
    ones the test powered off or cut from the servers (a fence); no overlap."""
    entries = _entries_since(rig, mark)
    copies = _running_copies(read_ledger(rig.ledger))
    off_at = defaultdict(list)
    for entry in entries:
        if entry.action is Action.HOST_OFF:
            off_at[entry.host].append(entry.monotonic_ns)
    assert set(off_at) <= chaos.powered_off | chaos.management_cut, f"fenced: {set(off_at)}"
    for vm_id, home in homes.items():
        machine = await vm(api, vm_id)
        instance = vms[vm_id]
        assert machine["state"] == "Running", f"{instance} is {machine['state']}"
        assert copies[instance] == {machine["hostname"]}, f"{instance}: {copies[instance]}"
        if machine["hostname"] == home:
            continue
        assert off_at[home], f"{instance} moved off {home}, which was never powered off"
        first_elsewhere = min(
            e.monotonic_ns
            for e in entries
            if e.instance == instance and e.action is Action.START and e.host != home
        )
        assert min(off_at[home]) < first_elsewhere, f"{instance} restarted before {home} was off"
    assert overlaps(rig) == []


async def _sequence(
    rig: HaRig, catalog: Catalog, steps: list[tuple[str, int, float]], *, deadline: float
) -> Chaos:
    chaos = Chaos()
    async with rig.api() as api:
        await _all_up(rig, api)
        await _protect_all(rig, api)
        vm_ids = [await deploy(api, catalog, host, ha=True) for host in rig.hosts]
        vms = {v: (await vm(api, v))["instancename"] for v in vm_ids}
        homes = {v: (await vm(api, v))["hostname"] for v in vm_ids}
    mark = time.monotonic_ns()
    try:
        for step, index, dwell in steps:
            _apply(rig, chaos, step, index)
            await asyncio.sleep(dwell)
        await _settle(rig, deadline)
        async with rig.api() as api:
            for v in vm_ids:
                await wait_vm(api, v, "Running", within=max(deadline - time.monotonic(), 1))
            await _check_the_rule(rig, api, chaos, vms, homes, mark)
    except AssertionError as failure:
        raise AssertionError(f"after {chaos.steps}: {failure}") from failure
    finally:
        async with rig.api() as api:
            await _restore(rig, api)
    return chaos


@pytest.mark.timeout(600)
@hypothesis_settings(
    max_examples=3,
    deadline=None,
    database=None,
    # Shrinking would replay failures for many minutes: the failing steps are reported.
    phases=[Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(STEPS),
            st.integers(min_value=0, max_value=3),
            st.floats(min_value=0.5, max_value=6.0),
        ),
        min_size=3,
        max_size=5,
    )
)
def test_random_failures_never_run_a_vm_twice_and_lose_none(
    rig: HaRig, catalog: Catalog, steps: list[tuple[str, int, float]]
) -> None:
    """Random power-offs, management and BMC cuts, heals and server kills, each held for
    a random while; then everything healed and settled. The rule: a VM runs elsewhere
    only after its host was proven off (the ledger's ``host-off`` precedes its start
    elsewhere), no VM of a host never off moves, every HA VM runs exactly once.

    Three sequences per backend, half a minute to a minute each (PostgreSQL the slower),
    on both backends: about three minutes each.
    """
    chaos = asyncio.run(_sequence(rig, catalog, steps, deadline=time.monotonic() + 150))
    print(f"\nsequence {chaos.steps}: held")
