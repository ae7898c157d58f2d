"""Webhook deliveries per second: outbox events to a real HTTP receiver on loopback.

A runtime on a fresh SQLite database in a temporary directory (or ``--database-url``,
which must be empty), one Global webhook with a secret key (every delivery signed),
pointing at the tests' threaded receiver (``tests/support/receiver.py``, answering 200)
run in a process of its own (in this one it would compete for the GIL with the worker).
For each concurrency, records ``--events`` events as services do, then times the
webhook worker's rounds (``services.events.dispatch``: take the events, record one
delivery each, send ``webhook_concurrency`` at once, record every attempt) until every
delivery is done, and counts the successful ones.

    uv run python bench/webhook_bench.py [--events 2000] [--concurrency 1,16,64]
        [--database-url postgresql://...]

The receiver, the database and this process share the machine: figures are a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import ColumnElement, func, select

from altostratus.core.worker import run_round
from altostratus.db.models import DeliveryState, WebhookDelivery, WebhookScope, WebhookState
from altostratus.runtime import Runtime
from altostratus.services.events.dispatch import WebhookWorker
from altostratus.services.events.webhooks import create_webhook
from altostratus.services.infrastructure.hosts import system_context
from altostratus.services.shared.events import record_event
from altostratus.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

_RECEIVER = """
import sys
from tests.support.receiver import receiving
with receiving() as receiver:
    print(receiver.url, flush=True)
    sys.stdin.read()
"""

_RECORD_CHUNK = 500


async def _setup(runtime: Runtime, url: str, events: int) -> None:
    async with runtime.db.transaction() as session:
        ctx = await system_context(session, runtime.deps)
        await create_webhook(
            ctx,
            name="bench",
            description=None,
            payload_url=url,
            secret_key="bench-secret",
            ssl_verification=False,
            scope=WebhookScope.GLOBAL,
            state=WebhookState.ENABLED,
            account=None,
            domain_uuid=None,
            project_uuid=None,
        )
    for start in range(0, events, _RECORD_CHUNK):
        async with runtime.db.transaction() as session:
            ctx = await system_context(session, runtime.deps)
            for n in range(start, min(events, start + _RECORD_CHUNK)):
                await record_event(ctx, "VM.CREATE", f"bench {n}", resource_type="VirtualMachine")


async def _count(runtime: Runtime, *where: ColumnElement[bool]) -> int:
    async with runtime.db.transaction(write=False) as session:
        count = await session.scalar(
            select(func.count()).select_from(WebhookDelivery).where(*where)
        )
        return int(count or 0)


async def _run(args: argparse.Namespace, url: str, data_dir: Path) -> None:
    print(f"{'concurrency':>11} {'delivered':>10} {'seconds':>8} {'per second':>10}")
    for concurrency in args.concurrency:
        settings = Settings(
            data_dir=data_dir / f"c{concurrency}",
            database_url=args.database_url,
            webhook_concurrency=concurrency,
            background_workers=False,
            compute_workers=False,
        )
        runtime = await Runtime.start(settings)
        worker = WebhookWorker(runtime.db, runtime.deps)
        try:
            await _setup(runtime, url, args.events)
            started = time.perf_counter()
            await run_round(worker)
            while await _count(runtime, WebhookDelivery.state == DeliveryState.PENDING):
                await run_round(worker)
            seconds = time.perf_counter() - started
            received = await _count(runtime, WebhookDelivery.success.is_(True))
            print(f"{concurrency:>11} {received:>10} {seconds:>8.2f} {received / seconds:>10,.0f}")
        finally:
            await worker.close()
            await runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument(
        "--concurrency", type=lambda v: [int(c) for c in v.split(",")], default=[1, 16, 64]
    )
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    root = str(Path(__file__).resolve().parents[1])
    receiver = subprocess.Popen(
        [sys.executable, "-c", _RECEIVER], cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert receiver.stdout is not None
        url = receiver.stdout.readline().decode().strip()
        with tempfile.TemporaryDirectory(prefix="alto-hookbench-") as tmp:
            asyncio.run(_run(args, url, Path(tmp)))
    finally:
        receiver.terminate()
        receiver.wait()


if __name__ == "__main__":
    main()
