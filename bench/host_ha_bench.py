"""How fast one host HA monitor round goes through a large region, and what it costs.

The bench writes N hosts straight into a fresh database (SQLite in a temporary
directory, or ``--database-url``, which must be empty), in clusters of 40, every one
heartbeating and HA-enabled (``simulatorhaprovider``, Available). Then it times
``HostHaMonitor.run_once()``, the monitor's round, as its worker runs it:

- **steady**: every host heard recently; the round reads them all and moves none;
- **silent**: ``--silent`` hosts (one per cluster, so no cluster looks like a network
  failure) stopped heartbeating; the round moves each Available → Suspect → Checking and
  submits its investigation job: "investigated per second" is silent hosts / round time;
- **after**: the next round, with those hosts in Checking.

    uv run python bench/host_ha_bench.py [--hosts 1000,10000] [--silent 100] [--rounds 5]

Time from a real host's power-off to its VMs running elsewhere is measured by the
netns rig (``tests/ha/rig``); see docs/ha.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select, update

from altostratus.db.clock import database_now
from altostratus.db.models import Cluster, Host, HostHa, Pod, Zone
from altostratus.db.models.host_ha import HaState
from altostratus.ha.hosts.monitor import HostHaMonitor
from altostratus.runtime import Runtime
from altostratus.settings import Settings

CLUSTER_SIZE = 40


@dataclass(frozen=True)
class Figure:
    hosts: int
    round: str
    moved_hosts: int
    seconds: list[float]

    def row(self) -> str:
        median = statistics.median(self.seconds)
        rate = self.hosts / median if median else 0.0
        moved = f"{self.moved_hosts / median:>12,.0f}" if self.moved_hosts else f"{'-':>12}"
        return f"{self.hosts:>7} {self.round:<8} {1000 * median:>10.1f} {rate:>14,.0f} {moved}"


async def _seed(runtime: Runtime, count: int) -> None:
    async with runtime.db.transaction() as session:
        zone = Zone(name="bench", network_type="Advanced", dns1="8.8.8.8", internal_dns1="10.0.0.2")
        session.add(zone)
        await session.flush()
        pod = Pod(name="p", zone_id=zone.id, gateway="192.168.0.1", netmask="255.255.0.0")
        session.add(pod)
        await session.flush()
        clusters = [
            Cluster(name=f"c{number}", pod_id=pod.id, hypervisor="Simulator")
            for number in range((count + CLUSTER_SIZE - 1) // CLUSTER_SIZE)
        ]
        session.add_all(clusters)
        await session.flush()
        now = await database_now(session)
        rows = [
            {
                "name": f"h{number}",
                "zone_id": zone.id,
                "pod_id": pod.id,
                "cluster_id": clusters[number // CLUSTER_SIZE].id,
                "hypervisor": "Simulator",
                "url": f"agent://h{number}",
                "state": "Up",
                "last_heartbeat": now,
                "cpu_number": 16,
                "cpu_speed": 2000,
                "memory_mb": 65536,
                "host_tags": "",
            }
            for number in range(count)
        ]
        for start in range(0, count, 2000):
            await session.execute(insert(Host), rows[start : start + 2000])
        host_ids = list(await session.scalars(select(Host.id).order_by(Host.id)))
        resources = [
            {
                "host_id": host_id,
                "enabled": True,
                "provider": "simulatorhaprovider",
                "state": HaState.AVAILABLE,
            }
            for host_id in host_ids
        ]
        for start in range(0, count, 2000):
            await session.execute(insert(HostHa), resources[start : start + 2000])


async def _silence(runtime: Runtime, count: int) -> None:
    """One host per cluster stops heartbeating (``count`` clusters at most)."""
    async with runtime.db.transaction() as session:
        first_of_clusters = select(Host.id).where(
            Host.name.in_([f"h{n * CLUSTER_SIZE}" for n in range(count)])
        )
        old = await database_now(session) - timedelta(hours=1)
        await session.execute(
            update(Host).where(Host.id.in_(first_of_clusters)).values(last_heartbeat=old)
        )


async def _keep_heard(runtime: Runtime) -> None:
    async with runtime.db.transaction() as session:
        now = await database_now(session)
        await session.execute(
            update(Host)
            .where(Host.last_heartbeat > now - timedelta(minutes=10))
            .values(last_heartbeat=now)
        )


async def _timed(monitor: HostHaMonitor) -> tuple[float, int]:
    started = time.perf_counter()
    done = await monitor.run_once()
    return time.perf_counter() - started, done.investigations


async def measure(hosts: int, silent: int, rounds: int, database_url: str | None) -> list[Figure]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            database_url=database_url,
            password_time_cost=1,
            password_memory_kib=64,
            background_workers=False,
            compute_workers=False,
        )
        runtime = await Runtime.start(settings)
        try:
            await _seed(runtime, hosts)
            monitor = HostHaMonitor(runtime.db, runtime.deps)
            await monitor.run_once()  # warm-up: connections, statement caches
            steady = []
            for _ in range(rounds):
                await _keep_heard(runtime)
                steady.append((await _timed(monitor))[0])
            await _silence(runtime, min(silent, hosts // CLUSTER_SIZE))
            seconds, investigated = await _timed(monitor)
            after = [(await _timed(monitor))[0] for _ in range(rounds)]
        finally:
            await runtime.close()
    return [
        Figure(hosts, "steady", 0, steady),
        Figure(hosts, "silent", investigated, [seconds]),
        Figure(hosts, "after", 0, after),
    ]


async def run(args: argparse.Namespace) -> list[Figure]:
    figures: list[Figure] = []
    for hosts in (int(value) for value in args.hosts.split(",") if value):
        print(f"{hosts} HA-enabled hosts, {args.silent} silent", file=sys.stderr, flush=True)
        figures += await measure(hosts, args.silent, args.rounds, args.database_url)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", default="1000,10000", help="HA-enabled host counts")
    parser.add_argument("--silent", type=int, default=100, help="hosts that stop heartbeating")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per phase")
    parser.add_argument("--database-url", default=None, help="an empty database to use")
    args = parser.parse_args()
    figures = asyncio.run(run(args))
    print(
        f"{'hosts':>7} {'round':<8} {'median ms':>10} {'hosts read/s':>14} {'investigated/s':>12}"
    )
    for figure in figures:
        print(figure.row())


if __name__ == "__main__":
    main()
