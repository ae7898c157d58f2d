"""Time to place one VM among 1,000 and 10,000 hosts: ``place()`` latency, p50 and p99.

For each backend (SQLite in a temporary directory; PostgreSQL too when Debian's
binaries are installed, as a throwaway cluster on loopback) and each fleet size, the
bench writes the hosts straight into a fresh database (the scheduler's test fleet,
``tests/scheduler/fleet.py``): 90 % Up and Enabled, the rest Down, Disconnected or in
Maintenance, random existing reservations, one host in ten tagged ``ssd``. Then it times
``place()`` calls, each in its own transaction as a job step runs it, committed, so the
reservations pile up as in a real region:

- ``spread``: the default weigher, a 1 x 500 MHz / 512 MB VM;
- ``pack``: the same VM with the pack weigher;
- ``tagged``: spread, but only ``ssd`` hosts qualify;
- ``concurrent``: the spread VM placed by ``--concurrency`` tasks at once, to show the
  cost of losing the race for the best host (latency is per placement, queueing included).

    uv run python bench/scheduler_bench.py [--hosts 1000,10000] [--placements 300]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from altostratus.db.engine import Database
from altostratus.services.compute.scheduler import PlacementRequest, place
from altostratus.settings import Settings
from tests.scheduler.fleet import Fleet, HostSpec, add_hosts, create_fleet
from tests.support.postgres import TemporaryPostgres, find_pg_bin


@dataclass(frozen=True)
class Measurement:
    backend: str
    hosts: int
    scenario: str
    samples: list[float]

    def percentile(self, p: int) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] * 1000


def random_host(rng: random.Random) -> HostSpec:
    cpu_number = rng.choice([8, 16, 32])
    memory_mb = rng.choice([32768, 65536, 131072])
    return HostSpec(
        state=rng.choices(["Up", "Down", "Disconnected"], weights=[95, 3, 2])[0],
        resource_state=rng.choices(["Enabled", "Maintenance"], weights=[95, 5])[0],
        cpu_number=cpu_number,
        cpu_speed=2000,
        memory_mb=memory_mb,
        cpu_allocated_mhz=rng.randrange(0, cpu_number * 2000 // 2),
        memory_allocated_mb=rng.randrange(0, memory_mb // 2),
        host_tags="ssd" if rng.random() < 0.1 else "",
        cluster=rng.randrange(2),
    )


async def time_calls(
    count: int, concurrency: int, call: Callable[[], Awaitable[int]]
) -> list[float]:
    samples: list[float] = []
    remaining = iter(range(count))

    async def worker() -> None:
        for _ in remaining:
            started = time.perf_counter()
            await call()
            samples.append(time.perf_counter() - started)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return samples


async def bench_fleet(
    backend: str, url: str, hosts: int, args: argparse.Namespace
) -> list[Measurement]:
    db = Database(url)
    try:
        fleet: Fleet = await create_fleet(db)
        rng = random.Random(hosts)
        started = time.perf_counter()
        await add_hosts(db, fleet, [random_host(rng) for _ in range(hosts)])
        print(f"{backend}: {hosts} hosts written in {time.perf_counter() - started:.1f} s")
        vm = PlacementRequest(zone_id=fleet.zone_id, cpu_mhz=500, memory_mb=512)
        scenarios = [
            ("spread", Settings(scheduler_weigher="spread"), vm, 1),
            ("pack", Settings(scheduler_weigher="pack"), vm, 1),
            (
                "tagged",
                Settings(),
                replace(vm, host_tags=frozenset({"ssd"})),
                1,
            ),
            ("concurrent", Settings(), vm, args.concurrency),
        ]
        results = []
        for name, settings, request, concurrency in scenarios:

            async def one(
                settings: Settings = settings, request: PlacementRequest = request
            ) -> int:
                async with db.transaction() as session:
                    return await place(session, settings, request)

            await time_calls(10, 1, one)  # warm-up: connections, statement caches
            samples = await time_calls(args.placements, concurrency, one)
            results.append(Measurement(backend, hosts, name, samples))
        return results
    finally:
        await db.close()


async def run(args: argparse.Namespace) -> list[Measurement]:
    results: list[Measurement] = []
    sizes = [int(size) for size in args.hosts.split(",")]
    with tempfile.TemporaryDirectory(prefix="alto-sched-") as directory:
        for hosts in sizes:
            url = f"sqlite:///{Path(directory) / f'fleet{hosts}.db'}"
            results += await bench_fleet("sqlite", url, hosts, args)
    pg_bin = find_pg_bin()
    if pg_bin is None or args.no_postgres:
        print("PostgreSQL: skipped (no binaries or --no-postgres)")
        return results
    server = TemporaryPostgres(pg_bin)
    server.start()
    try:
        for hosts in sizes:
            url = server.create_database(f"fleet{hosts}")
            results += await bench_fleet("postgresql", url, hosts, args)
    finally:
        server.stop()
    return results


def print_table(results: list[Measurement], concurrency: int) -> None:
    header = (
        f"{'backend':<11} {'hosts':>6} {'scenario':<11} {'calls':>6} {'p50 ms':>8} {'p99 ms':>8}"
    )
    print(header)
    print("-" * len(header))
    for item in results:
        label = f"{item.scenario}x{concurrency}" if item.scenario == "concurrent" else item.scenario
        print(
            f"{item.backend:<11} {item.hosts:>6} {label:<11} {len(item.samples):>6} "
            f"{item.percentile(50):>8.2f} {item.percentile(99):>8.2f}"
        )
    mean = statistics.fmean(sample for item in results for sample in item.samples) * 1000
    print(f"mean over all calls: {mean:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", default="1000,10000", help="fleet sizes, comma-separated")
    parser.add_argument("--placements", type=int, default=300, help="timed calls per scenario")
    parser.add_argument("--concurrency", type=int, default=8, help="tasks in 'concurrent'")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    print()
    print_table(results, args.concurrency)


if __name__ == "__main__":
    main()
