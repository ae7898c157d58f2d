"""Events published per second to RabbitMQ, with publisher confirms, from the outbox.

Starts its own RabbitMQ node on loopback (Debian's ``rabbitmq-server``, as the tests
do: ``tests/support/rabbitmq.py``) and a runtime on a fresh SQLite database in a
temporary directory (or ``--database-url``, which must be empty). For each batch size,
records ``--events`` events (as services record them), binds a durable queue to ``#``
(so every message is routed and persisted: what a broker with a consumer does), then
times the publisher's rounds (``services.events.bus``: read a batch, publish it with
confirms, mark it sent) until the outbox is empty, and checks the queue holds them all.

    uv run python bench/event_bus_bench.py [--events 5000] [--batches 50,200,1000]
        [--database-url postgresql://...]

The broker, the database and this process share the machine: figures are a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import aio_pika

from altostratus.core.worker import run_round
from altostratus.runtime import Runtime
from altostratus.services.events.bus import EventBusPublisher, broker_urls
from altostratus.services.infrastructure.hosts import system_context
from altostratus.services.shared.events import record_event
from altostratus.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.rabbitmq import RabbitBroker

_RECORD_CHUNK = 500


async def _record(runtime: Runtime, count: int) -> None:
    for start in range(0, count, _RECORD_CHUNK):
        async with runtime.db.transaction() as session:
            ctx = await system_context(session, runtime.deps)
            for n in range(start, min(count, start + _RECORD_CHUNK)):
                await record_event(ctx, "VM.CREATE", f"bench {n}", resource_type="VirtualMachine")


async def _queue_depth(url: str, name: str) -> int:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, durable=True, passive=True)
        depth = queue.declaration_result.message_count or 0
        await queue.delete(if_empty=False)
        return depth


async def _bind(url: str, exchange_name: str, name: str) -> None:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(name, durable=True)
        await queue.bind(exchange, "#")


async def _run(args: argparse.Namespace, broker: RabbitBroker, data_dir: Path) -> None:
    print(f"{'batch':>6} {'events':>8} {'seconds':>8} {'events/s':>10} {'in queue':>9}")
    for batch in args.batches:
        settings = Settings(
            data_dir=data_dir / f"b{batch}",
            database_url=args.database_url,
            event_bus_url=broker.url,
            event_bus_batch=batch,
            background_workers=False,
            compute_workers=False,
        )
        runtime = await Runtime.start(settings)
        publisher = EventBusPublisher(runtime.db, runtime.deps, broker_urls(runtime.deps))
        try:
            await run_round(publisher)  # the bootstrap's events, and the connection
            queue = f"bench-{batch}"
            await _bind(broker.url, settings.event_bus_exchange, queue)
            await _record(runtime, args.events)
            started = time.perf_counter()
            published = 0
            while published < args.events:
                tick = await run_round(publisher)
                published += int(tick.sentence.split()[1])
            seconds = time.perf_counter() - started
            depth = await _queue_depth(broker.url, queue)
            rate = args.events / seconds
            print(f"{batch:>6} {args.events:>8} {seconds:>8.2f} {rate:>10,.0f} {depth:>9}")
        finally:
            await publisher.close()
            await runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument(
        "--batches", type=lambda v: [int(b) for b in v.split(",")], default=[50, 200, 1000]
    )
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    broker = RabbitBroker()
    broker.start()
    try:
        with tempfile.TemporaryDirectory(prefix="alto-evbench-") as tmp:
            asyncio.run(_run(args, broker, Path(tmp)))
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
