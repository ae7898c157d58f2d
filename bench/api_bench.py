"""Requests per second and latency of two API read paths, over real HTTP.

Starts its own ``alto server`` (SQLite in a temporary directory, ``--workers N``),
creates a zone and an account of 1,000 users, then drives, with a bounded number of
requests in flight:

- ``listZones``: a signed request through authentication, dispatch and a tiny query;
  the floor every command pays.
- ``listUsers listall=true page=1 pagesize=500``: a full page of a list command, where
  the query, the visibility filter and the rendering of 500 objects dominate.

Every request is signed the way ``cs`` signs (``signatureversion=3`` with ``expires``),
so signature checking is part of what is measured. The load generator is Python
(httpx) on the same machine: it competes with the server for CPU, so the figures are
a floor, best compared between runs on one machine.

    uv run python bench/api_bench.py [--workers N] [--requests N] [--concurrency N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from altostratus.security.signatures import sign

# LiveServer (tests/support) starts a server exactly as the client tests do.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.server import LiveServer

Params = dict[str, str]


@dataclass(frozen=True)
class Credentials:
    api_key: str
    secret_key: str

    def sign(self, command: str, params: Params) -> Params:
        """Parameters of a request signed like ``cs`` signs (version 3, expiring)."""
        expires = datetime.now(UTC) + timedelta(minutes=10)
        query = {
            **params,
            "command": command,
            "response": "json",
            "apikey": self.api_key,
            "signatureversion": "3",
            "expires": expires.strftime("%Y-%m-%dT%H:%M:%S+0000"),
        }
        query["signature"] = sign(query, self.secret_key)
        return query


@dataclass(frozen=True)
class Measurement:
    scenario: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: int) -> float:
        """The p-th percentile latency in milliseconds."""
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1] * 1000


async def api(client: httpx.AsyncClient, creds: Credentials, command: str, **params: str) -> Any:
    """One signed call during set-up; any error aborts the benchmark."""
    response = await client.get("/client/api", params=creds.sign(command, params))
    if response.status_code != 200:
        raise SystemExit(f"{command} failed: {response.status_code} {response.text}")
    return response.json()[f"{command.lower()}response"]


def user_fields(username: str) -> Params:
    return {
        "username": username,
        "password": "Bench-password-1",
        "email": f"{username}@bench.example",
        "firstname": "Bench",
        "lastname": "User",
    }


async def populate(
    client: httpx.AsyncClient, creds: Credentials, users: int, concurrency: int
) -> None:
    """A zone, and an account ``bench`` with ``users`` users."""
    await api(
        client,
        creds,
        "createZone",
        name="bench-zone",
        networktype="Advanced",
        dns1="192.0.2.53",
        internaldns1="10.0.0.53",
    )
    account = await api(
        client, creds, "createAccount", accounttype="0", account="bench", **user_fields("bench-0")
    )
    domain_id = account["account"]["domainid"]
    gate = asyncio.Semaphore(concurrency)

    async def create(index: int) -> None:
        async with gate:
            fields = user_fields(f"bench-{index}")
            await api(client, creds, "createUser", account="bench", domainid=domain_id, **fields)

    await asyncio.gather(*(create(index) for index in range(1, users)))


async def measure(
    client: httpx.AsyncClient,
    scenario: str,
    request: Callable[[], Params],
    requests: int,
    concurrency: int,
) -> Measurement:
    """Send ``requests`` requests, ``concurrency`` at a time; time each one and the whole."""
    latencies: list[float] = []
    errors = 0
    remaining = requests

    async def worker() -> None:
        nonlocal errors, remaining
        while remaining > 0:
            remaining -= 1
            params = request()
            started = time.perf_counter()
            response = await client.get("/client/api", params=params)
            latencies.append(time.perf_counter() - started)
            errors += response.status_code != 200

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Measurement(scenario, requests, errors, time.perf_counter() - started, latencies)


async def run(server: LiveServer, args: argparse.Namespace) -> list[Measurement]:
    admin = server.admin
    creds = Credentials(admin["apikey"], admin["secretkey"])
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    base_url = f"http://127.0.0.1:{server.port}"
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        started = time.perf_counter()
        await populate(client, creds, args.users, min(args.concurrency, 8))
        print(f"set-up: 1 zone, {args.users} users in {time.perf_counter() - started:.1f} s")
        page = await api(client, creds, "listUsers", listall="true", page="1", pagesize="500")
        print(f"listUsers page 1: {len(page['user'])} of {page['count']} users")

        scenarios: list[tuple[str, Callable[[], Params]]] = [
            ("listZones (signed)", lambda: creds.sign("listZones", {})),
            (
                "listUsers listall pagesize=500",
                lambda: creds.sign(
                    "listUsers", {"listall": "true", "page": "1", "pagesize": "500"}
                ),
            ),
        ]
        results = []
        for scenario, request in scenarios:
            await measure(client, scenario, request, args.warmup, args.concurrency)
            results.append(
                await measure(client, scenario, request, args.requests, args.concurrency)
            )
        return results


def print_table(results: list[Measurement], workers: int, concurrency: int) -> None:
    header = (
        f"{'scenario':<32} {'workers':>7} {'conc.':>5} {'requests':>8} {'errors':>6} "
        f"{'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}"
    )
    print(header)
    print("-" * len(header))
    for m in results:
        print(
            f"{m.scenario:<32} {workers:>7} {concurrency:>5} {m.requests:>8} {m.errors:>6} "
            f"{m.per_second:>8.0f} {m.percentile(50):>8.1f} {m.percentile(99):>8.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=1, help="alto server --workers")
    parser.add_argument("--requests", type=int, default=2000, help="measured requests each")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument("--users", type=int, default=1000, help="users to create")
    parser.add_argument("--warmup", type=int, default=100, help="unmeasured requests first")
    args = parser.parse_args()
    if args.requests < 2 or args.warmup < 1 or args.concurrency < 1:
        parser.error("--requests must be at least 2, --warmup and --concurrency at least 1")

    with tempfile.TemporaryDirectory(prefix="alto-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        with LiveServer(data_dir, args=("--workers", str(args.workers))) as server:
            print(f"server: {server.endpoint}, {args.workers} worker(s), {os.cpu_count()} CPUs")
            results = asyncio.run(run(server, args))
    print()
    print_table(results, args.workers, args.concurrency)


if __name__ == "__main__":
    main()
