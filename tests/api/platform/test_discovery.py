"""``listApis`` and ``listCapabilities``: what clients such as cloudmonkey discover."""

from __future__ import annotations

from typing import Any

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
    assert params["id"]["type"] == "integer"  # CloudStack's INTEGER: 32 bits
    assert params["endpoint"]["type"] == "string"
    assert all(p["required"] for p in params.values())
    (list_regions,) = (await api.ok("listApis", name="listRegions"))["api"]
    types = {p["name"]: p["type"] for p in list_regions["params"]}
    assert types["listall"] == "boolean"
    assert types["pagesize"] == "integer"


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


def _by_name(fields: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {field["name"]: field for field in fields}


async def _response_of(api: ApiClient, name: str) -> dict[str, dict[str, Any]]:
    (described,) = (await api.ok("listApis", name=name))["api"]
    return _by_name(described["response"])


async def test_list_apis_describes_the_fields_of_the_answer(api: ApiClient) -> None:
    zone = await _response_of(api, "createZone")
    assert {"id", "name", "networktype", "allocationstate", "securitygroupsenabled"} <= set(zone)
    assert zone["id"] == {"name": "id", "description": "the id of the zone", "type": "string"}
    assert zone["name"]["description"] == "the name of the zone"
    assert (zone["securitygroupsenabled"]["type"], zone["created"]["type"]) == ("boolean", "date")
    assert all("response" not in field for field in zone.values())
    # A listing describes its element, as CloudStack does: the same fields.
    assert await _response_of(api, "listZones") == zone


async def test_list_apis_nests_the_fields_of_lists_and_objects(api: ApiClient) -> None:
    vm = await _response_of(api, "listVirtualMachines")
    assert vm["cpunumber"]["type"] == "integer"
    assert vm["nic"]["type"] == "list"
    nic = _by_name(vm["nic"]["response"])
    assert {"id", "networkid", "ipaddress", "isdefault", "macaddress"} <= set(nic)
    assert (nic["id"]["description"], nic["isdefault"]["type"]) == ("the id of the nic", "boolean")
    account = await _response_of(api, "createAccount")
    user = _by_name(account["user"]["response"])
    assert (account["user"]["type"], user["id"]["type"], user["username"]["type"]) == (
        "list",
        "string",
        "string",
    )


async def test_list_apis_describes_what_success_and_jobs_answer(api: ApiClient) -> None:
    success = await _response_of(api, "deleteZone")
    assert {name: field["type"] for name, field in success.items()} == {
        "success": "boolean",
        "displaytext": "string",
    }
    assert set(await _response_of(api, "deleteSnapshot")) == {
        "success",
        "displaytext",
        "jobid",
        "jobstatus",
    }
    # An asynchronous command: the fields of its job's result, and the job's id and status.
    deploy = await _response_of(api, "deployVirtualMachine")
    assert list(deploy) == [*await _response_of(api, "listVirtualMachines"), "jobid", "jobstatus"]
    assert deploy["jobid"]["type"] == "string"
    assert "queryAsyncJobResult" in deploy["jobid"]["description"]


async def test_list_apis_response_types_are_cloudstack_names(api: ApiClient) -> None:
    known = {"string", "integer", "long", "double", "boolean", "date", "list", "map", "object"}

    def check(api_name: str, fields: list[dict[str, Any]]) -> None:
        for field in fields:
            assert field["type"] in known, (api_name, field)
            assert set(field) <= {"name", "type", "description", "response"}, (api_name, field)
            if "response" in field:
                assert field["type"] in ("list", "object"), (api_name, field)
                check(api_name, field["response"])

    for described in (await api.ok("listApis"))["api"]:
        check(described["name"], described["response"])
        names = [field["name"] for field in described["response"]]
        assert len(names) == len(set(names)), described["name"]
