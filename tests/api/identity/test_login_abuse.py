"""Attacks on the login: locking others out, guessing from many tries, telling user names by
the answer time, and sessions that outlive a password change (issue 17, defects 4 to 6)."""

from __future__ import annotations

import argon2
import httpx
import pytest
from starlette.applications import Starlette

from altostratus.api.app import create_app
from altostratus.settings import Settings
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.world import PASSWORD, Identity


def _client(app: Starlette, address: str = "127.0.0.1") -> httpx.AsyncClient:
    """A client whose requests come from ``address``."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def _login(http: httpx.AsyncClient, username: str, password: str, **extra: str) -> int:
    params = {"command": "login", "response": "json", "username": username, "password": password}
    response = await http.post("/client/api", params={**params, **extra})
    return response.status_code


async def _session_call(http: httpx.AsyncClient, token: str) -> int:
    response = await http.get(
        "/client/api", params={"command": "listRegions", "response": "json", "sessionkey": token}
    )
    return response.status_code


async def _token(http: httpx.AsyncClient, username: str, password: str, domain: str) -> str:
    response = await http.post(
        "/client/api",
        params={
            "command": "login",
            "response": "json",
            "username": username,
            "password": password,
            "domain": domain,
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["loginresponse"]["sessionkey"])


async def test_a_login_lockout_leaves_the_api_keys_working(
    app: Starlette, api: ApiClient, identities: dict[str, Identity]
) -> None:
    """Bad logins from anywhere lock the root admin out of the login, not its automation."""
    for source in range(6):
        async with _client(app, f"198.51.100.{source}") as http:
            assert await _login(http, "admin", "wrong") == 531
    async with _client(app, "192.0.2.1") as http:
        assert await _login(http, "admin", identities["admin"].password) == 531
    assert (await api.ok("listRegions"))["count"] >= 1
    users = await api.ok("listUsers", username="admin")
    assert users["user"][0]["state"] == "enabled"


async def test_failed_logins_from_one_address_are_throttled(
    app: Starlette, clients: Clients, identities: dict[str, Identity]
) -> None:
    """Past the per-address limit an address is answered 429 before any user is tried:
    it can neither guess further nor count failures against anyone."""
    limit = app.state.runtime.settings.login_source_failures
    async with _client(app, "203.0.113.7") as attacker:
        for attempt in range(limit):
            # Spread over names that exist nowhere: no user is locked on the way.
            assert await _login(attacker, f"nobody{attempt}", "guess") == 531
        response = await attacker.post(
            "/client/api",
            params={"command": "login", "response": "json", "username": "alice"}
            | {"password": PASSWORD, "domain": "/d1"},
        )
        assert response.status_code == 429, response.text
        body = response.json()["loginresponse"]
        assert body["errorcode"] == 429
        assert "retry after" in body["errortext"]
        for _ in range(5):
            assert await _login(attacker, "alice", "wrong", domain="/d1") == 429
    # The throttled tries cost alice nothing, and other addresses log in as before.
    async with _client(app, "192.0.2.44") as http:
        assert await _login(http, "alice", PASSWORD, domain="/d1") == 200
    alice = await clients.admin.ok("listUsers", id=identities["alice"].user_id)
    assert alice["user"][0]["state"] == "enabled"


async def test_behind_a_proxy_the_forwarded_address_is_throttled(settings: Settings) -> None:
    """Behind a load balancer every request comes from it: the address that counts is the
    one it forwards for (the last X-Forwarded-For hop), and cookies are Secure."""
    proxied = settings.model_copy(update={"behind_proxy": True, "login_source_failures": 2})
    app = create_app(proxied)
    async with app.router.lifespan_context(app), _client(app, "10.0.0.2") as balancer:

        async def login_via(client_address: str, password: str) -> httpx.Response:
            return await balancer.post(
                "/client/api",
                params={"command": "login", "response": "json", "username": "alice"}
                | {"password": password, "domain": "/d1"},
                headers={"X-Forwarded-For": f"6.6.6.6, {client_address}"},
            )

        for _ in range(2):
            assert (await login_via("203.0.113.9", "wrong")).status_code == 531
        assert (await login_via("203.0.113.9", PASSWORD)).status_code == 429
        answer = await login_via("192.0.2.10", PASSWORD)
        assert answer.status_code == 200, answer.text
        for cookie in answer.headers.get_list("set-cookie"):
            assert "secure" in {part.strip().lower() for part in cookie.split(";")}, cookie


async def test_an_unknown_user_costs_as_much_as_a_wrong_password(
    app: Starlette,
    api: ApiClient,
    identities: dict[str, Identity],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Answer times must not tell which user names exist (issue 17: 20 ms against 170 ms).

    What a login costs is the argon2 verification it runs: a login for a user name that
    does not exist must run one, against a hash of the same parameters as a real user's.
    """
    alice = identities["alice"]
    verified: list[argon2.Parameters] = []
    verify = argon2.PasswordHasher.verify

    def counted(hasher: argon2.PasswordHasher, password_hash: str, password: str) -> bool:
        verified.append(argon2.extract_parameters(password_hash))
        return verify(hasher, password_hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", counted)
    # A user whose hash has the configured cost (the seeded ones are cheap).
    await api.ok(
        "createUser",
        account=alice.account,
        domainid=alice.domain_id,
        username="erin",
        password="erins-password",
        email="erin@example.org",
        firstname="Erin",
        lastname="Test",
    )
    async with _client(app) as http:
        assert await _login(http, "erin", "not-the-password", domain="/d1") == 531
        (known,) = verified
        assert await _login(http, "nobody", "not-the-password", domain="/d1") == 531
        assert verified == [known, known]
    settings = app.state.runtime.settings
    assert (known.time_cost, known.memory_cost) == (
        settings.password_time_cost,
        settings.password_memory_kib,
    )


async def test_a_password_reset_ends_every_session_of_the_user(
    app: Starlette, api: ApiClient, identities: dict[str, Identity]
) -> None:
    alice = identities["alice"]
    async with _client(app) as http:
        sessions = [await _token(http, "alice", PASSWORD, "/d1") for _ in range(2)]
        bob = await _token(http, "bob", PASSWORD, "/d2")
        await api.ok("updateUser", id=alice.user_id, password="a-new-one")
        for token in sessions:
            assert await _session_call(http, token) == 401
        assert await _session_call(http, bob) == 200, "only alice's sessions end"
        fresh = await _token(http, "alice", "a-new-one", "/d1")
        assert await _session_call(http, fresh) == 200


async def _change_own_password(
    http: httpx.AsyncClient, token: str, user_id: str, current: str
) -> httpx.Response:
    """``updateUser password=mine-now`` in the user's own session, as the console sends it."""
    return await http.post(
        "/client/api",
        data={
            "command": "updateUser",
            "response": "json",
            "sessionkey": token,
            "id": user_id,
            "password": "mine-now",
            "currentpassword": current,
        },
    )


async def test_changing_ones_own_password_ends_ones_sessions(
    app: Starlette, identities: dict[str, Identity]
) -> None:
    alice = identities["alice"]
    async with _client(app) as http:
        other = await _token(http, "alice", PASSWORD, "/d1")
        token = await _token(http, "alice", PASSWORD, "/d1")
        response = await _change_own_password(http, token, alice.user_id, PASSWORD)
        assert response.status_code == 200, response.text
        assert await _session_call(http, other) == 401
        assert await _session_call(http, token) == 401


async def test_a_failed_password_change_ends_nothing(
    app: Starlette, identities: dict[str, Identity]
) -> None:
    alice = identities["alice"]
    async with _client(app) as http:
        token = await _token(http, "alice", PASSWORD, "/d1")
        response = await _change_own_password(http, token, alice.user_id, "not it")
        assert response.status_code == 531, response.text
        assert await _session_call(http, token) == 200
