"""Heartbeats per second one management server absorbs: batched in-process, and HTTP.

Two paths, as hosts really reach a server:

- **In-process simulator** (``services.agents.simulator_fleet``): the server
  that holds the ``simulator`` lease heartbeats every ``sim://`` host in one
  transaction per interval. The bench seeds N Simulator hosts in a fresh SQLite
  database (or ``--database-url``, which must be empty: both paths use it), lets one
  tick bring them Up, then times further ticks. heartbeats/s = N / tick time: how many
  simulated hosts one interval could carry per second of database time.
- **HTTP agents** (``/agent/v1/heartbeat``): starts its own ``alto server`` (SQLite
  unless ``--database-url``), registers ``--agents`` hosts through ``/agent/v1/register``
  with the zone's token (``alto agent token``), then sends heartbeats (each an
  authenticated request, one transaction, power-state reconciliation) with
  ``--concurrency`` in flight for ``--seconds``.

    uv run python bench/heartbeat_bench.py [--hosts 1000,10000] [--agents 200]
        [--seconds 10] [--concurrency 32] [--database-url postgresql://...]

The load generator shares the machine with the server: figures are a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

from altostratus.db.models import Cluster, Host, Pod, Zone
from altostratus.runtime import Runtime
from altostratus.services.agents.simulator_fleet import SimulatorFleet
from altostratus.settings import Settings

# LiveServer (tests/support) starts a server exactly as the client tests do.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.client import ApiClient
from tests.support.server import LiveServer

ALTO = str(Path(sys.executable).parent / "alto")
#: Widths of the numeric columns of the printed table.
WIDTHS = (7, 10, 12, 9, 9)


@dataclass(frozen=True)
class Figure:
    path: str
    hosts: int
    heartbeats: int
    seconds: float
    p50_ms: float
    p99_ms: float

    def row(self) -> str:
        rate = self.heartbeats / self.seconds if self.seconds else 0.0
        return (
            f"{self.path:<22} {self.hosts:>7} {self.heartbeats:>10} {rate:>12,.0f}"
            f" {self.p50_ms:>9.1f} {self.p99_ms:>9.1f}"
        )


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _seed_hosts(runtime: Runtime, count: int) -> None:
    async with runtime.db.transaction() as session:
        zone = Zone(name="bench", network_type="Advanced", dns1="8.8.8.8", internal_dns1="10.0.0.2")
        session.add(zone)
        await session.flush()
        pod = Pod(name="p", zone_id=zone.id, gateway="192.168.0.1", netmask="255.255.0.0")
        session.add(pod)
        await session.flush()
        cluster = Cluster(name="c", pod_id=pod.id, hypervisor="Simulator")
        session.add(cluster)
        await session.flush()
        rows = [
            {
                "name": f"sim{number}",
                "zone_id": zone.id,
                "pod_id": pod.id,
                "cluster_id": cluster.id,
                "hypervisor": "Simulator",
                "url": f"sim://sim{number}",
                "cpu_number": 16,
                "cpu_speed": 2000,
                "memory_mb": 65536,
                "host_tags": "",
            }
            for number in range(count)
        ]
        for start in range(0, count, 2000):
            await session.execute(insert(Host), rows[start : start + 2000])


async def in_process(hosts: int, ticks: int, database_url: str | None) -> Figure:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            database_url=database_url,
            password_time_cost=1,
            password_memory_kib=64,
            background_workers=False,
        )
        runtime = await Runtime.start(settings)
        try:
            await _seed_hosts(runtime, hosts)
            fleet = SimulatorFleet(runtime.db, runtime.deps)
            started = time.perf_counter()
            first = await fleet.run_once()
            log(f"  first tick ({first}): {time.perf_counter() - started:.2f} s")
            durations = []
            for _ in range(ticks):
                started = time.perf_counter()
                await fleet.run_once()
                durations.append(time.perf_counter() - started)
        finally:
            await runtime.close()
    return Figure(
        "in-process batched",
        hosts,
        hosts * ticks,
        sum(durations),
        1000 * statistics.median(durations),
        1000 * _percentile(durations, 0.99),
    )


async def over_http(
    agents: int, seconds: float, concurrency: int, database_url: str | None
) -> Figure:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "mgmt"
        env = {"ALTO_HEARTBEAT_INTERVAL": "5", "ALTO_HOST_DISCONNECT_AFTER": "60"}
        with LiveServer(data_dir, database_url=database_url, extra_env=env) as server:
            base = f"http://127.0.0.1:{server.port}"
            limits = httpx.Limits(max_connections=concurrency)
            async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
                keys = server.admin
                admin = ApiClient(http, keys["apikey"], keys["secretkey"])
                await _inventory(admin)
                token = _token(data_dir)
                hosts = [await _register(http, token, number) for number in range(agents)]
                return await _blast(http, hosts, seconds, concurrency)


async def _inventory(admin: ApiClient) -> None:
    zone = (
        await admin.ok(
            "createZone", name="z1", dns1="8.8.8.8", internaldns1="10.0.0.2", networktype="Advanced"
        )
    )["zone"]
    pod = (
        await admin.ok(
            "createPod", zoneid=zone["id"], name="p1", gateway="192.168.0.1", netmask="255.255.0.0"
        )
    )["pod"]
    await admin.ok(
        "addCluster",
        zoneid=zone["id"],
        podid=pod["id"],
        clustername="c1",
        clustertype="CloudManaged",
        hypervisor="Simulator",
    )


def _token(data_dir: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALTO_")}
    command = [ALTO, "agent", "token", "--zone", "z1", "--data-dir", str(data_dir)]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


async def _register(http: httpx.AsyncClient, token: str, number: int) -> dict[str, str]:
    facts = {
        "name": f"agent{number}",
        "hypervisor": "Simulator",
        "cpu_number": 16,
        "cpu_speed": 2000,
        "memory_mb": 65536,
    }
    answer = await http.post("/agent/v1/register", json={"token": token, "facts": facts})
    answer.raise_for_status()
    registered: dict[str, Any] = answer.json()
    return {"x-alto-host": registered["host_id"], "x-alto-key": registered["key"]}


async def _blast(
    http: httpx.AsyncClient, hosts: list[dict[str, str]], seconds: float, concurrency: int
) -> Figure:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        nonlocal errors
        number = offset
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            answer = await http.post(
                "/agent/v1/heartbeat",
                json={"power_states": {}},
                headers=hosts[number % len(hosts)],
            )
            latencies.append(time.perf_counter() - started)
            errors += answer.status_code != 200
            number += concurrency

    started = time.perf_counter()
    await asyncio.gather(*(worker(offset) for offset in range(concurrency)))
    elapsed = time.perf_counter() - started
    if errors:
        log(f"  {errors} heartbeats were not answered 200")
    return Figure(
        f"HTTP (c={concurrency})",
        len(hosts),
        len(latencies) - errors,
        elapsed,
        1000 * statistics.median(latencies),
        1000 * _percentile(latencies, 0.99),
    )


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def run(args: argparse.Namespace) -> list[Figure]:
    figures = []
    for hosts in (int(value) for value in args.hosts.split(",") if value):
        log(f"in-process: {hosts} simulated hosts, {args.ticks} ticks")
        figures.append(await in_process(hosts, args.ticks, args.database_url))
    if args.agents:
        log(f"HTTP: {args.agents} agents, {args.seconds} s, {args.concurrency} in flight")
        figures.append(
            await over_http(args.agents, args.seconds, args.concurrency, args.database_url)
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", default="1000,10000", help="simulated host counts")
    parser.add_argument("--ticks", type=int, default=10, help="timed ticks per count")
    parser.add_argument("--agents", type=int, default=200, help="HTTP agents (0: skip)")
    parser.add_argument("--seconds", type=float, default=10.0, help="HTTP measuring time")
    parser.add_argument("--concurrency", type=int, default=32, help="HTTP requests in flight")
    parser.add_argument("--database-url", default=None, help="database of both paths")
    args = parser.parse_args()
    figures = asyncio.run(run(args))
    header = ("path", "hosts", "heartbeats", "per second", "p50 ms", "p99 ms")
    print(
        f"{header[0]:<22} "
        + " ".join(f"{name:>{w}}" for name, w in zip(header[1:], WIDTHS, strict=True))
    )
    for figure in figures:
        print(figure.row())


if __name__ == "__main__":
    main()
