"""Webhooks: who may create and see which, signed deliveries with retries, every
delivery recorded, and a receiver that never answers never holds the API."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from altostratus.core.worker import run_round, running
from altostratus.runtime import Runtime
from altostratus.services.events.dispatch import WebhookWorker
from altostratus.settings import Settings
from tests.conftest import Clients, Template
from tests.conftest import test_settings as settings_for
from tests.support.client import ApiClient
from tests.support.receiver import Receiver, receiving


@pytest.fixture
def settings(database: tuple[str, Template], tmp_path: Path, key_file: Path) -> Settings:
    return settings_for(
        tmp_path / "data",
        database[0],
        key_file,
        webhook_retry_delay=0.05,
        webhook_tries=3,
        webhook_timeout=60.0,
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as server:
        yield server


@pytest.fixture
async def worker(app: Starlette) -> AsyncIterator[WebhookWorker]:
    runtime: Runtime = app.state.runtime
    hooks = WebhookWorker(runtime.db, runtime.deps)
    yield hooks
    await hooks.close()


async def deliveries(client: ApiClient, **filters: Any) -> list[dict[str, Any]]:
    listed = await client.ok("listWebhookDeliveries", **filters)
    found: list[dict[str, Any]] = listed.get("webhookdelivery", [])
    return found


async def deliver_all(worker: WebhookWorker, client: ApiClient, webhook_id: str) -> None:
    """Worker rounds until every delivery of the webhook is Done (retries are due soon)."""
    await run_round(worker)
    while any(d["state"] == "Pending" for d in await deliveries(client, webhookid=webhook_id)):
        await asyncio.sleep(0.05)
        await run_round(worker)


async def test_deliveries_are_signed_retried_after_500_and_recorded(
    clients: Clients, receiver: Receiver, worker: WebhookWorker
) -> None:
    receiver.statuses = [500]
    hook = (
        await clients.alice.ok(
            "createWebhook", name="mine", payloadurl=receiver.url, secretkey="s3cret"
        )
    )["webhook"]
    assert hook["scope"] == "Local"
    assert hook["state"] == "Enabled"

    await deliver_all(worker, clients.alice, hook["id"])

    # Its own creation is an event of alice's account: delivered, after one 500.
    assert len(receiver.requests) == 2
    first, second = receiver.requests
    assert first.body == second.body
    expected = base64.b64encode(hmac.new(b"s3cret", second.body, hashlib.sha256).digest())
    assert second.headers["X-CS-Signature"] == expected.decode()
    body = json.loads(second.body)
    assert body["event"] == second.headers["X-CS-Event"] == "WEBHOOK.CREATE"
    assert body["eventuuid"] == second.headers["X-CS-Event-ID"]
    assert second.headers["User-Agent"] == f"CS-Hookshot/{body['account']}"
    [delivery] = await deliveries(clients.alice, webhookid=hook["id"])
    assert delivery["success"] is True
    assert delivery["attempts"] == 2
    assert delivery["responsecode"] == 200
    assert delivery["response"] == "answered 200"
    assert delivery["eventid"] == body["eventuuid"]
    assert delivery["payload"] == second.body.decode()
    assert "X-CS-Signature" in delivery["headers"]
    assert delivery["duration"] >= 0

    # Redelivered on request, then forgotten.
    again = (await clients.alice.ok("executeWebhookDelivery", id=delivery["id"]))["webhookdelivery"]
    assert again["state"] == "Pending"
    await deliver_all(worker, clients.alice, hook["id"])
    assert len(receiver.requests) == 3
    assert receiver.requests[2].body == second.body
    await clients.alice.ok("deleteWebhookDelivery", webhookid=hook["id"])
    assert await deliveries(clients.alice, webhookid=hook["id"]) == []


async def test_a_receiver_failing_every_try_is_recorded_as_failed(
    clients: Clients, receiver: Receiver, worker: WebhookWorker
) -> None:
    receiver.statuses = [500, 502, 503]
    hook = (await clients.bob.ok("createWebhook", name="down", payloadurl=receiver.url))["webhook"]
    await deliver_all(worker, clients.bob, hook["id"])
    [delivery] = await deliveries(clients.bob, webhookid=hook["id"])
    assert (delivery["success"], delivery["attempts"], delivery["responsecode"]) == (
        False,
        3,
        503,
    )
    assert "X-CS-Signature" not in receiver.requests[0].headers  # no secret, no signature


async def test_scopes_choose_which_events_each_webhook_receives(
    clients: Clients, api: ApiClient, receiver: Receiver, worker: WebhookWorker
) -> None:
    made = {}
    for name, client, scope in (
        ("admin", api, "Global"),
        ("d1admin", clients.d1admin, "Domain"),
        ("alice", clients.alice, "Local"),
        ("bob", clients.bob, "Local"),
        ("carol", clients.carol, "Local"),
    ):
        hook = await client.ok("createWebhook", name=name, payloadurl=receiver.url, scope=scope)
        made[name] = hook["webhook"]["id"]
    await run_round(worker)  # each creation is an event of its owner's account

    async def owners_seen(name: str) -> set[str]:
        listed = await deliveries(api, webhookid=made[name])
        return {json.loads(d["payload"])["description"].split()[2] for d in listed}

    assert await owners_seen("admin") == set(made)
    assert await owners_seen("d1admin") == {"d1admin", "alice", "carol"}  # ROOT/d1 and below
    for name in ("alice", "bob", "carol"):
        assert await owners_seen(name) == {name}
    # Users see the deliveries of their own webhooks only.
    assert {d["webhookname"] for d in await deliveries(clients.bob)} == {"bob"}


async def test_who_may_create_see_and_change_which_webhook(
    clients: Clients, api: ApiClient
) -> None:
    alices = (await clients.alice.ok("createWebhook", name="a", payloadurl="http://127.0.0.1:9/a"))[
        "webhook"
    ]
    assert (await clients.bob.ok("listWebhooks")).get("webhook", []) == []
    assert (await clients.bob.ok("listWebhooks", listall=True)).get("webhook", []) == []
    for command in ("updateWebhook", "deleteWebhook"):
        text = await clients.bob.fails(command, 431, id=alices["id"], name="mine now")
        assert "Unable to find webhook" in text
    await clients.bob.fails("listWebhookDeliveries", 431, webhookid=alices["id"])
    await clients.bob.fails("executeWebhookDelivery", 431, webhookid=alices["id"])
    listed = await clients.d1admin.ok("listWebhooks", listall=True)
    assert [w["id"] for w in listed["webhook"]] == [alices["id"]]
    assert (await api.ok("listWebhooks", listall=True))["count"] == 1

    # Scope follows the owner's account type.
    text = await clients.alice.fails(
        "createWebhook", 431, name="g", payloadurl="http://127.0.0.1:9/", scope="Domain"
    )
    assert "scope" in text
    await clients.d1admin.fails(
        "createWebhook", 431, name="g", payloadurl="http://127.0.0.1:9/", scope="Global"
    )
    await clients.d1admin.ok(
        "createWebhook", name="d", payloadurl="http://127.0.0.1:9/", scope="Domain"
    )
    await api.ok("createWebhook", name="g", payloadurl="http://127.0.0.1:9/", scope="Global")

    updated = await clients.alice.ok(
        "updateWebhook", id=alices["id"], state="Disabled", secretkey="k"
    )
    assert (updated["webhook"]["state"], updated["webhook"]["secretkey"]) == ("Disabled", "k")
    await clients.alice.ok("deleteWebhook", id=alices["id"])
    assert (await clients.alice.ok("listWebhooks")).get("webhook", []) == []


async def test_another_users_delivery_is_not_found_and_stays(clients: Clients) -> None:
    """Deleting a delivery by an id the caller may not see is refused as not found (as an
    unknown id is), rather than answered with a success that deleted nothing."""
    hook = (await clients.alice.ok("createWebhook", name="a", payloadurl="http://127.0.0.1:9/"))[
        "webhook"
    ]
    sent = await clients.alice.ok("executeWebhookDelivery", webhookid=hook["id"])
    delivery = sent["webhookdelivery"]["id"]
    for unknown in (delivery, "00000000-0000-4000-8000-000000000000"):
        text = await clients.bob.fails("deleteWebhookDelivery", 431, id=unknown)
        assert f"Unable to find webhook delivery with id {unknown}" in text
    assert [d["id"] for d in await deliveries(clients.alice)] == [delivery]
    await clients.alice.ok("deleteWebhookDelivery", id=delivery)
    assert await deliveries(clients.alice) == []


async def test_bad_input_is_431_naming_the_parameter_and_changes_nothing(
    clients: Clients,
) -> None:
    alice = clients.alice
    for params, parameter in (
        ({"name": "x", "payloadurl": "ftp://127.0.0.1/"}, "payloadurl"),
        ({"name": "x", "payloadurl": "http://"}, "payloadurl"),
        ({"name": "x", "payloadurl": "http://127.0.0.1/", "scope": "Planet"}, "scope"),
        ({"name": "x", "payloadurl": "http://127.0.0.1/", "state": "On"}, "state"),
        ({"payloadurl": "http://127.0.0.1/"}, "name"),
        ({"name": "x", "payloadurl": "http://127.0.0.1/", "sslverification": "maybe"}, "ssl"),
    ):
        assert parameter in await alice.fails("createWebhook", 431, **params)
    assert (await alice.ok("listWebhooks")).get("webhook", []) == []
    hook = (await alice.ok("createWebhook", name="ok", payloadurl="http://127.0.0.1:9/"))["webhook"]
    assert "payloadurl" in await alice.fails(
        "updateWebhook", 431, id=hook["id"], name="renamed", payloadurl="gopher://x"
    )
    [kept] = (await alice.ok("listWebhooks", id=hook["id"]))["webhook"]
    assert (kept["name"], kept["payloadurl"]) == ("ok", "http://127.0.0.1:9/")
    assert "id" in await alice.fails("executeWebhookDelivery", 431)
    assert "id" in await alice.fails("updateWebhook", 431, id="not-a-uuid")


async def test_a_receiver_that_never_answers_does_not_hold_the_api(
    app: Starlette, api: ApiClient, receiver: Receiver, worker: WebhookWorker
) -> None:
    receiver.hold()
    hook = (await api.ok("createWebhook", name="stuck", payloadurl=receiver.url, scope="Global"))[
        "webhook"
    ]
    async with running([worker]):
        assert await asyncio.to_thread(receiver.arrived.wait, 60)
        # The delivery is in flight, its receiver silent: the API answers meanwhile.
        listed = await api.ok("listVirtualMachines", listall=True)
        await api.ok("createWebhook", name="another", payloadurl=receiver.url)
        [in_flight] = await deliveries(api, webhookid=hook["id"])
        assert not receiver.released.is_set()
        assert (in_flight["state"], in_flight["attempts"]) == ("Pending", 0)
        receiver.released.set()
    assert listed.get("virtualmachine", []) == []
