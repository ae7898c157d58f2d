"""The event bus: consumers written for CloudStack's RabbitMQ bus get what they bound to,
and a broker outage loses nothing (``services/events/bus.py``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractChannel, AbstractQueue
from starlette.applications import Starlette

from altostratus.core.worker import run_round
from altostratus.db.models import new_uuid
from altostratus.runtime import Runtime
from altostratus.services.events.bus import EventBusPublisher, broker_urls
from altostratus.services.infrastructure.hosts import system_context
from altostratus.services.shared.events import record_event
from altostratus.settings import Settings
from tests.conftest import BACKENDS, Template
from tests.conftest import test_settings as settings_for
from tests.support.client import ApiClient
from tests.support.rabbitmq import RabbitBroker

EXCHANGE = "cloudstack-events"


@pytest.fixture
def settings(
    database: tuple[str, Template], tmp_path: Path, key_file: Path, rabbit: RabbitBroker
) -> Settings:
    # A dead broker first: the publisher must go on to the next one of the cluster.
    dead = f"amqp://guest:guest@127.0.0.1:{rabbit.port + 1}/"
    return settings_for(
        tmp_path / "data", database[0], key_file, event_bus_url=f"{dead},{rabbit.url}"
    )


@pytest.fixture
async def channel(rabbit: RabbitBroker) -> AsyncIterator[AbstractChannel]:
    connection = await aio_pika.connect(rabbit.url)
    async with connection:
        yield await connection.channel()


@pytest.fixture
async def publisher(app: Starlette) -> AsyncIterator[EventBusPublisher]:
    """The publisher as ``workers.event_workers`` builds it; the test runs its rounds."""
    runtime: Runtime = app.state.runtime
    worker = EventBusPublisher(runtime.db, runtime.deps, broker_urls(runtime.deps))
    yield worker
    await worker.close()


async def bound_queue(channel: AbstractChannel, *keys: str, durable: bool = False) -> AbstractQueue:
    exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(
        f"test-{new_uuid()}" if durable else "", durable=durable, exclusive=not durable
    )
    for key in keys:
        await queue.bind(exchange, key)
    return queue


async def drain(queue: AbstractQueue) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Every message in the queue now (a confirmed message is already in it)."""
    messages = []
    while (message := await queue.get(no_ack=True, fail=False)) is not None:
        messages.append(message)
    return messages


async def metrics(http: httpx.AsyncClient) -> str:
    return (await http.get("/metrics")).text


def metric(text: str, name: str) -> float:
    """The event bus's ``altostratus_event_outbox_<name>`` in a /metrics answer."""
    prefix = f'altostratus_event_outbox_{name}{{consumer="event-bus"}} '
    [line] = [line for line in text.splitlines() if line.startswith(prefix)]
    return float(line.removeprefix(prefix))


async def record(app: Starlette, *changes: tuple[str, str, str]) -> None:
    """Events (type, resource type, resource UUID) as services record them, in order."""
    runtime: Runtime = app.state.runtime
    async with runtime.db.transaction() as session:
        ctx = await system_context(session, runtime.deps)
        for event_type, resource_type, resource_uuid in changes:
            await record_event(
                ctx, event_type, "test", resource_type=resource_type, resource_uuid=resource_uuid
            )


async def test_consumers_get_what_their_binding_keys_ask_for(
    app: Starlette, api: ApiClient, channel: AbstractChannel, publisher: EventBusPublisher
) -> None:
    creates = await bound_queue(channel, "management-server.ActionEvent.VM-CREATE.*.*")
    volumes = await bound_queue(channel, "#.Volume.#")
    vm, volume = new_uuid(), new_uuid()
    await record(
        app,
        ("VM.CREATE", "VirtualMachine", vm),
        ("VOLUME.CREATE", "Volume", volume),
        ("VM.STOP", "VirtualMachine", vm),
        ("VOLUME.DELETE", "Volume", volume),
    )
    domain = await api.ok("createDomain", name="evbus")  # an event from a real command

    tick = await run_round(publisher)

    assert tick.sentence == "published 5 event(s)"
    [created] = await drain(creates)
    assert created.routing_key == f"management-server.ActionEvent.VM-CREATE.VirtualMachine.{vm}"
    body = json.loads(created.body)
    assert body["event"] == "VM.CREATE"
    assert body["entity"] == "VirtualMachine"
    assert body["entityuuid"] == vm
    assert body["status"] == "Completed"
    assert {"user", "account", "description", "eventDateTime"} <= body.keys()
    assert created.message_id == body["eventuuid"]
    listed = await api.ok("listEvents", id=body["eventuuid"])
    assert listed["event"][0]["type"] == "VM.CREATE"
    assert [json.loads(m.body)["event"] for m in await drain(volumes)] == [
        "VOLUME.CREATE",
        "VOLUME.DELETE",
    ]
    everything = await bound_queue(channel, "#")
    await record(app, ("VM.START", "VirtualMachine", vm))
    await run_round(publisher)
    # Published once: the earlier events (and createDomain's) are not sent again.
    [again] = await drain(everything)
    assert json.loads(again.body)["event"] == "VM.START"
    assert domain["domain"]["name"] == "evbus"


# A broker restart takes seconds: once, on the production backend when there is one.
@pytest.mark.parametrize("database", [BACKENDS[-1]], indirect=True)
async def test_a_broker_outage_loses_nothing_and_keeps_each_resources_order(
    app: Starlette,
    http: httpx.AsyncClient,
    rabbit: RabbitBroker,
    channel: AbstractChannel,
    publisher: EventBusPublisher,
) -> None:
    queue = await bound_queue(channel, "#", durable=True)
    worker = publisher
    resources = [new_uuid() for _ in range(3)]
    expected: list[tuple[str, str]] = []

    async def burst(start: int, count: int = 30) -> None:
        changes = [
            (f"VM.STEP{start + step}", "VirtualMachine", resources[step % 3])
            for step in range(count)
        ]
        expected.extend((uuid, event_type) for event_type, _, uuid in changes)
        await record(app, *changes)

    await burst(0)
    await run_round(worker)
    await burst(30, 300)
    # The broker goes away while that burst is being published (or just after).
    await asyncio.gather(run_round(worker), asyncio.to_thread(rabbit.stop_server))
    try:
        await burst(330)
        tick = await run_round(worker)
        assert tick.sentence.startswith("no broker took the events")
        assert metric(await metrics(http), "backlog") >= 30
        assert metric(await metrics(http), "lag_seconds") > 0
        await burst(360)
    finally:
        rabbit.start()
    while not (await run_round(worker)).sentence.startswith("published"):
        pass  # the first round after the restart may still hold the dead connection
    assert metric(await metrics(http), "backlog") == 0

    connection = await aio_pika.connect(rabbit.url)  # the test's first one died with the broker
    async with connection:
        consumer = await connection.channel()
        survived = await consumer.get_queue(queue.name)
        messages = await drain(survived)
        await survived.delete()
    seen: dict[str, tuple[str, str]] = {}
    for message in messages:
        body = json.loads(message.body)
        assert message.message_id == body["eventuuid"]
        seen.setdefault(body["eventuuid"], (body["entityuuid"], body["event"]))
    arrived = list(seen.values())  # duplicates dropped by UUID, first arrival kept
    assert sorted(arrived) == sorted(expected)
    for resource in resources:
        assert [e for e in arrived if e[0] == resource] == [e for e in expected if e[0] == resource]
