"""``listApis`` and ``listCapabilities``: what clients such as cloudmonkey discover."""

from __future__ import annotations

from starlette.applications import Starlette

from altostratus.db.models import RoleType
from tests.conftest import Clients
from tests.support.client import ApiClient


async def test_list_apis_shows_what_the_caller_may_use(app: Starlette, clients: Clients) -> None:
    registry = app.state.registry
    for client, role in (
        (clients.admin, RoleType.ADMIN),
        (clients.d1admin, RoleType.DOMAIN_ADMIN),
        (clients.alice, RoleType.USER),
    ):
        answer = await client.ok("listApis")
        names = [api["name"] for api in answer["api"]]
        assert names == [c.name for c in registry if role in c.allowed]
        assert answer["count"] == len(names)
    admin_names = {a["name"] for a in (await clients.admin.ok("listApis"))["api"]}
    user_names = {a["name"] for a in (await clients.alice.ok("listApis"))["api"]}
    assert {"addRegion", "listApis", "login", "logout"} <= admin_names
    assert "addRegion" not in user_names
    assert {"listRegions", "listApis", "queryAsyncJobResult"} <= user_names


async def test_every_api_is_fully_described(api: ApiClient) -> None:
    for described in (await api.ok("listApis"))["api"]:
        assert described["description"], described["name"]
        assert isinstance(described["isasync"], bool)
        assert isinstance(described["related"], str)
        assert described["response"], described["name"]
        for param in described["params"]:
            assert set(param) >= {"name", "required", "type", "length", "description"}
            assert param["name"] == param["name"].lower()
            assert isinstance(param["required"], bool)
            # cloudmonkey needs an integer length for every parameter.
            assert isinstance(param["length"], int)
            assert param["length"] > 0
            assert param["description"], (described["name"], param["name"])


async def test_list_apis_by_name(clients: Clients) -> None:
    answer = await clients.alice.ok("listApis", name="login")
    assert answer["count"] == 1
    (login,) = answer["api"]
    assert (login["name"], login["isasync"]) == ("login", False)
    params = {p["name"]: p for p in login["params"]}
    assert set(params) == {"username", "password", "domain", "domainid"}
    assert (params["username"]["required"], params["username"]["type"]) == (True, "string")
    assert params["username"]["length"] == 255
    assert params["domain"]["required"] is False
    assert params["domainid"]["type"] == "uuid"


async def test_list_apis_parameter_types(api: ApiClient) -> None:
    (add_region,) = (await api.ok("listApis", name="addregion"))["api"]
    params = {p["name"]: p for p in add_region["params"]}
    assert params["id"]["type"] == "long"
    assert params["endpoint"]["type"] == "string"
    assert all(p["required"] for p in params.values())
    (list_regions,) = (await api.ok("listApis", name="listRegions"))["api"]
    types = {p["name"]: p["type"] for p in list_regions["params"]}
    assert types["listall"] == "boolean"
    assert types["pagesize"] == "long"


async def test_list_apis_hides_what_the_caller_may_not_use(clients: Clients) -> None:
    assert "addRegion" in await clients.alice.fails("listApis", 431, name="addRegion")
    await clients.alice.fails("listApis", 431, name="noSuchApi")


async def test_list_capabilities(clients: Clients) -> None:
    for client in (clients.admin, clients.alice):
        capability = (await client.ok("listCapabilities"))["capability"]
        assert capability["cloudstackversion"].startswith("4.")
        assert isinstance(capability["apilimitinterval"], int)
        assert isinstance(capability["apilimitmax"], int)
        assert capability["securitygroupsenabled"] is False
        assert capability["altostratusversion"]
