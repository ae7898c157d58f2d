"""deployVirtualMachine throughput end to end, on simulated hosts, over real HTTP.

Starts its own ``alto server --quickstart`` (SQLite in a temporary directory, or
``--database-url``), adds ``--hosts`` more simulated hosts (``addHost
hypervisor=Simulator``), waits until every host is Up, then deploys ``--vms`` Small
Instances as the root admin with at most ``--concurrency`` deployments in flight. Each
deployment is what a ``cs`` user with ``fetch_result=True`` does: ``deployVirtualMachine``
then ``queryAsyncJobResult`` every ``--poll`` seconds until the job is done, so a VM
counts only once its job says Running. The whole path is measured: the request, the
job row, the executor claiming it, scheduling with capacity reservation, the guest
address, the StartVm command to the host's simulator agent and its answer.

The load generator (``cs``'s asyncio client) runs on the same machine and its polling
is load on the server too: the figures are a floor, best compared between runs.

    uv run python bench/deploy_bench.py [--hosts N] [--vms K] [--concurrency C]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cs import AIOCloudStack, CloudStackApiException

# LiveServer (tests/support) starts a server exactly as the client tests do.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.server import LiveServer

#: Fast heartbeats bring the added hosts Up quickly; job polling as in the tests.
SERVER_ENV = {"ALTO_HEARTBEAT_INTERVAL": "1", "ALTO_JOB_POLL_INTERVAL": "0.2"}


@dataclass(frozen=True)
class Catalog:
    zone_id: str
    pod_id: str
    cluster_id: str
    offering_id: str
    template_id: str


@dataclass
class Outcome:
    """What the deployments gave: job latencies (s) of the Running ones, failures by code."""

    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    #: CPU seconds the server process used during the measured run, if known.
    server_cpu: float | None = None

    def percentile_ms(self, p: int) -> float:
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1] * 1000


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux ``/proc``), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _named(items: list[dict[str, Any]], name: str) -> str:
    [found] = [item["id"] for item in items if item["name"] == name]
    return str(found)


async def catalog(cs: AIOCloudStack) -> Catalog:
    zone_id = _named((await cs.listZones())["zone"], "zone1")
    pod = (await cs.listPods(zoneid=zone_id))["pod"][0]
    cluster = (await cs.listClusters(podid=pod["id"]))["cluster"][0]
    offerings = (await cs.listServiceOfferings())["serviceoffering"]
    templates = (await cs.listTemplates(templatefilter="executable"))["template"]
    return Catalog(
        zone_id=zone_id,
        pod_id=pod["id"],
        cluster_id=cluster["id"],
        offering_id=_named(offerings, "Small Instance"),
        template_id=_named(templates, "Simulated Linux"),
    )


async def add_hosts(cs: AIOCloudStack, where: Catalog, count: int) -> None:
    """``count`` simulated hosts, eight at a time, then wait until every host is Up."""
    gate = asyncio.Semaphore(8)

    async def add(number: int) -> None:
        async with gate:
            await cs.addHost(
                zoneid=where.zone_id,
                podid=where.pod_id,
                clusterid=where.cluster_id,
                hypervisor="Simulator",
                url=f"sim://bench{number}",
            )

    await asyncio.gather(*(add(number) for number in range(count)))
    deadline = time.monotonic() + 120
    while True:
        hosts = (await cs.listHosts(pagesize=500, page=1)).get("host", [])
        up = sum(host["state"] == "Up" for host in hosts)
        if up == len(hosts):
            print(f"hosts: {up} Up")
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"only {up} of {len(hosts)} hosts Up after 120 s")
        await asyncio.sleep(0.5)


async def deploy_all(
    cs: AIOCloudStack, where: Catalog, vms: int, concurrency: int, prefix: str
) -> Outcome:
    """Deploy ``vms`` VMs, ``concurrency`` at a time, each polled until its job is done."""
    outcome = Outcome()
    numbers = iter(range(vms))

    async def worker() -> None:
        for number in numbers:
            started = time.perf_counter()
            try:
                result = await cs.deployVirtualMachine(
                    zoneid=where.zone_id,
                    serviceofferingid=where.offering_id,
                    templateid=where.template_id,
                    name=f"{prefix}-{number}",
                    fetch_result=True,
                )
            except CloudStackApiException as error:
                outcome.failures[str(error.error.get("errorcode", "?"))] += 1
                continue
            state = result["virtualmachine"]["state"]
            if state == "Running":
                outcome.latencies.append(time.perf_counter() - started)
            else:
                outcome.failures[f"state {state}"] += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    outcome.seconds = time.perf_counter() - started
    return outcome


async def run(server: LiveServer, args: argparse.Namespace) -> Outcome:
    admin = server.admin
    async with AIOCloudStack(
        endpoint=server.endpoint,
        key=admin["apikey"],
        secret=admin["secretkey"],
        poll_interval=args.poll,
        job_timeout=300,
        timeout=60,
    ) as cs:
        where = await catalog(cs)
        started = time.perf_counter()
        await add_hosts(cs, where, args.hosts)
        print(f"set-up: {args.hosts} hosts added in {time.perf_counter() - started:.1f} s")
        if args.warmup:
            await deploy_all(cs, where, args.warmup, args.concurrency, "warm")
        cpu_before = cpu_seconds(server.process.pid)
        outcome = await deploy_all(cs, where, args.vms, args.concurrency, "bench")
        cpu_after = cpu_seconds(server.process.pid)
        if cpu_before is not None and cpu_after is not None:
            outcome.server_cpu = cpu_after - cpu_before
        running = await cs.listVirtualMachines(state="Running", listall=True, page=1, pagesize=1)
        print(f"listVirtualMachines state=Running: {running.get('count', 0)}")
        return outcome


def report(outcome: Outcome, args: argparse.Namespace) -> None:
    done = len(outcome.latencies)
    print()
    print(
        f"{'hosts':>6} {'VMs':>5} {'conc.':>5} {'Running':>7} {'failed':>6} "
        f"{'VMs/s':>7} {'p50 ms':>8} {'p99 ms':>8}"
    )
    p50 = outcome.percentile_ms(50) if done >= 2 else float("nan")
    p99 = outcome.percentile_ms(99) if done >= 2 else float("nan")
    print(
        f"{args.hosts + 4:>6} {args.vms:>5} {args.concurrency:>5} {done:>7} "
        f"{sum(outcome.failures.values()):>6} {done / outcome.seconds:>7.1f} "
        f"{p50:>8.0f} {p99:>8.0f}"
    )
    if outcome.failures:
        print(f"failures: {dict(outcome.failures)}")
    if outcome.server_cpu is not None and done:
        busy = outcome.server_cpu / outcome.seconds
        per_vm = outcome.server_cpu / done * 1000
        print(f"server CPU: {per_vm:.0f} ms per Running VM, {busy:.0%} of one core on average")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=50, help="simulated hosts to add")
    parser.add_argument("--vms", type=int, default=200, help="VMs to deploy (measured)")
    parser.add_argument("--concurrency", type=int, default=16, help="deployments in flight")
    parser.add_argument("--warmup", type=int, default=8, help="unmeasured deployments first")
    parser.add_argument("--poll", type=float, default=0.1, help="job polling interval (s)")
    parser.add_argument("--database-url", help="PostgreSQL instead of SQLite")
    args = parser.parse_args()
    if args.vms < 2 or args.concurrency < 1 or args.hosts < 0:
        parser.error("--vms must be at least 2, --concurrency at least 1")

    with (
        tempfile.TemporaryDirectory(prefix="alto-bench-") as tmp,
        LiveServer(
            Path(tmp) / "data",
            args=("--quickstart",),
            database_url=args.database_url,
            extra_env=SERVER_ENV,
        ) as server,
    ):
        backend = "PostgreSQL" if args.database_url else "SQLite"
        print(f"server: {server.endpoint}, {backend}, {os.cpu_count()} CPUs")
        outcome = asyncio.run(run(server, args))
    report(outcome, args)


if __name__ == "__main__":
    main()
