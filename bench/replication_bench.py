"""Replication between three real regions on loopback: lag, join time, catch-up time.

Builds a federation the documented way (region 1 starts; regions 2 and 3 ``alto region
join`` and start; SQLite each, in a temporary directory) and measures:

- **lag**: ``--changes`` updates of one user made in region 1, one at a time; for each,
  the time from region 1's answer (the commit) until ``listUsers`` in region 2 and in
  region 3 shows it (polled every ``--poll`` seconds, so lag is overstated by up to that).
- **join**: region 1 gets ``--users`` users (written straight into its database while it
  is stopped, cheap hashes); then the time for a new region 4 to ``alto region join`` and
  start until its API lists them all.
- **catch-up**: with region 3 stopped, ``--pending`` user updates are written in region 1
  (straight into its database, logged by the outbox as any change is); once region 2 has
  them, region 1 stops and region 3 starts; the time until region 3 holds them all.

    uv run python bench/replication_bench.py                       # 1,000 / 10,000 / 10,000
    uv run python bench/replication_bench.py --changes 100 --users 1000 --pending 1000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.db.engine import Database
from altostratus.db.models import Account, ReplicationVector, User
from altostratus.runtime import Runtime

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.federation.support import (
    LiveRegion,
    admin_keys,
    call_ok,
    live_federation,
    region_settings,
    stop_all,
)
from tests.support.postgres import free_port


def wait_for(check: Callable[[], bool], poll: float, timeout: float = 600.0) -> float:
    """Seconds until ``check()`` is true."""
    start = time.perf_counter()
    while not check():
        if time.perf_counter() - start > timeout:
            raise SystemExit("timed out waiting for replication")
        time.sleep(poll)
    return time.perf_counter() - start


def percentile(values: list[float], p: int) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[p - 1]
        if len(values) > 1
        else values[0]
    )


def measure_lag(regions: list[LiveRegion], changes: int, poll: float) -> list[float]:
    r1, r2, r3 = regions
    admin = admin_keys(r1)
    user = call_ok(r1.endpoint, admin, "listUsers", username="admin", listall="true")["user"][0]
    lags: list[float] = []
    for index in range(changes):
        value = f"v{index}"
        call_ok(r1.endpoint, admin, "updateUser", id=user["id"], firstname=value)
        committed = time.perf_counter()
        for region in (r2, r3):

            def seen(region: LiveRegion = region, value: str = value) -> bool:
                found = call_ok(region.endpoint, admin, "listUsers", id=user["id"], listall="true")
                return bool(found["user"][0]["firstname"] == value)

            wait_for(seen, poll)
            lags.append(time.perf_counter() - committed)
    return lags


Change = Callable[[AsyncSession, Runtime], Awaitable[None]]


async def _write_in_region(data_dir: Path, region_id: int, change: Change) -> None:
    """Run ``change(session, runtime)`` in a normal (logged) transaction of a stopped region."""
    runtime = await Runtime.start(region_settings(data_dir, region_id))
    try:
        async with runtime.db.transaction() as session:
            await change(session, runtime)
    finally:
        await runtime.close()


async def _add_users(session: AsyncSession, runtime: Runtime, count: int) -> None:
    admin = await session.scalar(select(User).where(User.username == "admin"))
    assert admin is not None
    account = await session.get(Account, admin.account_id)
    assert account is not None
    password_hash = await runtime.deps.passwords.hash("Bench-password-1")
    session.add_all(
        User(
            username=f"bench-{index}",
            account_id=account.id,
            domain_id=account.domain_id,
            password_hash=password_hash,
            firstname="Bench",
            lastname="User",
            email=f"bench-{index}@bench.example",
        )
        for index in range(count)
    )


async def _touch_users(session: AsyncSession, _runtime: Runtime, count: int) -> None:
    users = (
        await session.scalars(select(User).where(User.username.like("bench-%")).limit(count))
    ).all()
    if len(users) < count:
        raise SystemExit(f"--pending {count} needs at least as many --users")
    for user in users:
        user.lastname = "Changed"


def _user_count(region: LiveRegion) -> int:
    answer = call_ok(
        region.endpoint, admin_keys(region), "listUsers", listall="true", pagesize="1", page="1"
    )
    return int(answer.get("count", 0))


def _vector(region: LiveRegion) -> dict[int, int]:
    async def read() -> dict[int, int]:
        db = Database(region.url)
        try:
            async with db.transaction(write=False) as session:
                return {r.origin: r.seq for r in await session.scalars(select(ReplicationVector))}
        finally:
            await db.close()

    return asyncio.run(read())


def measure_join(regions: list[LiveRegion], tmp: Path, users: int, poll: float) -> float:
    r1 = regions[0]
    r1.stop()
    asyncio.run(_write_in_region(r1.data_dir, 1, lambda s, rt: _add_users(s, rt, users)))
    r1.start()
    expected = _user_count(r1)
    new = LiveRegion(4, tmp / "r4", free_port())
    regions.append(new)
    start = time.perf_counter()
    new.join(regions[2], admin_keys(r1))
    new.start()
    wait_for(lambda: _user_count(new) == expected, poll)
    return time.perf_counter() - start


def measure_catch_up(regions: list[LiveRegion], pending: int, poll: float) -> float:
    r1, r2, r3 = regions[:3]
    r3.stop()
    r1.stop()
    asyncio.run(_write_in_region(r1.data_dir, 1, lambda s, rt: _touch_users(s, rt, pending)))
    r1.start()
    target = _vector(r1)[1]
    wait_for(lambda: _vector(r2).get(1, 0) >= target, poll)
    r1.stop()  # region 3 must catch up from region 2
    start = time.perf_counter()
    r3.start()
    wait_for(lambda: _vector(r3).get(1, 0) >= target, poll)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=1000, help="changes timed for lag")
    parser.add_argument("--users", type=int, default=10_000, help="users a new region joins with")
    parser.add_argument("--pending", type=int, default=10_000, help="changes missed in a partition")
    parser.add_argument(
        "--poll", type=float, default=0.002, help="seconds between visibility polls"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="alto-repl-bench-") as tmp:
        regions = live_federation(Path(tmp), 3)
        try:
            lags = measure_lag(regions, args.changes, args.poll)
            join = measure_join(regions, Path(tmp), args.users, args.poll)
            catch_up = measure_catch_up(regions, args.pending, max(args.poll, 0.05))
        finally:
            stop_all(regions)
    rows = [
        (f"lag p50 (ms), {args.changes} changes x 2 regions", f"{percentile(lags, 50) * 1000:.1f}"),
        ("lag p99 (ms)", f"{percentile(lags, 99) * 1000:.1f}"),
        (f"join with {args.users} users (s)", f"{join:.2f}"),
        (f"catch-up of {args.pending} pending changes (s)", f"{catch_up:.2f}"),
    ]
    print(f"{'measurement':<46} {'value':>10}")
    for name, value in rows:
        print(f"{name:<46} {value:>10}")


if __name__ == "__main__":
    main()
