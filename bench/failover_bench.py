"""How long writes stop, and whether any acknowledged one is lost, when the primary dies.

For each Patroni settings triple (ttl/loop_wait/retry_timeout; synchronous strict mode
and the other settings of ``shared/reference/postgres-ha.md`` stay fixed) the bench
starts an HA cluster on loopback (``tests/support/ha_cluster.py``: etcd and three
PostgreSQL nodes under Patroni, from Debian's packages). A writer inserts uuid rows one
at a time through the multi-host URL (``target_session_attrs=read-write``, 1 s connect
timeout), as the application does, and records every acknowledged one; on a connection
error it retries the same row (``ON CONFLICT``: an ambiguous commit may have gone
through) after a backoff of 100 ms doubling to 1 s. Then the leader is hit:

- ``kill_node``: Patroni and PostgreSQL SIGKILLed, as when a machine dies; the leader
  key stays in etcd until the ttl runs out;
- ``kill_postgres``: the postmaster only; Patroni lives on and hands over.

It prints, per settings and fault: the seconds from the fault to the first acknowledged
write started after it, the acknowledged writes, and how many of them are missing from
the new primary afterwards (must be 0).

    uv run python bench/failover_bench.py [--settings 10/1/4 --settings 20/2/9 ...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID, uuid4

import asyncpg
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.ha_cluster import (
    FAILOVER_ERRORS,
    PatroniCluster,
    PatroniSettings,
    connect_retrying,
    ha_missing,
)

DEFAULT_SETTINGS = ("30/10/10", "20/2/9", "10/1/4")
FAULTS = ("kill_node", "kill_postgres")
CONNECT_TIMEOUT = 1.0
#: A commit waits for the synchronous standby; past this it counts as a lost connection.
COMMAND_TIMEOUT = 5.0
FIRST_DELAY = 0.1
MAX_DELAY = 1.0


@dataclass(frozen=True)
class Ack:
    row: UUID
    started: float  # when the attempt that got the acknowledgement began
    acked: float
    port: int  # of the PostgreSQL server that committed it


@dataclass
class Writer:
    """One connection inserting rows back to back, reconnecting through failures."""

    url: str
    acks: list[Ack] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    #: Set by ``mark_fault``. Recovery is the first write begun after it that another
    #: server commits: the old primary may still acknowledge a few while it is killed.
    fault: tuple[float, int] | None = None
    recovery: Ack | None = None
    recovered: asyncio.Event = field(default_factory=asyncio.Event)

    def mark_fault(self, old_port: int) -> float:
        self.fault = (time.monotonic(), old_port)
        return self.fault[0]

    def _record(self, ack: Ack) -> None:
        self.acks.append(ack)
        if self.fault and not self.recovery:
            fault_at, old_port = self.fault
            if ack.started >= fault_at and ack.port != old_port:
                self.recovery = ack
                self.recovered.set()

    async def run(self, stop: asyncio.Event) -> None:
        connection: asyncpg.Connection | None = None
        row = uuid4()
        delay = FIRST_DELAY
        while not stop.is_set():
            started = time.monotonic()
            try:
                if connection is None:
                    connection = await asyncpg.connect(self.url, timeout=CONNECT_TIMEOUT)
                port = await connection.fetchval(
                    # Idempotent, and it returns a row even when the row is in already.
                    "INSERT INTO acked (id) VALUES ($1)"
                    " ON CONFLICT (id) DO UPDATE SET id = excluded.id"
                    " RETURNING inet_server_port()",
                    row,
                    timeout=COMMAND_TIMEOUT,
                )
            except FAILOVER_ERRORS as error:
                self.failures[type(error).__name__] += 1
                if connection is not None:
                    connection.terminate()
                    connection = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_DELAY)
                continue
            self._record(Ack(row, started, time.monotonic(), port))
            row = uuid4()
            delay = FIRST_DELAY
        if connection is not None:
            await connection.close()


@dataclass(frozen=True)
class Outcome:
    settings: str
    fault: str
    recovery: float | None  # None: no acknowledged write within the limit
    acked: int
    lost: int
    failures: Counter[str]


async def count_missing(url: str, rows: list[UUID]) -> int:
    connection = await connect_retrying(url)
    try:
        missing = await connection.fetchval(
            "SELECT count(*) FROM unnest($1::uuid[]) AS a(id)"
            " WHERE NOT EXISTS (SELECT 1 FROM acked WHERE acked.id = a.id)",
            rows,
        )
    finally:
        await connection.close()
    return int(missing)


async def measure(
    cluster: PatroniCluster, fault: str, leader: int, args: argparse.Namespace
) -> Outcome:
    """Write for ``--warmup`` s, hit the leader, write until ``--after`` s past recovery."""
    writer = Writer(cluster.url)
    stop = asyncio.Event()
    task = asyncio.create_task(writer.run(stop))
    await asyncio.sleep(args.warmup)
    fault_at = writer.mark_fault(cluster.nodes[leader].pg_port)
    await asyncio.to_thread(getattr(cluster, fault), leader)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(writer.recovered.wait(), fault_at + args.limit - time.monotonic())
    await asyncio.sleep(args.after)
    stop.set()
    await task
    first = writer.recovery
    return Outcome(
        settings=cluster.settings.label,
        fault=fault,
        recovery=first.acked - fault_at if first else None,
        acked=len(writer.acks),
        lost=await count_missing(cluster.url, [ack.row for ack in writer.acks]),
        failures=writer.failures,
    )


async def create_table(url: str) -> None:
    connection = await connect_retrying(url)
    try:
        await connection.execute("CREATE TABLE acked (id uuid PRIMARY KEY)")
    finally:
        await connection.close()


def run_settings(
    settings: PatroniSettings, root: Path, args: argparse.Namespace, console: Console
) -> list[Outcome]:
    outcomes = []
    with PatroniCluster(root, settings) as cluster:
        asyncio.run(create_table(cluster.url))
        for fault in args.faults:
            leader = cluster.wait_healthy(timeout=120)
            outcome = asyncio.run(measure(cluster, fault, leader, args))
            console.log(f"{fault}: {render_recovery(outcome)} s to recover, {outcome.lost} lost")
            outcomes.append(outcome)
            cluster.restart_node(leader)
    return outcomes


def render_recovery(outcome: Outcome) -> str:
    return f"{outcome.recovery:.1f}" if outcome.recovery is not None else "none"


def render(outcomes: list[Outcome]) -> Table:
    table = Table(title="Failover: PostgreSQL under Patroni, 3 nodes, writer on the multi-host URL")
    table.add_column("settings (ttl/loop/retry)")
    table.add_column("fault")
    for column in ("first write after (s)", "acked writes", "acked writes lost", "failed tries"):
        table.add_column(column, justify="right")
    table.add_column("errors seen")
    for outcome in outcomes:
        table.add_row(
            outcome.settings,
            outcome.fault,
            render_recovery(outcome),
            str(outcome.acked),
            str(outcome.lost),
            str(outcome.failures.total()),
            ", ".join(f"{name} {count}" for name, count in outcome.failures.most_common()),
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--settings",
        action="append",
        metavar="TTL/LOOP_WAIT/RETRY_TIMEOUT",
        help=f"Patroni timings to try, repeatable (default: {' '.join(DEFAULT_SETTINGS)})",
    )
    parser.add_argument(
        "--faults", default=",".join(FAULTS), help="comma-separated, of: " + ", ".join(FAULTS)
    )
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of writes first")
    parser.add_argument("--after", type=float, default=3.0, help="seconds of writes at the end")
    parser.add_argument("--limit", type=float, default=120.0, help="give up on recovery after")
    parser.add_argument("--keep", action="store_true", help="keep the clusters' logs")
    args = parser.parse_args()
    args.faults = args.faults.split(",")
    if unknown := set(args.faults) - set(FAULTS):
        parser.error(f"unknown faults: {', '.join(sorted(unknown))}")
    if missing := ha_missing():
        sys.exit(f"needs Debian packages: apt-get install {' '.join(missing)}")

    # A log file gets the table at full width rather than wrapped at 80 columns.
    console = Console() if sys.stdout.isatty() else Console(width=160)
    root = Path(tempfile.mkdtemp(prefix="alto-failover-bench-"))
    root.chmod(0o755)  # the postgres user that runs Patroni must reach the clusters inside
    outcomes: list[Outcome] = []
    try:
        for number, triple in enumerate(args.settings or DEFAULT_SETTINGS):
            settings = PatroniSettings.from_triple(triple)
            console.log(f"cluster with {settings.label}")
            outcomes += run_settings(settings, root / f"cluster{number}", args, console)
    finally:
        if args.keep:
            console.log(f"logs in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    console.print(render(outcomes))


if __name__ == "__main__":
    main()
