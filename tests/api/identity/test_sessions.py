"""Session authentication: login, the session key as parameter or cookie, logout, lockout."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from altostratus.db.models import EntityState, User
from altostratus.runtime import Runtime
from altostratus.security.sessions import SessionClaims
from altostratus.timeutil import utcnow
from tests.support.client import ApiClient
from tests.support.world import PASSWORD, Identity


async def _login(http: httpx.AsyncClient, **params: str) -> httpx.Response:
    """POST login the way cloudmonkey does: parameters in the query string."""
    return await http.post("/client/api", params={"command": "login", "response": "json", **params})


async def _token(http: httpx.AsyncClient, who: Identity) -> str:
    response = await _login(
        http, username=who.username, password=who.password, domain=who.domain_path
    )
    assert response.status_code == 200, response.text
    return str(response.json()["loginresponse"]["sessionkey"])


async def _with_session(
    http: httpx.AsyncClient, token: str, command: str = "listRegions", **params: str
) -> httpx.Response:
    http.cookies.clear()
    return await http.get(
        "/client/api",
        params={"command": command, "response": "json", "sessionkey": token, **params},
    )


def _body(response: httpx.Response, root: str) -> dict[str, Any]:
    data = response.json()
    assert list(data) == [root], data
    return dict(data[root])


async def _user(app: Starlette, username: str) -> User:
    runtime: Runtime = app.state.runtime
    async with runtime.db.transaction(write=False) as session:
        row = await session.scalar(select(User).where(User.username == username))
        assert row is not None
        return row


async def test_login_answers_the_session_and_sets_cookies(
    http: httpx.AsyncClient, identities: dict[str, Identity]
) -> None:
    alice = identities["alice"]
    response = await _login(http, username="alice", password=PASSWORD, domain="/d1")
    assert response.status_code == 200, response.text
    body = _body(response, "loginresponse")
    assert {
        k: body[k]
        for k in (
            "username",
            "userid",
            "domainid",
            "account",
            "firstname",
            "lastname",
            "type",
            "timeout",
            "registered",
        )
    } == {
        "username": "alice",
        "userid": alice.user_id,
        "domainid": alice.domain_id,
        "account": "alice",
        "firstname": "Alice",
        "lastname": "Test",
        "type": "0",
        "timeout": "1800",
        "registered": "false",
    }
    token = body["sessionkey"]
    cookies = {c.split("=", 1)[0]: c for c in response.headers.get_list("set-cookie")}
    assert set(cookies) == {"JSESSIONID", "sessionkey"}
    jsession = cookies["JSESSIONID"].lower()
    assert "path=/client" in jsession
    assert "httponly" in jsession
    assert "path=/client" in cookies["sessionkey"].lower()
    assert cookies["sessionkey"].startswith(f"sessionkey={token}")


async def test_login_shows_the_users_timezone(
    app: Starlette, http: httpx.AsyncClient, identities: dict[str, Identity]
) -> None:
    async with app.state.runtime.db.transaction() as session:
        row = await session.scalar(select(User).where(User.username == "bob"))
        assert row is not None
        row.timezone = "Europe/Berlin"
    response = await _login(http, username="bob", password=PASSWORD, domain="ROOT/d2")
    assert _body(response, "loginresponse")["timezone"] == "Europe/Berlin"


async def test_root_admin_login_type(
    http: httpx.AsyncClient, identities: dict[str, Identity]
) -> None:
    admin = identities["admin"]
    response = await _login(http, username="admin", password=admin.password)
    assert _body(response, "loginresponse")["type"] == "1"


async def test_login_must_be_post(http: httpx.AsyncClient) -> None:
    response = await http.get(
        "/client/api",
        params={
            "command": "login",
            "response": "json",
            "username": "alice",
            "password": PASSWORD,
            "domain": "/d1",
        },
    )
    assert response.status_code == 405
    assert _body(response, "loginresponse")["errorcode"] == 405
    assert "set-cookie" not in response.headers


async def test_login_in_a_form_body(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/client/api",
        data={
            "command": "login",
            "response": "json",
            "username": "alice",
            "password": PASSWORD,
            "domainId": "",
        },
        params={"domain": "ROOT/d1"},
    )
    assert response.status_code == 200, response.text


async def test_the_session_key_parameter_authenticates(
    http: httpx.AsyncClient, identities: dict[str, Identity]
) -> None:
    token = await _token(http, identities["alice"])
    assert (await _with_session(http, token)).status_code == 200
    # By POST too, with the key in the form body as the web UI sends it.
    http.cookies.clear()
    response = await http.post(
        "/client/api", data={"command": "listRegions", "response": "json", "sessionkey": token}
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_the_session_cookie_alone_does_not_authenticate(
    app: Starlette, http: httpx.AsyncClient, identities: dict[str, Identity], method: str
) -> None:
    """A page on another site can make the browser send the cookies, not the parameter:
    a command by a link or a hidden form must not run in the user's name (CSRF)."""
    token = await _token(http, identities["alice"])
    http.cookies.clear()
    http.cookies.set("sessionkey", token, path="/client")
    http.cookies.set("JSESSIONID", token, path="/client")
    params = {"command": "createSSHKeyPair", "name": "forged", "response": "json"}
    response = await http.request(method, "/client/api", params=params)
    assert response.status_code == 401, response.text
    assert "privatekey" not in response.text
    keys = await _with_session(http, token, "listSSHKeyPairs")
    assert "sshkeypair" not in _body(keys, "listsshkeypairsresponse")


async def test_session_cookies_are_http_only_and_secure_over_tls(
    app: Starlette, identities: dict[str, Identity]
) -> None:
    """Scripts cannot read the session cookies, and TLS sessions never leak them in clear."""
    for base, secure in (("http://test", False), ("https://test", True)):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=base
        ) as client:
            response = await _login(client, username="alice", password=PASSWORD, domain="/d1")
            assert response.status_code == 200, response.text
            for cookie in response.headers.get_list("set-cookie"):
                attributes = {part.strip().lower() for part in cookie.split(";")}
                assert "httponly" in attributes, cookie
                assert ("secure" in attributes) is secure, cookie


async def test_session_acts_as_its_user(
    http: httpx.AsyncClient, identities: dict[str, Identity]
) -> None:
    token = await _token(http, identities["alice"])
    refused = await _with_session(
        http, token, "addRegion", id="2", name="R2", endpoint="http://r2/client/api"
    )
    assert refused.status_code == 531
    apis = _body(await _with_session(http, token, "listApis"), "listapisresponse")["api"]
    assert "addRegion" not in {api["name"] for api in apis}


async def test_logout_revokes_the_session(
    http: httpx.AsyncClient, identities: dict[str, Identity]
) -> None:
    token = await _token(http, identities["alice"])
    logout = await _with_session(http, token, "logout")
    assert logout.status_code == 200
    assert _body(logout, "logoutresponse")["success"] == "true"
    cleared = {c.split("=", 1)[0] for c in logout.headers.get_list("set-cookie")}
    assert cleared == {"JSESSIONID", "sessionkey"}
    assert (await _with_session(http, token)).status_code == 401
    # Another session of the same user lives on.
    other = await _token(http, identities["alice"])
    assert (await _with_session(http, other)).status_code == 200


async def test_tampered_and_expired_tokens_are_401(
    app: Starlette, http: httpx.AsyncClient, identities: dict[str, Identity]
) -> None:
    token = await _token(http, identities["alice"])
    payload, mac = token.split(".")
    tampered = f"{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{mac}"
    signer = app.state.runtime.deps.sessions
    expired = signer.issue(
        SessionClaims(
            str(uuid.uuid4()),
            identities["alice"].user_id,
            utcnow() - timedelta(seconds=1),
            utcnow() - timedelta(minutes=30),
        )
    )
    unknown_user = signer.issue(
        SessionClaims(
            str(uuid.uuid4()), str(uuid.uuid4()), utcnow() + timedelta(minutes=5), utcnow()
        )
    )
    for bad in (tampered, expired, unknown_user, "garbage"):
        response = await _with_session(http, bad)
        assert response.status_code == 401, bad
        assert _body(response, "listregionsresponse")["errorcode"] == 401


async def _disable(app: Starlette, username: str, *, account: bool = False) -> None:
    runtime: Runtime = app.state.runtime
    async with runtime.db.transaction() as session:
        row = await session.scalar(select(User).where(User.username == username))
        assert row is not None
        if account:
            row.account.state = EntityState.DISABLED
        else:
            row.state = EntityState.DISABLED


@pytest.mark.parametrize("account", [False, True], ids=["user", "account"])
async def test_disabling_ends_sessions_and_refuses_login(
    app: Starlette, http: httpx.AsyncClient, identities: dict[str, Identity], account: bool
) -> None:
    token = await _token(http, identities["alice"])
    await _disable(app, "alice", account=account)
    assert (await _with_session(http, token)).status_code == 401
    response = await _login(http, username="alice", password=PASSWORD, domain="/d1")
    assert response.status_code == 531
    text = _body(response, "loginresponse")["errortext"]
    assert "disabled" in text
    assert ("account" in text.lower()) is account


async def test_wrong_password_is_531_under_loginresponse(http: httpx.AsyncClient) -> None:
    for params in (
        {"username": "alice", "password": "wrong", "domain": "/d1"},
        {"username": "nobody", "password": PASSWORD, "domain": "/d1"},
        # alice lives in ROOT/d1, not in ROOT.
        {"username": "alice", "password": PASSWORD},
    ):
        response = await _login(http, **params)
        assert response.status_code == 531, params
        body = _body(response, "loginresponse")
        assert body["errorcode"] == 531
        assert body["errortext"]
        assert "set-cookie" not in response.headers


async def test_failed_logins_lock_the_user_out_of_login(
    app: Starlette, api: ApiClient, http: httpx.AsyncClient
) -> None:
    for _ in range(5):
        assert (
            await _login(http, username="alice", password="wrong", domain="/d1")
        ).status_code == 531
    right = await _login(http, username="alice", password=PASSWORD, domain="/d1")
    assert right.status_code == 531
    assert "locked" in _body(right, "loginresponse")["errortext"]
    # More wrong attempts on a locked user do not lock it again.
    await _login(http, username="alice", password="wrong", domain="/d1")
    locks = await api.ok("listEvents", type="USER.LOCK", listall=True)
    assert locks["count"] == 1
    assert locks["event"][0]["level"] == "WARN"
    assert locks["event"][0]["account"] == "alice"
    # enableUser is the admin's way back, as in CloudStack.
    await api.ok("enableUser", id=(await _user(app, "alice")).uuid)
    assert (await _login(http, username="alice", password=PASSWORD, domain="/d1")).is_success


async def test_a_successful_login_resets_the_failure_count(
    app: Starlette, http: httpx.AsyncClient, identities: dict[str, Identity]
) -> None:
    for _ in range(4):
        await _login(http, username="alice", password="wrong", domain="/d1")
    await _token(http, identities["alice"])
    await _login(http, username="alice", password="wrong", domain="/d1")
    user = await _user(app, "alice")
    assert (user.state, user.failed_logins) == (EntityState.ENABLED, 1)


@pytest.mark.parametrize("domain", ["/d1/sub", "ROOT/d1/sub", "d1/sub", "/ROOT/d1/sub/"])
async def test_login_domain_paths(
    http: httpx.AsyncClient, identities: dict[str, Identity], domain: str
) -> None:
    response = await _login(http, username="carol", password=PASSWORD, domain=domain)
    assert response.status_code == 200, response.text
    assert _body(response, "loginresponse")["domainid"] == identities["carol"].domain_id


async def test_login_by_domain_id(http: httpx.AsyncClient, identities: dict[str, Identity]) -> None:
    carol = identities["carol"]
    response = await _login(http, username="carol", password=PASSWORD, domainid=carol.domain_id)
    assert response.status_code == 200, response.text


async def test_admin_logs_in_to_root_by_default(
    http: httpx.AsyncClient, identities: dict[str, Identity]
) -> None:
    password = identities["admin"].password
    for domain in (None, "/", "ROOT"):
        extra = {"domain": domain} if domain else {}
        response = await _login(http, username="admin", password=password, **extra)
        assert response.status_code == 200, (domain, response.text)


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"domain": "/nowhere"}, "domain"),
        ({"domainid": str(uuid.uuid4())}, "domain"),
        ({"domainid": "not-a-uuid"}, "domainid"),
    ],
)
async def test_unknown_or_malformed_domain_is_431(
    http: httpx.AsyncClient, params: dict[str, str], parameter: str
) -> None:
    response = await _login(http, username="alice", password=PASSWORD, **params)
    assert response.status_code == 431
    assert parameter in _body(response, "loginresponse")["errortext"]


async def test_missing_credentials_are_431(http: httpx.AsyncClient) -> None:
    for params, missing in (
        ({"password": PASSWORD}, "username"),
        ({"username": "admin"}, "password"),
    ):
        response = await _login(http, **params)
        assert response.status_code == 431
        assert missing in _body(response, "loginresponse")["errortext"]


async def test_login_and_logout_are_events(
    api: ApiClient, http: httpx.AsyncClient, identities: dict[str, Identity]
) -> None:
    token = await _token(http, identities["bob"])
    await _with_session(http, token, "logout")
    events = await api.ok("listEvents", listall=True, keyword="bob")
    assert [e["type"] for e in events["event"]] == ["USER.LOGOUT", "USER.LOGIN"]
