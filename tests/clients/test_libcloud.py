"""Apache Libcloud's CloudStack driver against a live server.

libcloud signs differently from ``cs`` (names lowercased before sorting, ``[``/``]``
raw), reads ``<command>response`` itself, raises ``InvalidCredsError`` on 401 and
``ProviderError`` carrying the HTTP status otherwise, and polls async jobs through
``queryAsyncJobResult`` on its own.
"""

from __future__ import annotations

from typing import Any

import pytest
from cs import CloudStack
from libcloud.common.types import InvalidCredsError, ProviderError
from libcloud.compute.providers import get_driver
from libcloud.compute.types import Provider

from tests.clients.conftest import create_account, create_zone, unique, user_keys
from tests.support.server import LiveServer

pytestmark = pytest.mark.slow


def driver_for(server: LiveServer, key: str, secret: str) -> Any:
    """A CloudStack driver; without ``secure=False`` libcloud would speak HTTPS."""
    cls = get_driver(Provider.CLOUDSTACK)
    return cls(key, secret, url=server.endpoint, secure=False)


@pytest.fixture
def admin_driver(live: LiveServer) -> Any:
    admin = live.admin
    return driver_for(live, admin["apikey"], admin["secretkey"])


@pytest.fixture
def user_driver(live: LiveServer, admin_cs: CloudStack) -> Any:
    account = create_account(admin_cs, unique("cloud"))
    return driver_for(live, *user_keys(admin_cs, account["user"][0]["id"]))


def provider_error(call: Any, *args: Any, **kwargs: Any) -> ProviderError:
    with pytest.raises(ProviderError) as raised:
        call(*args, **kwargs)
    return raised.value


def test_list_locations_returns_the_zones(
    admin_cs: CloudStack, admin_driver: Any, user_driver: Any
) -> None:
    zone = create_zone(admin_cs, unique("zone"))
    for driver in (admin_driver, user_driver):
        locations = {location.id: location.name for location in driver.list_locations()}
        assert locations[zone["id"]] == zone["name"]


def test_commands_through_the_driver_connection(admin_cs: CloudStack, admin_driver: Any) -> None:
    """libcloud's own signing of names in mixed case and values with spaces is accepted."""
    name = f"{unique('zone')} by libcloud"
    created = admin_driver._sync_request(
        "createZone",
        params={
            "name": name,
            "networkType": "Advanced",
            "dns1": "192.0.2.1",
            "internalDns1": "10.0.0.1",
        },
    )
    assert created["zone"]["name"] == name
    listed = admin_cs.listZones(id=created["zone"]["id"])["zone"]
    assert [z["name"] for z in listed] == [name]


def test_async_job_is_polled_to_its_result(admin_cs: CloudStack, admin_driver: Any) -> None:
    account = create_account(admin_cs, unique("leaving"))
    result = admin_driver._async_request("deleteAccount", params={"id": account["id"]})
    assert str(result["success"]).lower() == "true"
    assert admin_cs.listAccounts(listall=True, name=account["name"]) == {}


def test_server_errors_become_libcloud_exceptions(
    live: LiveServer, admin_cs: CloudStack, admin_driver: Any, user_driver: Any
) -> None:
    before = admin_cs.listZones().get("count", 0)

    bad = provider_error(admin_driver._sync_request, "listZones", params={"id": "not-a-uuid"})
    assert bad.http_code == 431
    assert "id" in bad.value

    missing = provider_error(admin_driver._sync_request, "createZone", params={"name": "z"})
    assert missing.http_code == 431

    denied = provider_error(
        user_driver._sync_request,
        "createZone",
        params={
            "name": unique("mine"),
            "networktype": "Basic",
            "dns1": "192.0.2.1",
            "internaldns1": "10.0.0.1",
        },
    )
    assert denied.http_code == 531
    assert admin_cs.listZones().get("count", 0) == before

    unknown = provider_error(admin_driver._sync_request, "listCumulusClouds")
    assert unknown.http_code == 432

    forged = driver_for(live, live.admin["apikey"], "not-the-secret")
    with pytest.raises(InvalidCredsError):
        forged.list_locations()
