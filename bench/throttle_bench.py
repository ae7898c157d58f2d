"""What the region-wide API throttle costs: listZones per second with it off and on.

Starts its own ``alto server`` (SQLite in a temporary directory, or the PostgreSQL
database given with ``--database-url``), creates an account with API keys (root admins
are never throttled, so a user account is measured), and drives signed ``listZones``
with a bounded number of requests in flight, alternating throttling off and on
(``updateConfiguration api.throttling.enabled``) so that drift on a shared machine hits
both alike. With throttling on, the limit is far above what the run sends: every request
is counted and admitted, none refused; the difference is the counter's cost (the
in-memory count on the request path, and the flusher's transaction every
``counter_flush_interval`` seconds competing for the database and the CPU).

    uv run python bench/throttle_bench.py [--requests N] [--concurrency N] [--rounds N]
    uv run python bench/throttle_bench.py --database-url postgresql://…/db

Over HTTP on a shared machine the difference drowns in noise, so it also prints the
counter's own figures, in process: the time one request's decision takes (tally, share
rule, count), and one flush's transaction for a number of keys touched.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_bench import Credentials, Measurement, api, measure, user_fields

from altostratus.core.counter_flush import flush_once
from altostratus.core.region_counts import RegionCounts
from altostratus.db import migrate
from altostratus.db.engine import Database
from tests.support.server import LiveServer

DECISIONS = 200_000


def decision_cost(keys: int) -> float:
    """Microseconds one request's decision takes in memory, over ``keys`` accounts."""
    counts = RegionCounts("bench")
    started = time.perf_counter()
    for n in range(DECISIONS):
        key = str(n % keys)
        tally = counts.tally("api", key, 1)
        if tally.current < 10**9 and tally.within_share(10**9):
            counts.add("api", key, 1)
    return (time.perf_counter() - started) / DECISIONS * 1e6


async def flush_cost(url: str, keys: int, rounds: int = 20) -> float:
    """Milliseconds one flush takes with ``keys`` keys counted since the last one."""
    db = Database(url)
    try:
        await migrate.upgrade(db)
        counts = RegionCounts("bench")
        counts.add("api", "warm-up", 60)
        await flush_once(db, counts)  # the first one compiles the statements
        spent = 0.0
        for _round in range(rounds):
            for key in range(keys):
                counts.add("api", str(key), 60)
            started = time.perf_counter()
            await flush_once(db, counts)
            spent += time.perf_counter() - started
        return spent / rounds * 1000
    finally:
        await db.close()


async def _user(client: httpx.AsyncClient, admin: Credentials) -> Credentials:
    account = await api(
        client, admin, "createAccount", accounttype="0", account="bench", **user_fields("bench")
    )
    user_id = account["account"]["user"][0]["id"]
    keys = (await api(client, admin, "registerUserKeys", id=user_id))["userkeys"]
    return Credentials(keys["apikey"], keys["secretkey"])


async def _throttling(client: httpx.AsyncClient, admin: Credentials, enabled: bool) -> None:
    await api(
        client,
        admin,
        "updateConfiguration",
        name="api.throttling.enabled",
        value="true" if enabled else "false",
    )


async def run(server: LiveServer, args: argparse.Namespace) -> dict[bool, list[Measurement]]:
    admin = Credentials(server.admin["apikey"], server.admin["secretkey"])
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    base_url = f"http://127.0.0.1:{server.port}"
    results: dict[bool, list[Measurement]] = {False: [], True: []}
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        await api(
            client, admin, "updateConfiguration", name="api.throttling.max", value="1000000000"
        )
        await api(client, admin, "updateConfiguration", name="api.throttling.interval", value="1")
        user = await _user(client, admin)
        for _round in range(args.rounds):
            for enabled in (False, True):
                await _throttling(client, admin, enabled)

                def request() -> dict[str, str]:
                    return user.sign("listZones", {})

                await measure(client, "warm-up", request, args.warmup, args.concurrency)
                name = f"listZones, throttling {'on' if enabled else 'off'}"
                found = await measure(client, name, request, args.requests, args.concurrency)
                results[enabled].append(found)
        if args.check:
            await _throttling(client, admin, True)
            issued = await api(client, user, "getApiLimit")
            print(f"getApiLimit as the user: {issued['apilimit']}")
    return results


def print_table(results: dict[bool, list[Measurement]]) -> None:
    header = f"{'scenario':<28} {'runs':>4} {'errors':>6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}"
    print(header)
    print("-" * len(header))
    rates = {}
    for enabled, runs in results.items():
        rates[enabled] = statistics.median(m.per_second for m in runs)
        latencies = [latency for m in runs for latency in m.latencies]
        merged = Measurement("", sum(m.requests for m in runs), 0, 1.0, latencies)
        print(
            f"{runs[0].scenario:<28} {len(runs):>4} {sum(m.errors for m in runs):>6} "
            f"{rates[enabled]:>8.0f} {merged.percentile(50):>8.1f} {merged.percentile(99):>8.1f}"
        )
    cost_us = (1 / rates[True] - 1 / rates[False]) * 1e6
    change = (rates[True] / rates[False] - 1) * 100
    print(f"\ncost of the counter: {cost_us:+.0f} µs per request ({change:+.1f} % throughput)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per run")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument("--rounds", type=int, default=3, help="off/on pairs of runs")
    parser.add_argument("--warmup", type=int, default=100, help="unmeasured requests per run")
    parser.add_argument("--database-url", help="PostgreSQL database (default: SQLite)")
    parser.add_argument(
        "--check", action="store_true", help="print the user's getApiLimit at the end"
    )
    args = parser.parse_args()
    if args.requests < 2 or args.warmup < 1 or args.concurrency < 1 or args.rounds < 1:
        parser.error("--requests must be at least 2, the others at least 1")

    print("in process:")
    for keys in (1, 1000):
        print(f"  decision per request, {keys:>5} accounts: {decision_cost(keys):6.1f} µs")
    with tempfile.TemporaryDirectory(prefix="alto-flush-bench-") as tmp:
        url = args.database_url or f"sqlite:///{tmp}/flush.db"
        for keys in (1, 100, 1000):
            ms = asyncio.run(flush_cost(url, keys))
            print(f"  flush of {keys:>5} keys: {ms:7.1f} ms")
    print()
    with (
        tempfile.TemporaryDirectory(prefix="alto-throttle-bench-") as tmp,
        LiveServer(Path(tmp) / "data", database_url=args.database_url) as server,
    ):
        backend = "PostgreSQL" if args.database_url else "SQLite"
        print(f"server: {server.endpoint}, {backend}, {os.cpu_count()} CPUs")
        results = asyncio.run(run(server, args))
    print()
    print_table(results)


if __name__ == "__main__":
    main()
