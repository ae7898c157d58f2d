"""``listEvents``: who sees which events, and the filters clients use."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from altostratus.timeutil import format_timestamp, utcnow
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.world import PASSWORD, Identity


async def _login(http: httpx.AsyncClient, who: Identity, password: str = PASSWORD) -> None:
    await http.post(
        "/client/api",
        params={
            "command": "login",
            "response": "json",
            "username": who.username,
            "password": password,
            "domain": who.domain_path,
        },
    )


@pytest.fixture
async def logins(http: httpx.AsyncClient, identities: dict[str, Identity]) -> None:
    """One USER.LOGIN event in each seeded user's own account."""
    for name in ("d1admin", "alice", "carol", "bob"):
        await _login(http, identities[name])


def _accounts(listing: dict[str, object]) -> set[str]:
    events = listing.get("event", [])
    assert isinstance(events, list)
    return {event["account"] for event in events}


@pytest.mark.usefixtures("logins")
async def test_users_see_their_own_accounts_events(clients: Clients) -> None:
    for name in ("alice", "bob", "carol"):
        client: ApiClient = getattr(clients, name)
        assert _accounts(await client.ok("listEvents")) == {name}
        # listall does not widen a user's view.
        assert _accounts(await client.ok("listEvents", listall=True)) == {name}


@pytest.mark.usefixtures("logins")
async def test_admins_see_more_with_listall(clients: Clients, api: ApiClient) -> None:
    await api.ok("addRegion", id=2, name="Two", endpoint="http://two/client/api")
    assert _accounts(await api.ok("listEvents")) == {"admin"}
    assert _accounts(await api.ok("listEvents", listall=True)) == {
        "admin",
        "d1admin",
        "alice",
        "carol",
        "bob",
    }
    assert _accounts(await clients.d1admin.ok("listEvents")) == {"d1admin"}
    assert _accounts(await clients.d1admin.ok("listEvents", listall=True)) == {
        "d1admin",
        "alice",
        "carol",
    }


@pytest.mark.usefixtures("logins")
async def test_event_fields(clients: Clients, identities: dict[str, Identity]) -> None:
    (event,) = (await clients.carol.ok("listEvents"))["event"]
    carol = identities["carol"]
    assert event["type"] == "USER.LOGIN"
    assert (event["level"], event["state"]) == ("INFO", "Completed")
    assert (event["username"], event["account"]) == ("carol", "carol")
    assert (event["domainid"], event["domain"]) == (carol.domain_id, "sub")
    assert (event["resourcetype"], event["resourceid"]) == ("User", carol.user_id)
    assert event["created"].endswith("+0000")
    by_id = await clients.carol.ok("listEvents", id=event["id"])
    assert by_id["event"] == [event]


async def test_filter_by_type_and_level(
    api: ApiClient, http: httpx.AsyncClient, identities: dict[str, Identity]
) -> None:
    alice = identities["alice"]
    await _login(http, alice)
    for _ in range(5):
        await _login(http, alice, password="wrong")
    warnings = await api.ok("listEvents", listall=True, level="WARN")
    assert [e["type"] for e in warnings["event"]] == ["USER.LOCK"]
    assert (await api.ok("listEvents", listall=True, level="warn"))["count"] == 1
    logins = await api.ok("listEvents", listall=True, type="user.login")
    assert [e["account"] for e in logins["event"]] == ["alice"]
    assert "level" in await api.fails("listEvents", 431, level="LOUD")


@pytest.mark.usefixtures("logins")
async def test_filter_by_dates(clients: Clients) -> None:
    alice = clients.alice
    now = utcnow()
    hour = timedelta(hours=1)
    assert (await alice.ok("listEvents", startdate=format_timestamp(now - hour)))["count"] == 1
    assert await alice.ok("listEvents", startdate=format_timestamp(now + hour)) == {}
    assert (await alice.ok("listEvents", enddate=format_timestamp(now + hour)))["count"] == 1
    assert await alice.ok("listEvents", enddate=format_timestamp(now - hour)) == {}
    between = {"startdate": format_timestamp(now - hour), "enddate": format_timestamp(now + hour)}
    assert (await alice.ok("listEvents", **between))["count"] == 1
    assert "startdate" in await alice.fails("listEvents", 431, startdate="yesterday")


@pytest.mark.usefixtures("logins")
async def test_date_bounds_are_inclusive_at_the_precision_given(clients: Clients) -> None:
    """CloudStack's ``enddate=2026-11-21`` means the end of that day; times have seconds."""
    alice = clients.alice
    (event,) = (await alice.ok("listEvents"))["event"]
    created = event["created"]
    day = created[:10]
    assert (await alice.ok("listEvents", enddate=day))["count"] == 1
    assert (await alice.ok("listEvents", startdate=day, enddate=day))["count"] == 1
    assert (await alice.ok("listEvents", enddate=created))["count"] == 1
    assert (await alice.ok("listEvents", startdate=created))["count"] == 1
    assert (await alice.ok("listEvents", enddate=created.replace("T", " ")[:19]))["count"] == 1


async def test_keyword_and_pagination(api: ApiClient) -> None:
    for number in range(2, 7):
        await api.ok("addRegion", id=number, name=f"Region{number}", endpoint="http://r/client/api")
    await api.ok("removeRegion", id=2)
    added = await api.ok("listEvents", keyword="added region")
    assert added["count"] == 5
    assert (await api.ok("listEvents", keyword="REGION.DELETE"))["count"] == 1
    first = await api.ok("listEvents", keyword="added", page=1, pagesize=2)
    third = await api.ok("listEvents", keyword="added", page=3, pagesize=2)
    assert (first["count"], len(first["event"])) == (5, 2)
    assert (third["count"], len(third["event"])) == (5, 1)
    # Newest first, and the pages do not overlap.
    descriptions = [e["description"] for e in first["event"] + third["event"]]
    assert "Region6" in descriptions[0]
    assert "Region2" in descriptions[-1]
    assert await api.ok("listEvents", keyword="no such words") == {}
