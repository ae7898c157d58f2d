"""Signature authentication as the server applies it: variants, expiry, user and account state."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from altostratus.db.models import EntityState, User
from altostratus.security.signatures import sign
from altostratus.timeutil import format_timestamp, utcnow
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.world import Identity


async def _get(http: httpx.AsyncClient, params: dict[str, str]) -> httpx.Response:
    return await http.get("/client/api", params=params)


def _signed(who: Identity, **params: str) -> dict[str, str]:
    query = {"command": "listRegions", "response": "json", "apikey": who.api_key, **params}
    query["signature"] = sign(query, who.secret_key)
    return query


def _assert_unauthenticated(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    (body,) = response.json().values()
    assert body["errorcode"] == 401
    assert body["errortext"]
    assert response.headers["X-Description"] == body["errortext"]


async def test_canonically_signed_request_is_answered(
    http: httpx.AsyncClient, identities: dict[str, Identity]
) -> None:
    response = await _get(http, _signed(identities["alice"]))
    assert response.status_code == 200
    assert response.json()["listregionsresponse"]["count"] == 1


def _client_variant(who: Identity, params: dict[str, str], *, safe: str, fold: bool) -> str:
    """How ``cs`` (``~`` raw) and libcloud (also ``[]`` raw, names folded) sign."""
    items = sorted((k.lower() if fold else k, v) for k, v in params.items())
    text = "&".join(f"{k}={quote(v, safe=safe)}" for k, v in items).lower()
    digest = hmac.new(who.secret_key.encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@pytest.mark.parametrize(
    ("safe", "fold"),
    [("*", False), ("*[]", True), ("*", True)],
    ids=["cs", "libcloud", "cloudmonkey"],
)
async def test_client_signature_variants_are_accepted(
    http: httpx.AsyncClient, identities: dict[str, Identity], safe: str, fold: bool
) -> None:
    alice = identities["alice"]
    # Mixed-case names and a value with ~ and brackets make every variant differ.
    params = {
        "command": "listRegions",
        "response": "json",
        "apiKey": alice.api_key,
        "keyword": "Lo~[c]",
        "pageSize": "10",
        "page": "1",
    }
    signature = _client_variant(alice, params, safe=safe, fold=fold)
    assert signature != sign(params, alice.secret_key)
    response = await _get(http, {**params, "signature": signature})
    assert response.status_code == 200, response.text


async def test_parameter_names_of_credentials_are_case_insensitive(
    http: httpx.AsyncClient, identities: dict[str, Identity]
) -> None:
    alice = identities["alice"]
    params = {"command": "listRegions", "response": "json", "apiKey": alice.api_key}
    response = await _get(http, {**params, "Signature": sign(params, alice.secret_key)})
    assert response.status_code == 200, response.text


async def test_bad_credentials_are_401(
    http: httpx.AsyncClient, identities: dict[str, Identity]
) -> None:
    alice, bob = identities["alice"], identities["bob"]
    wrong_signature = {**_signed(alice), "signature": _signed(alice, keyword="x")["signature"]}
    wrong_secret = {**_signed(alice), "signature": sign(_signed(alice), bob.secret_key)}
    unknown_key = _signed(alice)
    unknown_key["apikey"] = "no-such-key"
    unknown_key["signature"] = sign({k: v for k, v in unknown_key.items() if k != "signature"}, "x")
    missing_signature = {k: v for k, v in _signed(alice).items() if k != "signature"}
    changed_after_signing = {**_signed(alice), "keyword": "Local"}
    no_credentials = {"command": "listRegions", "response": "json"}
    for params in (
        wrong_signature,
        wrong_secret,
        unknown_key,
        missing_signature,
        changed_after_signing,
        no_credentials,
    ):
        _assert_unauthenticated(await _get(http, params))


async def test_unknown_command_without_credentials_is_401(http: httpx.AsyncClient) -> None:
    _assert_unauthenticated(await _get(http, {"command": "noSuchCommand", "response": "json"}))


def _in(delta: timedelta) -> str:
    return format_timestamp(utcnow() + delta)


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"signatureversion": "3"}, 401),
        ({"signatureVersion": "3", "expires": timedelta(minutes=-1)}, 401),
        ({"signatureversion": "3", "expires": "not a date"}, 401),
        ({"signatureversion": "3", "expires": timedelta(minutes=5)}, 200),
        ({"signatureVersion": "3", "Expires": timedelta(minutes=5)}, 200),
        # Without signatureversion, expires is checked only when present.
        ({}, 200),
        ({"expires": timedelta(minutes=-1)}, 401),
        ({"expires": timedelta(minutes=5)}, 200),
        # Only version 3 exists: another one is not a way around expires.
        ({"signatureversion": "2"}, 401),
        ({"signatureversion": "4"}, 401),
        ({"signatureversion": "4", "expires": timedelta(minutes=5)}, 401),
        # expires is capped by signature_expires_window (900 s by default).
        ({"signatureversion": "3", "expires": timedelta(minutes=14)}, 200),
        ({"signatureversion": "3", "expires": timedelta(minutes=16)}, 401),
        ({"signatureversion": "3", "expires": "9999-12-31T23:59:59+0000"}, 401),
        ({"expires": "9999-12-31T23:59:59+0000"}, 401),
    ],
)
async def test_signature_expiry(
    http: httpx.AsyncClient,
    identities: dict[str, Identity],
    params: dict[str, str | timedelta],
    status: int,
) -> None:
    # Expiry times count from when the test runs, not from collection: a long suite
    # would otherwise send "in 5 minutes" after those 5 minutes.
    sent = {
        key: _in(value) if isinstance(value, timedelta) else value for key, value in params.items()
    }
    response = await _get(http, _signed(identities["alice"], **sent))
    assert response.status_code == status, response.text
    if status == 401:
        _assert_unauthenticated(response)


@pytest.mark.parametrize(
    "spoil",
    [
        lambda signature: signature + "junk",
        lambda signature: signature + "==",
        lambda signature: "!!" + signature,
        lambda signature: " " + signature,
        lambda signature: signature + "\n",
        lambda signature: signature.rstrip("="),
    ],
    ids=["junk after padding", "extra padding", "non-base64 prefix", "space", "LF", "unpadded"],
)
async def test_only_the_exact_signature_string_is_accepted(
    http: httpx.AsyncClient, identities: dict[str, Identity], spoil: Any
) -> None:
    """CloudStack compares the signature strings, so anything around a valid base64
    signature makes it another, wrong, signature."""
    query = _signed(identities["alice"])
    assert (await _get(http, query)).status_code == 200
    _assert_unauthenticated(await _get(http, {**query, "signature": spoil(query["signature"])}))


async def test_a_large_signed_request_is_checked(
    http: httpx.AsyncClient, identities: dict[str, Identity]
) -> None:
    """Almost the largest request accepted (1 MiB), with characters the variants encode
    differently, is checked (off the event loop) and reaches the command; its cost is
    in ``tests/security/test_signatures.py``."""
    value = "~[a] b*" * (1000 * 1024 // 7 // 3)  # about 1 MB once encoded
    response = await http.post("/client/api", data=_signed(identities["alice"], keyword=value))
    # Past the signature (a 401 otherwise), the keyword is refused for its length.
    assert response.status_code == 431, response.text[:300]
    assert "keyword" in response.json()["listregionsresponse"]["errortext"]


@pytest.mark.parametrize(
    "render",
    [
        lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%S+0000"),
        lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
    ],
    ids=["+0000", "+00:00", "Z"],
)
async def test_expires_formats(
    http: httpx.AsyncClient, identities: dict[str, Identity], render: Any
) -> None:
    alice = identities["alice"]
    future, past = utcnow() + timedelta(minutes=5), utcnow() - timedelta(minutes=5)
    ok = await _get(http, _signed(alice, signatureversion="3", expires=render(future)))
    assert ok.status_code == 200, ok.text
    late = await _get(http, _signed(alice, signatureversion="3", expires=render(past)))
    _assert_unauthenticated(late)


async def _set_state(
    app: Starlette,
    username: str,
    *,
    user: EntityState | None = None,
    account: EntityState | None = None,
) -> None:
    async with app.state.runtime.db.transaction() as session:
        row = await session.scalar(select(User).where(User.username == username))
        assert row is not None
        if user is not None:
            row.state = user
        if account is not None:
            row.account.state = account


@pytest.mark.parametrize(
    "state",
    [
        {"user": EntityState.DISABLED},
        {"user": EntityState.LOCKED},
        {"account": EntityState.DISABLED},
    ],
    ids=["user disabled", "user locked", "account disabled"],
)
async def test_inactive_users_cannot_sign(
    app: Starlette,
    clients: Clients,
    http: httpx.AsyncClient,
    identities: dict[str, Identity],
    state: dict[str, EntityState],
) -> None:
    await clients.alice.ok("listRegions")
    await _set_state(app, "alice", **state)
    _assert_unauthenticated(await _get(http, _signed(identities["alice"])))
    # Only alice is affected.
    await clients.bob.ok("listRegions")


async def test_revoked_keys_stop_working(
    app: Starlette, http: httpx.AsyncClient, identities: dict[str, Identity]
) -> None:
    async with app.state.runtime.db.transaction() as session:
        row = await session.scalar(select(User).where(User.username == "alice"))
        assert row is not None
        row.secret_key_encrypted = None
    _assert_unauthenticated(await _get(http, _signed(identities["alice"])))


async def test_post_form_body_is_signed_over_all_parameters(
    api: ApiClient, http: httpx.AsyncClient, identities: dict[str, Identity]
) -> None:
    admin = identities["admin"]
    query = {"command": "addRegion", "response": "json", "apikey": admin.api_key}
    form = {"id": "2", "name": "Two", "endpoint": "http://two/client/api"}
    query["signature"] = sign({**query, **form}, admin.secret_key)
    response = await http.post("/client/api", params=query, data=form)
    assert response.status_code == 200, response.text
    assert response.json()["addregionresponse"]["region"]["name"] == "Two"
    # A form value changed after signing is refused, and changes nothing.
    form["id"], form["name"] = "3", "Three"
    refused = await http.post("/client/api", params=query, data=form)
    _assert_unauthenticated(refused)
    assert [r["id"] for r in (await api.ok("listRegions"))["region"]] == [1, 2]
