"""The failover harness: a whole region on loopback, a client workload, and faults.

It starts, from Debian's packages, one etcd and three PostgreSQL nodes under Patroni with
synchronous replication, two ``alto server`` processes on that cluster's multi-host URL,
and HAProxy in front of them; the servers drive simulated hosts. Client threads create
accounts and deploy VMs through HAProxy without pause and record every answer. Each
scenario injects a fault while the workload runs, lets the region settle, and repairs
the fault; then every write the clients saw acknowledged is looked up in the database,
and every acknowledged job must have finished.

Run it on its own for the table (``uv run python -m tests.ha.harness``); the slow test
``tests/ha/test_failover.py`` runs the same and asserts that nothing was lost.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import asyncpg
import orjson
from cs import CloudStack

from altostratus.jobs.status import JobStatus
from tests.support.ha_cluster import PatroniCluster, PatroniSettings
from tests.support.haproxy import Backend, Frontend, HAProxy
from tests.support.server import LiveServer

__all__ = ["Region", "ScenarioResult", "main", "run_harness"]

#: Server settings on a short clock, so a dead server's jobs move within seconds.
SERVER_ENV = {
    "ALTO_JOB_LEASE_SECONDS": "5",
    "ALTO_JOB_POLL_INTERVAL": "0.2",
    "ALTO_HEARTBEAT_INTERVAL": "1",
    "ALTO_SERVER_HEARTBEAT_INTERVAL": "1",
    "ALTO_SERVER_DOWN_AFTER": "4",
    "ALTO_DATABASE_RETRY_SECONDS": "30",
}
#: Big simulated hosts beside the quick start's four, so the workload never runs out of
#: room: each takes 1,024 small VMs.
EXTRA_HOSTS = 8
EXTRA_HOST_DETAILS = {"cpunumber": "256", "cpuspeed": "2000", "memory": str(512 * 1024)}
CLIENT_THREADS = 4
#: Seconds of workload before a fault, and after it until the scenario's window closes.
BEFORE_FAULT = 3.0
AFTER_FAULT = 25.0


@dataclass(frozen=True)
class Answer:
    """One write request as the client saw it: ``key`` is the id it was told, if any."""

    kind: str
    sent: float
    done: float
    key: str | None
    error: str | None = None


@dataclass
class ScenarioResult:
    name: str
    #: The longest stretch after the fault with no write acknowledged (seconds).
    unavailable: float
    acknowledged: int
    failed_requests: int
    writes_lost: int
    jobs_lost: int
    #: Acknowledged jobs that ended in failure, by error code (an answer, not a loss).
    jobs_failed: dict[str, int] = field(default_factory=dict)
    #: Failed requests by what the client got.
    errors: dict[str, int] = field(default_factory=dict)


class Workload:
    """Client threads creating accounts and deploying VMs, as fast as the region answers."""

    def __init__(self, client: Callable[[], CloudStack], catalog: dict[str, str]) -> None:
        self._client = client
        self._catalog = catalog
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.answers: list[Answer] = []

    def start(self, threads: int = CLIENT_THREADS) -> None:
        for number in range(threads):
            thread = threading.Thread(target=self._loop, name=f"client-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def between(self, start: float, end: float) -> list[Answer]:
        with self._lock:
            return [answer for answer in self.answers if start <= answer.done < end]

    def _loop(self) -> None:
        cs = self._client()
        while not self._stop.is_set():
            name = f"ha-{uuid.uuid4().hex[:10]}"
            self._write("account", partial(_create_account, cs, name))
            self._write("deploy", partial(_deploy, cs, self._catalog, name))

    def _write(self, kind: str, call: Callable[[], str]) -> None:
        sent = time.monotonic()
        try:
            key, error = call(), None
        except Exception as failure:  # any failure is an answer the client got
            key, error = None, _error_name(failure)
        with self._lock:
            self.answers.append(Answer(kind, sent, time.monotonic(), key, error))


def _create_account(cs: CloudStack, name: str) -> str:
    answer = cs.createAccount(
        accounttype=0,
        username=name,
        password="Failover-1",
        email=f"{name}@example.org",
        firstname="Fail",
        lastname="Over",
    )
    return str(answer["account"]["id"])


def _deploy(cs: CloudStack, catalog: dict[str, str], name: str) -> str:
    answer = cs.deployVirtualMachine(
        zoneid=catalog["zone"],
        serviceofferingid=catalog["offering"],
        templateid=catalog["template"],
        name=name,
    )
    return str(answer["jobid"])


def _error_name(failure: Exception) -> str:
    """What kind of answer the client got: an API error code, or what broke on the way."""
    error = getattr(failure, "error", None)
    if isinstance(error, dict) and "errorcode" in error:
        # 530 is also what an unexpected server error answers: say which one it was.
        text = str(error.get("errortext", ""))
        unknown = " (commit outcome unknown)" if "may or may not" in text else ""
        return f"API {error['errorcode']}{unknown}"
    response = getattr(failure, "response", None)
    status = getattr(response, "status_code", None)
    if status is not None:
        return f"HTTP {status}"
    return type(failure).__name__


class Region:
    """The rig: the Patroni cluster, two management servers and HAProxy."""

    def __init__(self, root: Path, settings: PatroniSettings | None = None) -> None:
        self.root = root
        self.cluster = PatroniCluster(root / "cluster", settings)
        self.servers: list[LiveServer] = []
        self.haproxy: HAProxy | None = None
        self._stack = ExitStack()

    @property
    def database_url(self) -> str:
        return f"{self.cluster.url}&connect_timeout=2"

    def __enter__(self) -> Region:
        # The cluster's directory inside must be reachable by the postgres user.
        self.root.chmod(0o711)
        try:
            self._stack.enter_context(self.cluster)
            first = self._start_server(0, quickstart=True)
            second_dir = self.root / "server1" / "data"
            second_dir.mkdir(parents=True)
            shutil.copy(first.data_dir / "secret.key", second_dir / "secret.key")
            self._start_server(1)
            self.haproxy = self._stack.enter_context(
                HAProxy(
                    self.root / "haproxy",
                    [
                        Frontend(
                            "alto_api",
                            [Backend("127.0.0.1", server.port) for server in self.servers],
                            fallback_path="/health",
                        )
                    ],
                )
            )
            self.haproxy.wait_up("alto_api", {0, 1})
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stack.close()

    @property
    def endpoint(self) -> str:
        assert self.haproxy is not None
        return f"http://127.0.0.1:{self.haproxy.frontends['alto_api'].port}/client/api"

    def client(self) -> CloudStack:
        admin = self.servers[0].admin
        return CloudStack(
            endpoint=self.endpoint, key=admin["apikey"], secret=admin["secretkey"], timeout=60
        )

    def _start_server(self, index: int, *, quickstart: bool = False) -> LiveServer:
        server = LiveServer(
            self.root / f"server{index}" / "data",
            database_url=self.database_url,
            extra_env=SERVER_ENV,
            args=("--quickstart",) if quickstart else (),
            port=self.servers[index].port if index < len(self.servers) else None,
        )
        server.wait_ready()
        if index < len(self.servers):
            self.servers[index] = server
        else:
            self.servers.append(server)
            self._stack.callback(lambda: self.servers[index].stop())
        return server

    def kill_server(self, index: int) -> None:
        process = self.servers[index].process
        process.kill()
        process.wait()

    def restart_server(self, index: int) -> None:
        self._start_server(index)
        assert self.haproxy is not None
        self.haproxy.wait_up("alto_api", {0, 1})

    def prepare(self) -> dict[str, str]:
        """Room for the workload; answers the quick start's zone, offering and template."""
        cs = self.client()
        zone = cs.listZones(name="zone1")["zone"][0]["id"]
        cluster = cs.listClusters(zoneid=zone)["cluster"][0]
        for number in range(EXTRA_HOSTS):
            cs.addHost(
                zoneid=zone,
                podid=cluster["podid"],
                clusterid=cluster["id"],
                hypervisor="Simulator",
                url=f"sim://ha-extra-{number}",
                details=[EXTRA_HOST_DETAILS],
            )
        offering = cs.listServiceOfferings(name="Small Instance")["serviceoffering"][0]["id"]
        template = cs.listTemplates(templatefilter="executable", name="Simulated Linux")[
            "template"
        ][0]["id"]
        deadline = time.monotonic() + 60
        while sum(h["state"] == "Up" for h in cs.listHosts()["host"]) < EXTRA_HOSTS + 4:
            if time.monotonic() > deadline:
                raise TimeoutError("simulated hosts not Up")
            time.sleep(0.2)
        return {"zone": zone, "offering": offering, "template": template}


@dataclass(frozen=True)
class Scenario:
    name: str
    fault: Callable[[Region], Callable[[], None]]
    """Injects the fault; answers how to repair it."""


def _kill_server(region: Region) -> Callable[[], None]:
    region.kill_server(0)
    return lambda: region.restart_server(0)


def _kill_postgres(region: Region) -> Callable[[], None]:
    leader = region.cluster.wait_leader()
    region.cluster.kill_postgres(leader)
    return lambda: _rejoin(region, leader)


def _stop_patroni(region: Region) -> Callable[[], None]:
    leader = region.cluster.wait_leader()
    region.cluster.stop_patroni(leader)
    return lambda: _rejoin(region, leader)


def _kill_both(region: Region) -> Callable[[], None]:
    leader = region.cluster.wait_leader()
    region.kill_server(1)
    region.cluster.kill_node(leader)

    def repair() -> None:
        region.restart_server(1)
        _rejoin(region, leader)

    return repair


def _rejoin(region: Region, node: int) -> None:
    region.cluster.restart_node(node)
    region.cluster.wait_healthy()


SCENARIOS = (
    Scenario("kill -9 a management server", _kill_server),
    Scenario("kill -9 the PostgreSQL primary", _kill_postgres),
    Scenario("stop Patroni on the primary", _stop_patroni),
    Scenario("kill -9 a server and the primary's node", _kill_both),
)


def run_scenario(region: Region, workload: Workload, scenario: Scenario) -> ScenarioResult:
    time.sleep(BEFORE_FAULT)
    fault_at = time.monotonic()
    repair = scenario.fault(region)
    time.sleep(AFTER_FAULT)
    window_end = time.monotonic()
    repair()
    answers = workload.between(fault_at - BEFORE_FAULT, window_end)
    acknowledged = [answer for answer in answers if answer.error is None]
    verified = asyncio.run(_verify(region, acknowledged))
    errors: dict[str, int] = {}
    for answer in answers:
        if answer.error is not None and answer.done >= fault_at:
            errors[answer.error] = errors.get(answer.error, 0) + 1
    return ScenarioResult(
        name=scenario.name,
        unavailable=_longest_silence(acknowledged, fault_at, window_end),
        acknowledged=len(acknowledged),
        failed_requests=sum(errors.values()),
        writes_lost=verified.writes_lost,
        jobs_lost=verified.jobs_lost,
        jobs_failed=verified.jobs_failed,
        errors=errors,
    )


def _longest_silence(acknowledged: list[Answer], start: float, end: float) -> float:
    """The longest time within [start, end] during which no write was acknowledged."""
    times = sorted(answer.done for answer in acknowledged if start <= answer.done < end)
    edges = [start, *times, end]
    return max(later - earlier for earlier, later in itertools.pairwise(edges))


@dataclass(frozen=True)
class Verified:
    writes_lost: int
    jobs_lost: int
    #: Acknowledged jobs that finished in failure, by error code (an answer, not a loss).
    jobs_failed: dict[str, int]


async def _verify(region: Region, acknowledged: list[Answer]) -> Verified:
    """Look every acknowledged write up on the primary; wait for acknowledged jobs to end."""
    accounts = [answer.key for answer in acknowledged if answer.kind == "account"]
    jobs = [answer.key for answer in acknowledged if answer.kind == "deploy"]
    connection = await asyncpg.connect(region.cluster.url)
    try:
        found = await connection.fetchval(
            "SELECT count(*) FROM accounts WHERE uuid = ANY($1::varchar[])", accounts
        )
        deadline = time.monotonic() + 90
        while True:
            rows = await connection.fetch(
                "SELECT uuid, status, result FROM async_jobs WHERE uuid = ANY($1::varchar[])",
                jobs,
            )
            pending = [row for row in rows if row["status"] == JobStatus.PENDING]
            if not pending or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
    finally:
        await connection.close()
    failed: dict[str, int] = {}
    for row in rows:
        if row["status"] == JobStatus.FAILED:
            code = f"job {orjson.loads(row['result']).get('errorcode')}"
            failed[code] = failed.get(code, 0) + 1
    return Verified(
        writes_lost=len(accounts) - found + len(jobs) - len(rows),
        jobs_lost=len(pending),
        jobs_failed=failed,
    )


@contextmanager
def running_workload(region: Region) -> Iterator[Workload]:
    workload = Workload(region.client, region.prepare())
    workload.start()
    try:
        yield workload
    finally:
        workload.stop()


def run_harness(root: Path, settings: PatroniSettings | None = None) -> list[ScenarioResult]:
    with Region(root, settings) as region, running_workload(region) as workload:
        return [run_scenario(region, workload, scenario) for scenario in SCENARIOS]


def format_table(settings: PatroniSettings, results: list[ScenarioResult]) -> str:
    lines = [
        f"Failover harness, Patroni {settings.label}: {CLIENT_THREADS} clients through "
        f"HAProxy, each scenario's window {BEFORE_FAULT:g} s before to {AFTER_FAULT:g} s "
        "after the fault",
        f"{'scenario':40} {'unavailable s':>13} {'acked':>6} {'failed':>6} "
        f"{'writes lost':>11} {'jobs lost':>9}  failed requests / failed jobs",
    ]
    for result in results:
        lines.append(
            f"{result.name:40} {result.unavailable:13.1f} {result.acknowledged:6d} "
            f"{result.failed_requests:6d} {result.writes_lost:11d} {result.jobs_lost:9d}  "
            f"{_counts(result.errors)} / {_counts(result.jobs_failed)}"
        )
    return "\n".join(lines)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} x{count}" for name, count in sorted(counts.items())) or "-"


def main() -> None:
    settings = PatroniSettings()
    root = Path(tempfile.mkdtemp(prefix="alto-failover-"))
    try:
        print(format_table(settings, run_harness(root, settings)))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
