"""Values an attacker sends: integers past their type, control characters, huge strings.
Each is a 431 naming the parameter, nothing is changed, and every answer parses."""

from __future__ import annotations

from xml.etree import ElementTree

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import update
from starlette.applications import Starlette

from altostratus.api.params import api_type_of
from altostratus.api.registry import build_registry
from altostratus.db.models import Domain
from altostratus.security.signatures import sign
from tests.support.client import ApiClient
from tests.support.world import Identity

LONG_PAST = str(1 << 63)  # Long.MAX_VALUE + 1
INT_PAST = str(1 << 31)  # Integer.MAX_VALUE + 1


@pytest.mark.parametrize(
    ("command", "params", "parameter"),
    [
        ("addRegion", {"id": LONG_PAST, "name": "r", "endpoint": "http://r/client/api"}, "id"),
        ("addRegion", {"id": INT_PAST, "name": "r", "endpoint": "http://r/client/api"}, "id"),
        ("updateRegion", {"id": LONG_PAST, "name": "r"}, "id"),
        ("removeRegion", {"id": LONG_PAST}, "id"),
        ("listRegions", {"id": LONG_PAST}, "id"),
        ("listRegions", {"id": INT_PAST}, "id"),
        ("listDomains", {"level": LONG_PAST}, "level"),
        ("listDomains", {"level": str(-(1 << 63) - 1)}, "level"),
        ("listZones", {"page": INT_PAST, "pagesize": "10"}, "page"),
        ("listZones", {"page": "1", "pagesize": LONG_PAST}, "pagesize"),
        ("listCapacity", {"type": LONG_PAST}, "type"),
        ("updateResourceLimit", {"resourcetype": "0", "max": LONG_PAST}, "max"),
    ],
)
async def test_integers_past_their_type_are_431_naming_the_parameter(
    api: ApiClient, command: str, params: dict[str, str], parameter: str
) -> None:
    """They answered 530: the database driver could not store the number."""
    text = await api.fails(command, 431, **params)
    assert f"Invalid parameter {parameter} value=" in text
    assert [r["id"] for r in (await api.ok("listRegions"))["region"]] == [1]


async def test_the_extremes_of_each_type_still_reach_the_command(
    api: ApiClient, identities: dict[str, Identity]
) -> None:
    assert await api.ok("listRegions", id=str((1 << 31) - 1)) == {}
    limit = await api.ok(
        "updateResourceLimit",
        resourcetype="0",
        max=str((1 << 63) - 1),
        domainid=identities["bob"].domain_id,
    )
    assert limit["resourcelimit"]["max"] == (1 << 63) - 1


@pytest.mark.parametrize("value", ["a\x00b", "\x01", "tab\tok\x1f", "\x7f", "x\x0b"])
async def test_control_characters_are_refused_in_every_parameter(
    api: ApiClient, value: str
) -> None:
    for params in (
        {"name": value},  # a declared string
        {"name": "fine", "nosuchparameter": value},  # CloudStack checks every value
    ):
        text = await api.fails("createDomain", 431, **params)
        assert "illegal ASCII non-printable characters for parameter" in text
    domains = (await api.ok("listDomains", listall=True))["domain"]
    assert {d["name"] for d in domains} == {"ROOT", "d1", "d2", "sub"}


async def test_control_characters_in_map_values_are_refused(api: ApiClient) -> None:
    text = await api.fails(
        "createTags",
        431,
        resourcetype="UserVm",
        resourceids="7c3f5b9e-0000-4000-8000-000000000000",
        **{"tags[0].key": "k", "tags[0].value": "v\x00"},
    )
    assert "parameter tags" in text


async def test_tab_line_feed_and_carriage_return_pass_as_cloudstack_lets_them(
    api: ApiClient,
) -> None:
    domain = (await api.ok("createDomain", name="two\tlines\r\nhere"))["domain"]
    assert domain["name"] == "two\tlines\r\nhere"


async def test_a_refused_value_is_echoed_only_in_part(api: ApiClient) -> None:
    answer = await api.call("listZones", id="z" * 10_000)
    assert answer.status == 431
    assert len(answer.error_text) < 500
    assert "(10000 characters)" in answer.error_text


async def _xml(http: httpx.AsyncClient, who: Identity, **params: str) -> ElementTree.Element:
    query = {**params, "apikey": who.api_key}
    query["signature"] = sign(query, who.secret_key)
    response = await http.get("/client/api", params=query)
    return ElementTree.fromstring(response.content)


async def test_stored_names_xml_cannot_carry_still_give_parseable_xml_and_json(
    app: Starlette, http: httpx.AsyncClient, identities: dict[str, Identity], api: ApiClient
) -> None:
    """Names accepted before control characters were refused are still in databases:
    the answer replaces what XML 1.0 cannot hold, and JSON escapes it."""
    stored = "bad\x01name\x1b\ufffe"
    async with app.state.runtime.db.transaction() as session:
        await session.execute(update(Domain).where(Domain.name == "d2").values(name=stored))
    root = await _xml(http, identities["admin"], command="listDomains", listall="true")
    names = {d.findtext("name") for d in root.findall("domain")}
    assert "bad\ufffdname\ufffd\ufffd" in names
    domains = (await api.ok("listDomains", listall=True))["domain"]
    assert stored in {d["name"] for d in domains}


async def test_a_hostile_command_name_still_gives_a_valid_xml_root(
    http: httpx.AsyncClient, identities: dict[str, Identity]
) -> None:
    root = await _xml(http, identities["admin"], command="no such<command>")
    assert root.findtext("errorcode") == "432"


def _integer_fields() -> list[tuple[str, str, str]]:
    """(command, parameter, listApis type) of every integer parameter declared."""
    found = []
    for command in build_registry():
        for name, field in command.params.model_fields.items():
            kind = api_type_of(field)
            if kind in ("short", "integer", "long"):
                found.append((command.name, name, kind))
    return found


def test_every_integer_parameter_refuses_what_its_type_cannot_hold() -> None:
    """From the declarations, so a new integer parameter is covered without a line here:
    one past its type's largest and smallest value is an error on that parameter."""
    fields = _integer_fields()
    assert len(fields) > 50
    bits = {"short": 16, "integer": 32, "long": 64}
    for command, name, kind in fields:
        model = build_registry().get(command).params  # type: ignore[union-attr]
        for value in (1 << (bits[kind] - 1), -(1 << (bits[kind] - 1)) - 1):
            with pytest.raises(ValidationError) as caught:
                model.model_validate({name: str(value)})
            assert any(e["loc"] == (name,) for e in caught.value.errors()), (command, name, value)
