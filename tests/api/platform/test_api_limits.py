"""CloudStack's API throttling on one server: 429 past the limit, getApiLimit, resetApiLimit."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.world import PASSWORD, Identity

LIMIT = 5
#: Long enough that no window ends during a test (windows are aligned on the epoch).
INTERVAL = 100_000


@pytest.fixture
async def throttled(api: ApiClient) -> None:
    for name, value in (
        ("api.throttling.interval", INTERVAL),
        ("api.throttling.max", LIMIT),
        ("api.throttling.enabled", "true"),
    ):
        await api.ok("updateConfiguration", name=name, value=value)


async def _spend(client: ApiClient, times: int = LIMIT) -> None:
    for _ in range(times):
        await client.ok("listZones")


@pytest.mark.usefixtures("throttled")
async def test_past_the_limit_an_account_gets_429_and_others_do_not(
    api: ApiClient, clients: Clients
) -> None:
    await _spend(api, LIMIT + 3)  # the root admin is not throttled, as in CloudStack
    await _spend(clients.alice)
    refused = await clients.alice.call("listZones")
    assert refused.status == 429
    assert refused.body["errorcode"] == 429
    assert refused.error_text.startswith(
        "The given user has reached his/her account api limit, please retry after ["
    )
    assert 1 <= int(refused.headers["Retry-After"]) <= INTERVAL
    # A refused request is not served and does not count; other accounts are untouched.
    for other in (clients.bob, clients.carol):
        await _spend(other)
    assert (await clients.bob.call("listZones")).status == 429


@pytest.mark.usefixtures("throttled")
async def test_get_api_limit_counts_the_callers_requests_and_logins_do_not_count(
    clients: Clients, http: httpx.AsyncClient, identities: dict[str, Identity]
) -> None:
    bob = identities["bob"]
    for _ in range(3):
        login = await http.post(
            "/client/api",
            params={"command": "login", "response": "json", "username": "bob"}
            | {"password": PASSWORD, "domain": bob.domain_path},
        )
        assert login.status_code == 200, login.text
    await _spend(clients.bob, 2)
    limit = (await clients.bob.ok("getApiLimit"))["apilimit"]
    assert limit["account"] == bob.account
    assert limit["accountid"] == bob.account_id
    assert (limit["apiIssued"], limit["apiAllowed"]) == (3, LIMIT - 3), "getApiLimit counts"
    assert 0 < limit["expireAfter"] <= INTERVAL * 1000
    capability = (await clients.bob.ok("listCapabilities"))["capability"]
    assert (capability["apilimitinterval"], capability["apilimitmax"]) == (INTERVAL, LIMIT)


@pytest.mark.usefixtures("throttled")
async def test_reset_api_limit_starts_one_account_or_all_again(
    api: ApiClient, clients: Clients, identities: dict[str, Identity]
) -> None:
    for client in (clients.alice, clients.bob):
        await _spend(client)
    await api.ok("resetApiLimit", account=identities["alice"].account_id)
    await _spend(clients.alice, 1)
    assert (await clients.bob.call("listZones")).status == 429, "only alice's count was reset"
    await api.ok("resetApiLimit")
    await _spend(clients.bob)


@pytest.mark.usefixtures("throttled")
async def test_only_the_root_admin_resets_and_a_bad_account_is_431(
    api: ApiClient, clients: Clients, identities: dict[str, Identity]
) -> None:
    alice = identities["alice"].account_id
    await clients.d1admin.fails("resetApiLimit", 531, account=alice)
    await clients.alice.fails("resetApiLimit", 531)
    text = await api.fails("resetApiLimit", 431, account="8d3f0c7e-0000-4000-8000-000000000000")
    assert "account" in text
    await api.fails("resetApiLimit", 431, account="not-a-uuid")


async def test_without_throttling_nothing_is_counted_and_the_commands_say_so(
    api: ApiClient, clients: Clients
) -> None:
    await api.ok("updateConfiguration", name="api.throttling.max", value=LIMIT)
    await _spend(clients.alice, LIMIT + 2)
    text = await clients.alice.fails("getApiLimit", 432)
    assert "api.throttling.enabled = true" in text
    await api.fails("resetApiLimit", 432)
    capability = (await clients.alice.ok("listCapabilities"))["capability"]
    assert capability["apilimitmax"] == 0
