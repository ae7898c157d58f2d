"""Region registry commands, including CloudStack's own (Marvin) region checks."""

from __future__ import annotations

from typing import Any

from tests.conftest import Clients
from tests.support.client import ApiClient


async def test_marvin_add_list_compare_remove(api: ApiClient) -> None:
    added = await api.ok("addRegion", id=2, name="Region2", endpoint="http://region2:8080/client")
    assert added["region"] == {
        "id": 2,
        "name": "Region2",
        "endpoint": "http://region2:8080/client",
        "gslbserviceenabled": True,
        "portableipserviceenabled": False,
    }
    listed = await api.ok("listRegions", id=2)
    assert listed["count"] == 1
    region = listed["region"][0]
    assert (region["id"], region["name"], region["endpoint"]) == (
        2,
        "Region2",
        "http://region2:8080/client",
    )
    assert await api.ok("removeRegion", id=2) == {"success": "true"}
    assert await api.ok("listRegions", id=2) == {}


async def test_local_region_is_listed_and_cannot_be_removed(api: ApiClient) -> None:
    listed = await api.ok("listRegions")
    assert [r["name"] for r in listed["region"]] == ["Local"]
    text = await api.fails("removeRegion", 431, id=1)
    assert "local region" in text
    assert (await api.ok("listRegions"))["count"] == 1


async def test_update_region(api: ApiClient) -> None:
    await api.ok("addRegion", id=3, name="Three", endpoint="http://three/client/api")
    updated = await api.ok("updateRegion", id=3, name="Drei")
    assert updated["region"]["name"] == "Drei"
    assert updated["region"]["endpoint"] == "http://three/client/api"
    moved = await api.ok("updateRegion", id=3, endpoint="https://drei.example/client/api")
    assert moved["region"]["endpoint"] == "https://drei.example/client/api"


async def test_duplicate_ids_and_names_are_refused(api: ApiClient) -> None:
    await api.ok("addRegion", id=2, name="Region2", endpoint="http://r2/client/api")
    assert "already exists" in await api.fails(
        "addRegion", 431, id=2, name="Other", endpoint="http://r/client/api"
    )
    assert "already exists" in await api.fails(
        "addRegion", 431, id=4, name="Region2", endpoint="http://r/client/api"
    )
    assert "already exists" in await api.fails("updateRegion", 431, id=2, name="Local")
    assert (await api.ok("listRegions"))["count"] == 2


async def test_bad_and_missing_parameters_name_the_parameter(api: ApiClient) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"name": "R", "endpoint": "http://r/"}, "id"),
        ({"id": 2, "endpoint": "http://r/"}, "name"),
        ({"id": 2, "name": "R"}, "endpoint"),
        ({"id": "two", "name": "R", "endpoint": "http://r/"}, "id"),
        ({"id": 0, "name": "R", "endpoint": "http://r/"}, "id"),
        ({"id": 2, "name": "R", "endpoint": "not a url"}, "endpoint"),
    ]
    for params, parameter in cases:
        text = await api.fails("addRegion", 431, **params)
        assert parameter in text, (params, text)
    assert "does not exist" in await api.fails("updateRegion", 431, id=9, name="x")
    assert "does not exist" in await api.fails("removeRegion", 431, id=9)
    assert (await api.ok("listRegions"))["count"] == 1


async def test_only_root_admins_change_the_registry(clients: Clients) -> None:
    for client in (clients.d1admin, clients.alice):
        await client.fails("addRegion", 531, id=2, name="R2", endpoint="http://r2/client/api")
        await client.fails("updateRegion", 531, id=1, name="Mine")
        await client.fails("removeRegion", 531, id=1)
        assert (await client.ok("listRegions"))["region"][0]["name"] == "Local"


async def test_region_changes_are_events(api: ApiClient) -> None:
    await api.ok("addRegion", id=2, name="Region2", endpoint="http://r2/client/api")
    await api.ok("removeRegion", id=2)
    types = [e["type"] for e in (await api.ok("listEvents"))["event"]]
    assert types[:2] == ["REGION.DELETE", "REGION.ADD"]
