"""Requests per second and latency of the API under ``wrk``, 1 and 2 server workers.

``api_bench.py`` drives the server from Python, which takes half the CPU of a 2-core
machine away from the server it measures. This bench drives it with ``wrk`` (Debian's C
load generator, installed with ``apt-get`` when missing and run as root) over
keep-alive connections, for each database (SQLite, and PostgreSQL when Debian's
binaries are there) and each worker count:

- ``401 expired signature``: the cheapest answer, refused before any database work:
  the floor of the HTTP path (parsing, middleware, one JSON error). The multi-worker
  40 ms stall of Nagle's algorithm against delayed ACKs showed here first.
- ``listZones (signed)``: authentication, dispatch and a tiny query.
- ``listUsers listall pagesize=500``: a full page of 500 users out of 1,000.

Every URL is signed once the way ``cs`` signs (version 3, ``expires`` ten minutes
ahead), so wrk repeats one valid request. ``--profile DIR`` also records each scenario
with py-spy (``--subprocesses``, every worker) and prints where the time went.

    uv run python bench/api_wrk_bench.py [--workers 1,2] [--seconds 10] [--connections 16]
        [--no-postgres] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx

from altostratus.security.signatures import sign

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_bench import Credentials, api, populate

from tests.support.postgres import TemporaryPostgres, find_pg_bin
from tests.support.server import LiveServer

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


@dataclass(frozen=True)
class Figure:
    database: str
    workers: int
    scenario: str
    per_second: float
    p50_ms: float
    p99_ms: float
    unexpected: int


def wrk_binary() -> str:
    """Debian's wrk, installed on first use (the bench machines have the registries)."""
    found = shutil.which("wrk")
    if found is None:
        if os.geteuid() != 0:
            raise SystemExit("wrk is missing: apt-get install wrk (or run this bench as root)")
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
        found = shutil.which("wrk")
    assert found is not None
    return found


def run_wrk(wrk: str, url: str, seconds: int, connections: int) -> tuple[float, float, float, int]:
    """req/s, p50 ms, p99 ms, and the count of answers that were not 2xx/3xx."""
    output = subprocess.run(
        [wrk, f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", output, re.MULTILINE))
    if rate is None or set(percentiles) != {"50", "99"}:
        raise SystemExit(f"unexpected wrk output:\n{output}")
    unexpected = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return (
        float(rate.group(1)),
        _milliseconds(percentiles["50"]),
        _milliseconds(percentiles["99"]),
        int(unexpected.group(1)) if unexpected else 0,
    )


def _milliseconds(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def scenario_urls(base: str, creds: Credentials) -> list[tuple[str, str, bool]]:
    """(scenario, URL, whether it should answer 200)."""
    expired = {
        "command": "listZones",
        "response": "json",
        "apikey": creds.api_key,
        "signatureversion": "3",
        "expires": (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S+0000"),
    }
    expired["signature"] = sign(expired, creds.secret_key)
    page = {"listall": "true", "page": "1", "pagesize": "500"}
    return [
        ("401 expired signature", f"{base}?{urlencode(expired)}", False),
        ("listZones (signed)", f"{base}?{urlencode(creds.sign('listZones', {}))}", True),
        (
            "listUsers listall pagesize=500",
            f"{base}?{urlencode(creds.sign('listUsers', page))}",
            True,
        ),
    ]


async def prepare(server: LiveServer, users: int) -> Credentials:
    creds = Credentials(server.admin["apikey"], server.admin["secretkey"])
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=60) as c:
        await populate(c, creds, users, 8)
        page = await api(c, creds, "listUsers", listall="true", page="1", pagesize="500")
        if len(page["user"]) != min(500, page["count"]):
            raise SystemExit(f"listUsers returned {len(page['user'])} of {page['count']} users")
    return creds


@contextmanager
def profiled(pid: int, seconds: int, path: Path | None) -> Iterator[None]:
    """py-spy over the server and its workers while the block runs."""
    if path is None:
        yield
        return
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    command = [spy, "record", "--pid", str(pid), "--subprocesses", "--format", "raw"]
    command += ["--duration", str(seconds), "--output", str(path), "--nonblocking"]
    recorder = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        recorder.wait(timeout=seconds + 30)


#: Frames that run a request (the ASGI cycle) or a statement (aiosqlite's thread running
#: one call; its idle wait on the queue is another line of the same function).
_SERVING = ("RequestResponseCycle.run_asgi", "_connection_worker_thread (aiosqlite/core.py:63)")
#: Whose functions a summary names: the server's and the libraries on its request path.
_NAMED = ("altostratus/", "sqlalchemy/", "aiosqlite/", "asyncpg/", "h11", "cryptography/")


def print_profile(path: Path, top: int = 15) -> None:
    """Shares of the samples that serve requests, per function, inclusive (anywhere on
    the stack), from py-spy's collapsed stacks: where a request spends its time."""
    if not path.exists():
        print(f"  (no profile written to {path})")
        return
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")[1:]  # the first is the process
        if not any(marker in frame for frame in frames for marker in _SERVING):
            continue
        total += int(count)
        for function in {re.sub(r":\d+\)$", ")", frame) for frame in frames}:
            if any(library in function for library in _NAMED):
                inclusive[function] += int(count)
    print(f"  profile {path.name}: {total} samples serving requests")
    for function, samples in inclusive.most_common(top):
        print(f"    {100 * samples / max(total, 1):5.1f}%  {function}")


def bench_server(
    database: str,
    database_url: str | None,
    workers: int,
    args: argparse.Namespace,
    wrk: str,
) -> list[Figure]:
    figures = []
    with tempfile.TemporaryDirectory(prefix="alto-wrk-") as tmp:
        live = LiveServer(
            Path(tmp) / "data", database_url=database_url, args=("--workers", str(workers))
        )
        with live as server:
            creds = asyncio.run(prepare(server, args.users))
            for scenario, url, ok in scenario_urls(server.endpoint, creds):
                run_wrk(wrk, url, 2, args.connections)  # warm-up
                slug = re.sub(r"\W+", "-", f"{database}-{workers}w-{scenario}").strip("-")
                profile = args.profile / f"{slug}.txt" if args.profile else None
                with profiled(server.process.pid, args.seconds, profile):
                    rate, p50, p99, non2xx = run_wrk(wrk, url, args.seconds, args.connections)
                figure = Figure(database, workers, scenario, rate, p50, p99, non2xx if ok else 0)
                figures.append(figure)
                print(f"{database} {workers}w {scenario}: {rate:.0f} req/s, p99 {p99:.1f} ms")
                if profile is not None:
                    print_profile(profile)
    return figures


def print_table(figures: list[Figure], connections: int) -> None:
    header = (
        f"{'database':<10} {'workers':>7} {'scenario':<32} {'req/s':>8} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>7}"
    )
    print(f"\nwrk -t{min(2, connections)} -c{connections}, {os.cpu_count()} CPUs")
    print(header)
    print("-" * len(header))
    for f in figures:
        print(
            f"{f.database:<10} {f.workers:>7} {f.scenario:<32} {f.per_second:>8.0f} "
            f"{f.p50_ms:>8.2f} {f.p99_ms:>8.2f} {f.unexpected:>7}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument("--seconds", type=int, default=10, help="measured seconds each")
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections")
    parser.add_argument("--users", type=int, default=1000, help="users created first")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--profile", type=Path, help="write py-spy profiles to this folder")
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    wrk = wrk_binary()
    worker_counts = [int(count) for count in args.workers.split(",")]
    figures: list[Figure] = []
    for workers in worker_counts:
        figures += bench_server("sqlite", None, workers, args, wrk)
    pg_bin = find_pg_bin()
    if pg_bin is None or args.no_postgres:
        print("PostgreSQL: skipped (no binaries or --no-postgres)")
    else:
        postgres = TemporaryPostgres(pg_bin)
        postgres.start()
        try:
            for workers in worker_counts:
                url = postgres.create_database(f"wrk{workers}")
                figures += bench_server("postgresql", url, workers, args, wrk)
        finally:
            postgres.stop()
    print_table(figures, args.connections)


if __name__ == "__main__":
    main()
