"""Password login as cloudmonkey and the web UI do it, over real HTTP.

cloudmonkey POSTs ``login`` with its parameters in the query string, keeps the
``JSESSIONID`` cookie and sends ``sessionkey`` with every later call. A session is a
signed token checked against the database, so any server sharing the database and the
key file accepts it, and a logout on one is honoured by all.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cs import CloudStack

from tests.clients.conftest import PASSWORD, create_account, create_database, unique
from tests.support.postgres import TemporaryPostgres
from tests.support.server import LiveServer

pytestmark = pytest.mark.slow

JSESSIONID = "JSESSIONID"


@dataclass(frozen=True)
class Session:
    key: str
    jsessionid: str


def login(endpoint: str, username: str, password: str, **extra: str) -> httpx.Response:
    """cloudmonkey's login: a POST whose parameters are all in the query string."""
    query = {"command": "login", "username": username, "password": password, **extra}
    return httpx.post(endpoint, params={**query, "response": "json"})


def log_in(endpoint: str, username: str, password: str, **extra: str) -> Session:
    response = login(endpoint, username, password, **extra)
    assert response.status_code == 200, response.text
    return Session(response.json()["loginresponse"]["sessionkey"], response.cookies[JSESSIONID])


def call(url: str, session: Session, command: str, /, **params: Any) -> httpx.Response:
    """A later request as cloudmonkey sends it: ``sessionkey`` parameter plus the cookie."""
    query = {**params, "command": command, "sessionkey": session.key, "response": "json"}
    return httpx.get(url, params=query, cookies={JSESSIONID: session.jsessionid})


def body(response: httpx.Response, command: str) -> dict[str, Any]:
    """The object under the one ``<command>response`` key."""
    data = response.json()
    assert list(data) == [f"{command.lower()}response"], data
    answer: dict[str, Any] = data[f"{command.lower()}response"]
    return answer


def test_login_answer_and_cookies(live: LiveServer) -> None:
    response = login(live.endpoint, "admin", live.admin["password"])
    assert response.status_code == 200
    answer = body(response, "login")
    assert answer["username"] == "admin"
    assert answer["account"] == "admin"
    assert answer["type"] == "1"
    assert int(answer["timeout"]) > 0
    for field in ("userid", "domainid", "firstname", "lastname", "sessionkey"):
        assert answer[field], field
    jsession = next(c for c in response.headers.get_list("set-cookie") if c.startswith(JSESSIONID))
    assert "Path=/client" in jsession
    assert "httponly" in jsession.lower()


def test_session_authenticates_later_calls(live: LiveServer) -> None:
    session = log_in(live.endpoint, "admin", live.admin["password"])
    listed = call(live.endpoint, session, "listRegions")
    assert listed.status_code == 200
    assert body(listed, "listRegions")["region"][0]["name"] == "Local"

    endpoint = "http://region6.example/client/api"
    added = call(live.endpoint, session, "addRegion", id=6, name="Region6", endpoint=endpoint)
    assert body(added, "addRegion")["region"]["endpoint"] == endpoint
    assert call(live.endpoint, session, "removeRegion", id=6).status_code == 200

    anonymous = httpx.get(live.endpoint, params={"command": "listRegions", "response": "json"})
    assert anonymous.status_code == 401
    forged = Session(session.key[:-4] + "AAAA", session.jsessionid)
    assert call(live.endpoint, forged, "listRegions").status_code == 401


def test_login_must_be_a_post(live: LiveServer) -> None:
    query = {"command": "login", "username": "admin", "password": live.admin["password"]}
    response = httpx.get(live.endpoint, params={**query, "response": "json"})
    assert response.status_code == 405
    assert body(response, "login")["errorcode"] == 405
    assert JSESSIONID not in response.cookies


def test_wrong_password_is_531_under_loginresponse(live: LiveServer) -> None:
    response = login(live.endpoint, "admin", "not the password")
    assert response.status_code == 531
    answer = body(response, "login")
    assert answer["errorcode"] == 531
    assert answer["errortext"]
    assert "sessionkey" not in answer
    assert JSESSIONID not in response.cookies
    log_in(live.endpoint, "admin", live.admin["password"])


def test_logout_ends_only_that_session(live: LiveServer) -> None:
    ending = log_in(live.endpoint, "admin", live.admin["password"])
    staying = log_in(live.endpoint, "admin", live.admin["password"])
    logged_out = call(live.endpoint, ending, "logout")
    assert logged_out.status_code == 200
    assert body(logged_out, "logout")["description"] == "success"
    assert call(live.endpoint, ending, "listRegions").status_code == 401
    assert call(live.endpoint, staying, "listRegions").status_code == 200


def test_user_of_a_subdomain_logs_in_with_the_domain_path(
    live: LiveServer, admin_cs: CloudStack
) -> None:
    domain_name = unique("dept")
    domain = admin_cs.createDomain(name=domain_name)["domain"]
    account = create_account(admin_cs, unique("staff"), domainid=domain["id"])
    username = account["user"][0]["username"]

    assert login(live.endpoint, username, PASSWORD).status_code == 531  # not in ROOT
    session = log_in(live.endpoint, username, PASSWORD, domain=f"/{domain_name}")
    assert call(live.endpoint, session, "listRegions").status_code == 200
    denied = call(live.endpoint, session, "addRegion", id=8, name="R8", endpoint="http://r8/")
    assert denied.status_code == 531
    assert admin_cs.listRegions(id=8) == {}
    by_id = log_in(live.endpoint, username, PASSWORD, domainid=domain["id"])
    assert call(live.endpoint, by_id, "listRegions").status_code == 200


@pytest.fixture(scope="module")
def twin_servers(
    postgres: TemporaryPostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two server processes on one PostgreSQL database and one key file."""
    database_url = create_database(postgres, "alto_sessions")
    root = tmp_path_factory.mktemp("twins")
    env = {"ALTO_KEY_FILE": str(root / "secret.key")}
    with (
        LiveServer(root / "first", database_url=database_url, extra_env=env) as first,
        LiveServer(root / "second", database_url=database_url, extra_env=env) as second,
    ):
        yield first, second


def test_a_session_works_on_every_server_of_the_region(
    twin_servers: tuple[LiveServer, LiveServer],
) -> None:
    first, second = twin_servers
    password = first.admin["password"]
    session = log_in(first.endpoint, "admin", password)
    listed = call(second.endpoint, session, "listRegions")
    assert listed.status_code == 200
    assert body(listed, "listRegions")["count"] == 1

    assert call(second.endpoint, session, "logout").status_code == 200
    assert call(first.endpoint, session, "listRegions").status_code == 401
    assert call(second.endpoint, session, "listRegions").status_code == 401

    elsewhere = log_in(second.endpoint, "admin", password)
    assert call(first.endpoint, elsewhere, "listRegions").status_code == 200
