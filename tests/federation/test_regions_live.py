"""Three regions as three real servers with their own databases, on loopback.

Region 1 starts normally; regions 2 and 3 join (``alto region join``) and start. Nothing
is delivered by hand: the notifier and the puller (every 0.5 s here) move every change.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.federation.support import (
    LiveRegion,
    admin_keys,
    call_ok,
    eventually,
    live_dumps,
    live_federation,
    signed_call,
    stop_all,
)
from tests.support.postgres import TemporaryPostgres

pytestmark = pytest.mark.slow

PASSWORD = "federated secret"


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _databases(backend: str, request: pytest.FixtureRequest) -> list[str | None]:
    if backend == "sqlite":
        return [None, None, None]
    postgres: TemporaryPostgres = request.getfixturevalue("postgres")
    return [postgres.create_database(f"alto_live_{id(request)}_{index}") for index in (1, 2, 3)]


@pytest.fixture
def regions(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[list[LiveRegion]]:
    federation = live_federation(tmp_path, 3, _databases(backend, request))
    try:
        yield federation
    finally:
        stop_all(federation)


@pytest.fixture
def sqlite_regions(tmp_path: Path) -> Iterator[list[LiveRegion]]:
    federation = live_federation(tmp_path, 3)
    try:
        yield federation
    finally:
        stop_all(federation)


# --- helpers ------------------------------------------------------------------------------


def _create_identity(region: LiveRegion, keys: dict[str, str], name: str) -> dict[str, Any]:
    """A domain ``name`` holding account and user ``name`` with API keys; the user object."""
    domain = call_ok(region.endpoint, keys, "createDomain", name=name)["domain"]
    account = call_ok(
        region.endpoint, keys, "createAccount",
        username=name, password=PASSWORD, email=f"{name}@example.org",
        firstname=name, lastname="Fed", accounttype="0", domainid=domain["id"],
    )["account"]  # fmt: skip
    user = dict(account["user"][0])
    pair = call_ok(region.endpoint, keys, "registerUserKeys", id=user["id"])["userkeys"]
    user.update(apikey=pair["apikey"], secretkey=pair["secretkey"], domainpath=domain["path"])
    return user


def _login(region: LiveRegion, user: dict[str, Any]) -> str:
    response = httpx.post(
        region.endpoint,
        params={
            "command": "login", "response": "json", "username": user["username"],
            "password": PASSWORD, "domain": user["domainpath"],
        },
        timeout=30,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return str(response.json()["loginresponse"]["sessionkey"])


def _with_session(region: LiveRegion, token: str, command: str = "listUsers") -> httpx.Response:
    return httpx.get(
        region.endpoint,
        params={"command": command, "response": "json", "sessionkey": token},
        timeout=30,
    )


def _user(region: LiveRegion, keys: dict[str, str], user_id: str) -> dict[str, Any]:
    users = call_ok(region.endpoint, keys, "listUsers", id=user_id, listall="true")
    assert users.get("count") == 1, users
    return dict(users["user"][0])


def _absent(region: LiveRegion, keys: dict[str, str], user_id: str) -> None:
    answer = signed_call(region.endpoint, keys, "listUsers", id=user_id, listall="true")
    assert answer.status_code == 431 or not answer.json()["listusersresponse"].get("user")


def _converged(regions: list[LiveRegion]) -> list[dict[str, Any]]:
    dumps = live_dumps(regions)
    for index, other in enumerate(dumps[1:], start=2):
        assert other == dumps[0], f"region {index} differs from region 1"
    return dumps


# --- the tests ----------------------------------------------------------------------------


def test_an_identity_made_in_one_region_works_in_every_region(
    regions: list[LiveRegion],
) -> None:
    r1, r2, r3 = regions
    admin = admin_keys(r1)
    assert [r["id"] for r in call_ok(r3.endpoint, admin, "listRegions")["region"]] == [1, 2, 3]
    user = _create_identity(r1, admin, "fed")
    keys = {"apikey": user["apikey"], "secretkey": user["secretkey"]}

    # Region 3 never saw the request: the user logs in there with the password, and the
    # session region 3 issued is good in region 2 too (one sign-on for the federation).
    token = eventually(lambda: _login(r3, user))
    for region in (r2, r3):
        # Region 2 may not have the user yet when region 3 has (each pulls on its own).
        eventually(partial(_session_works, region, token))
    # The API keys made in region 1 sign requests in region 3.
    mine = eventually(lambda: call_ok(r3.endpoint, keys, "listUsers"))
    assert [u["id"] for u in mine["user"]] == [user["id"]]

    call_ok(r2.endpoint, admin, "updateUser", id=user["id"], firstname="Renamed")
    for region in (r1, r3):
        eventually(partial(_check_firstname, region, admin, user["id"], "Renamed"))


def _session_works(region: LiveRegion, token: str) -> None:
    answer = _with_session(region, token)
    assert answer.status_code == 200, answer.text


def _check_firstname(region: LiveRegion, keys: dict[str, str], user_id: str, name: str) -> None:
    assert _user(region, keys, user_id)["firstname"] == name


def test_a_partitioned_region_catches_up_and_all_converge(regions: list[LiveRegion]) -> None:
    r1, r2, r3 = regions
    admin = admin_keys(r1)
    shared = _create_identity(r1, admin, "shared")
    doomed = call_ok(
        r1.endpoint, admin, "createUser", account="shared", username="doomed",
        password=PASSWORD, email="d@example.org", firstname="D", lastname="D",
        domainid=shared["domainid"],
    )["user"]  # fmt: skip
    for region in (r2, r3):
        eventually(partial(_user, region, admin, doomed["id"]))

    r3.stop()
    # The same user changed in regions 1 and 2 while region 3 is away; the later change
    # (region 2's) wins everywhere, field by field nothing of region 1's survives.
    call_ok(r1.endpoint, admin, "updateUser", id=shared["id"], lastname="one", email="1@x.org")
    call_ok(r2.endpoint, admin, "updateUser", id=shared["id"], lastname="two", email="2@x.org")
    added = call_ok(
        r1.endpoint, admin, "createUser", account="shared", username="added",
        password=PASSWORD, email="a@example.org", firstname="A", lastname="A",
        domainid=shared["domainid"],
    )["user"]  # fmt: skip
    call_ok(r2.endpoint, admin, "deleteUser", id=doomed["id"])
    other = _create_identity(r2, admin, "other")
    call_ok(r1.endpoint, admin, "disableUser", id=shared["id"])

    r3.start()
    dumps = eventually(lambda: _converged(regions), timeout=60)
    users = dumps[0]["user"]
    assert users[shared["id"]]["lastname"] == "two"
    assert users[shared["id"]]["email"] == "2@x.org"
    assert users[shared["id"]]["state"] == "disabled"
    assert added["id"] in users
    assert other["id"] in users
    assert doomed["id"] not in users
    # What the API shows in region 3 agrees with its tables.
    assert _user(r3, admin, shared["id"])["lastname"] == "two"
    _absent(r3, admin, doomed["id"])


def test_a_change_reaches_a_region_through_a_third_one(
    sqlite_regions: list[LiveRegion],
) -> None:
    r1, r2, r3 = sqlite_regions
    admin = admin_keys(r1)
    r3.stop()
    domain = call_ok(r1.endpoint, admin, "createDomain", name="relayed")["domain"]
    eventually(lambda: _domain_known(r2, admin, domain["id"]))
    r1.stop()  # region 3 can no longer hear it from its origin
    r3.start()
    eventually(lambda: _domain_known(r3, admin, domain["id"]))


def _domain_known(region: LiveRegion, keys: dict[str, str], domain_id: str) -> None:
    domains = call_ok(region.endpoint, keys, "listDomains", id=domain_id)
    assert domains.get("count") == 1, domains


def test_a_logout_and_a_disabled_user_stop_working_everywhere(
    sqlite_regions: list[LiveRegion],
) -> None:
    r1, r2, r3 = sqlite_regions
    admin = admin_keys(r1)
    user = _create_identity(r1, admin, "leaving")
    keys = {"apikey": user["apikey"], "secretkey": user["secretkey"]}
    kept = eventually(lambda: _login(r3, user))
    ended = _login(r3, user)

    assert _with_session(r3, ended, "logout").status_code == 200
    for region in (r1, r2, r3):
        eventually(partial(_session_refused, region, ended))
        # Another session of the same user lives on.
        assert _with_session(region, kept).status_code == 200

    call_ok(r2.endpoint, admin, "disableUser", id=user["id"])
    for region in (r1, r2, r3):
        eventually(partial(_keys_refused, region, keys))
        eventually(partial(_session_refused, region, kept))


def _refused(answer: httpx.Response) -> None:
    assert answer.status_code in (401, 531), answer.text


def _session_refused(region: LiveRegion, token: str) -> None:
    _refused(_with_session(region, token))


def _keys_refused(region: LiveRegion, keys: dict[str, str]) -> None:
    _refused(signed_call(region.endpoint, keys, "listUsers"))
