"""The wire: answer shapes in JSON and XML, errors, and how parameters are read."""

from __future__ import annotations

import asyncio
import uuid
from xml.etree import ElementTree

import httpx
import pytest
from pydantic import Field

from altostratus.api.params import (
    CommaList,
    MapParam,
    Params,
    UuidList,
    collect_params,
    parse_params,
)
from altostratus.errors import InvalidParameter
from altostratus.security.signatures import sign
from tests.support.client import ApiClient
from tests.support.world import PASSWORD, Identity

JSON_TYPE = "application/json; charset=UTF-8"


def _signed(who: Identity, command: str, **params: str) -> dict[str, str]:
    query = {"command": command, "apikey": who.api_key, **params}
    query["signature"] = sign(query, who.secret_key)
    return query


async def _regions(api: ApiClient, *names: str) -> None:
    for number, name in enumerate(names, start=2):
        await api.ok("addRegion", id=number, name=name, endpoint=f"http://r{number}/client/api")


# Rendering


async def test_json_answer_has_one_key_and_the_cloudstack_content_type(
    http: httpx.AsyncClient, identities: dict[str, Identity]
) -> None:
    response = await http.get(
        "/client/api", params=_signed(identities["alice"], "listRegions", response="json")
    )
    assert response.headers["content-type"] == JSON_TYPE
    assert response.json() == {
        "listregionsresponse": {
            "count": 1,
            "region": [
                {
                    "id": 1,
                    "name": "Local",
                    "endpoint": "http://127.0.0.1:8080/client/api",
                    "gslbserviceenabled": True,
                    "portableipserviceenabled": False,
                }
            ],
        }
    }


async def test_xml_is_the_default_with_the_same_shape(
    http: httpx.AsyncClient, identities: dict[str, Identity], api: ApiClient
) -> None:
    await _regions(api, "Two")
    response = await http.get("/client/api", params=_signed(identities["alice"], "listRegions"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    root = ElementTree.fromstring(response.content)
    assert root.tag == "listregionsresponse"
    assert root.attrib["cloud-stack-version"]
    assert root.findtext("count") == "2"
    regions = root.findall("region")
    assert [r.findtext("name") for r in regions] == ["Local", "Two"]
    assert regions[0].findtext("id") == "1"
    assert regions[0].findtext("gslbserviceenabled") == "true"
    assert regions[0].findtext("portableipserviceenabled") == "false"


async def test_xml_error(http: httpx.AsyncClient, identities: dict[str, Identity]) -> None:
    params = _signed(identities["admin"], "addRegion", id="0", name="x", endpoint="http://x/")
    response = await http.get("/client/api", params=params)
    assert response.status_code == 431
    root = ElementTree.fromstring(response.content)
    assert root.tag == "addregionresponse"
    assert root.findtext("errorcode") == "431"
    assert root.findtext("cserrorcode") == "4350"
    assert "id" in (root.findtext("errortext") or "")


async def test_error_body_and_description_header(api: ApiClient) -> None:
    answer = await api.call("addRegion", id=1, name="Again", endpoint="http://x/client/api")
    assert answer.status == 431
    assert answer.headers["content-type"] == JSON_TYPE
    assert answer.body == {
        "uuidList": [],
        "errorcode": 431,
        "cserrorcode": 4350,
        "errortext": answer.body["errortext"],
    }
    assert answer.headers["X-Description"] == answer.body["errortext"]


async def test_unknown_command_is_432_under_errorresponse(
    http: httpx.AsyncClient, identities: dict[str, Identity]
) -> None:
    params = _signed(identities["alice"], "deployWarpDrive", response="json")
    response = await http.get("/client/api", params=params)
    assert response.status_code == 432
    body = response.json()["errorresponse"]
    assert body["errorcode"] == 432
    assert "deployWarpDrive" in body["errortext"]
    assert response.headers["X-Description"] == body["errortext"]


async def test_missing_command_is_432(
    http: httpx.AsyncClient, identities: dict[str, Identity]
) -> None:
    params = _signed(identities["alice"], "", response="json")
    response = await http.get("/client/api", params=params)
    assert response.status_code == 432
    assert list(response.json()) == ["errorresponse"]


async def test_null_fields_are_omitted(api: ApiClient) -> None:
    await _regions(api, "Two")
    event = (await api.ok("listEvents", type="REGION.ADD"))["event"][0]
    assert "resourceid" not in event, "a REGION.ADD event names no resource uuid"
    assert all(value is not None for value in event.values())


async def test_empty_list_is_an_empty_object(api: ApiClient) -> None:
    assert await api.ok("listRegions", name="Nowhere") == {}
    assert await api.ok("listRegions", page=5, pagesize=10) == {}


async def test_success_is_the_string_true(api: ApiClient) -> None:
    await _regions(api, "Two")
    assert await api.ok("removeRegion", id=2) == {"success": "true"}


async def test_metrics_count_answers(api: ApiClient, http: httpx.AsyncClient) -> None:
    await api.fails("addRegion", 431, id=0, name="x", endpoint="http://x/")
    text = (await http.get("/metrics")).text
    assert 'altostratus_api_requests_total{code="431",command="addregion"}' in text


# Parsing


async def test_post_form_body(
    http: httpx.AsyncClient, identities: dict[str, Identity], api: ApiClient
) -> None:
    form = _signed(
        identities["admin"],
        "addRegion",
        response="json",
        id="2",
        name="Two",
        endpoint="http://two/client/api?a=1&b=2",
    )
    response = await http.post("/client/api", data=form)
    assert response.status_code == 200, response.text
    assert response.json()["addregionresponse"]["region"]["endpoint"] == (
        "http://two/client/api?a=1&b=2"
    )
    assert (await api.ok("listRegions", id=2))["count"] == 1


async def test_parameter_names_are_case_insensitive(api: ApiClient) -> None:
    await _regions(api, "Two", "Three")
    assert (await api.ok("listRegions", Id=3))["region"][0]["name"] == "Three"
    page = await api.ok("listRegions", Page=1, PageSize=1)
    assert (page["count"], len(page["region"])) == (3, 1)
    assert (await api.ok("LISTREGIONS", KeyWord="thr"))["count"] == 1


@pytest.mark.parametrize(
    ("value", "sees_others"),
    [
        ("True", True),
        ("true", True),
        ("TRUE", True),
        ("False", False),
        ("None", False),
        ("", False),
    ],
)
async def test_boolean_spellings(
    api: ApiClient, http: httpx.AsyncClient, value: str, sees_others: bool
) -> None:
    """libcloud sends ``True``/``False``/``None``; ``None`` and empty mean not given."""
    login = await http.post(
        "/client/api",
        params={
            "command": "login",
            "response": "json",
            "username": "alice",
            "password": PASSWORD,
            "domain": "/d1",
        },
    )
    assert login.status_code == 200
    # Alice's login event is hers: the admin sees it only with listall.
    seen = await api.ok("listEvents", listall=value, type="USER.LOGIN")
    assert bool(seen) is sees_others


async def test_bad_boolean_is_431_naming_it(api: ApiClient) -> None:
    assert "listall" in await api.fails("listEvents", 431, listall="maybe")


async def test_page_and_pagesize_go_together(api: ApiClient) -> None:
    await _regions(api, "Two")
    assert "pagesize" in await api.fails("listRegions", 431, page=1)
    assert "page" in await api.fails("listRegions", 431, pagesize=1)
    assert "page" in await api.fails("listRegions", 431, page=0, pagesize=1)
    assert "pagesize" in await api.fails("listRegions", 431, page=1, pagesize="ten")


async def test_pagination_counts_every_match(api: ApiClient) -> None:
    await _regions(api, "Two", "Three", "Four", "Five")
    pages = [await api.ok("listRegions", page=n, pagesize=2) for n in (1, 2, 3)]
    assert [p["count"] for p in pages] == [5, 5, 5]
    names = [r["name"] for p in pages for r in p["region"]]
    assert names == ["Local", "Two", "Three", "Four", "Five"]
    assert await api.ok("listRegions", page=4, pagesize=2) == {}


async def test_pagesize_minus_one_lists_all(api: ApiClient) -> None:
    await _regions(api, "Two", "Three")
    everything = await api.ok("listRegions", pagesize=-1)
    assert (everything["count"], len(everything["region"])) == (3, 3)
    with_page = await api.ok("listRegions", page=2, pagesize=-1)
    assert len(with_page["region"]) == 3


async def test_keyword_filters(api: ApiClient) -> None:
    await _regions(api, "Europe-West", "Europe-East", "Asia", "50%_off")
    europe = await api.ok("listRegions", keyword="europe")
    assert [r["name"] for r in europe["region"]] == ["Europe-West", "Europe-East"]
    assert europe["count"] == 2
    # LIKE wildcards in the keyword are literal characters.
    assert [r["name"] for r in (await api.ok("listRegions", keyword="%_"))["region"]] == ["50%_off"]
    assert await api.ok("listRegions", keyword="atlantis") == {}


async def test_unknown_parameters_are_ignored(api: ApiClient) -> None:
    assert (await api.ok("listRegions", zoneid="x", _="1700000000"))["count"] == 1


async def test_over_long_value_is_431(api: ApiClient) -> None:
    text = await api.fails("addRegion", 431, id=2, name="n" * 256, endpoint="http://r/")
    assert "name" in text
    assert (await api.ok("listRegions"))["count"] == 1


def test_names_are_lowercased_and_maps_folded() -> None:
    pairs = [
        ("Command", "createTags"),
        ("Tags[1].Key", "b"),
        ("tags[0].key", "a"),
        ("tags[0].value", "1"),
        ("tags[1].value", "2"),
        ("ResourceIds", "x,y"),
    ]
    assert collect_params(pairs) == {
        "command": "createTags",
        "tags": [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}],
        "resourceids": "x,y",
    }


class _Example(Params):
    ids: UuidList | None = Field(None, description="Ids")
    names: CommaList | None = Field(None, description="Names")
    details: MapParam | None = Field(None, description="Details")
    flag: bool = Field(False, description="A flag")
    text: str | None = Field(None, description="Text")


def test_parse_params_wire_conventions() -> None:
    one, two = str(uuid.uuid4()), str(uuid.uuid4())
    parsed = parse_params(
        "example",
        _Example,
        {
            "ids": f"{one.upper()}, {two}",
            "names": "a,,b ,",
            "details": [{"key": "k"}],
            "flag": "None",
            "text": "None",
            "other": "ignored",
        },
    )
    assert parsed.ids == [one, two], "UUIDs are canonical (lowercase)"
    assert parsed.names == ["a", "b"]
    assert parsed.details == [{"key": "k"}]
    assert parsed.flag is False, "None for a boolean means not given"
    assert parsed.text == "None", "but a string may be the word None"


@pytest.mark.parametrize(
    ("raw", "parameter"),
    [({"ids": "nope"}, "ids"), ({"flag": "sure"}, "flag"), ({"names": "x" * 70000}, "names")],
)
def test_parse_params_errors_name_the_parameter(raw: dict[str, str], parameter: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_params("example", _Example, raw)
    assert caught.value.code == 431
    assert f"parameter {parameter}" in caught.value.text


async def test_concurrent_creates_of_one_name_make_one_object(api: ApiClient) -> None:
    """Racing creates of the same name: one wins, the others get 431, never 530."""
    answers = await asyncio.gather(
        *(
            api.call(
                "createZone",
                name="raced",
                dns1="8.8.8.8",
                internaldns1="10.0.0.2",
                networktype="Advanced",
            )
            for _ in range(6)
        )
    )
    statuses = sorted(answer.status for answer in answers)
    assert set(statuses) <= {200, 431}, [a.body for a in answers]
    assert statuses.count(200) == 1
    assert (await api.ok("listZones", name="raced"))["count"] == 1
