"""``moveUser``: a user joins another account of its own domain (root admins only)."""

from __future__ import annotations

from tests.api.identity.test_accounts import new_account
from tests.api.identity.test_users import new_user, users
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.world import Identity


async def _user_id(api: ApiClient, username: str) -> str:
    listed = await api.ok("listUsers", listall=True, username=username)
    return str(listed["user"][0]["id"])


async def test_move_user_by_name_and_by_id(
    api: ApiClient, clients: Clients, identities: dict[str, Identity]
) -> None:
    d1 = identities["alice"].domain_id
    await api.ok("createAccount", **new_account("dave", domainid=d1))
    await api.ok("createUser", **new_user("amy", "alice", domainid=d1))
    amy = await _user_id(api, "amy")

    assert (await api.ok("moveUser", id=amy, account="dave")) == {"success": "true"}
    listed = (await api.ok("listUsers", id=amy))["user"][0]
    assert (listed["account"], listed["domainid"]) == ("dave", d1)
    assert await users(api, account="dave", domainid=d1) == ["amy", "dave"]

    # accountid wins over account when both are given, as in CloudStack.
    await api.ok("moveUser", id=amy, accountid=identities["alice"].account_id, account="dave")
    assert (await api.ok("listUsers", id=amy))["user"][0]["account"] == "alice"
    # alice's own listing (a user sees its account's users) shows amy again.
    assert await users(clients.alice) == ["alice", "amy"]


async def test_move_user_refuses_bad_targets_and_changes_nothing(
    api: ApiClient, identities: dict[str, Identity]
) -> None:
    alice = identities["alice"]
    bob = identities["bob"]
    assert "account" in await api.fails("moveUser", 431, id=alice.user_id)
    # Another domain's account: by id it exists but is elsewhere; by name it is not in d1.
    assert "own domain" in await api.fails(
        "moveUser", 431, id=alice.user_id, accountid=bob.account_id
    )
    assert "Unable to find account" in await api.fails(
        "moveUser", 431, id=alice.user_id, account="bob"
    )
    assert "already belongs" in await api.fails("moveUser", 431, id=alice.user_id, account="alice")
    assert "Unable to find user" in await api.fails(
        "moveUser", 431, id="7e0e0c34-0000-4000-8000-000000000000", account="alice"
    )
    assert "id" in await api.fails("moveUser", 431, id="not-a-uuid", account="alice")
    listed = (await api.ok("listUsers", id=alice.user_id))["user"][0]
    assert listed["account"] == "alice"


async def test_move_user_is_for_root_admins(
    clients: Clients, identities: dict[str, Identity]
) -> None:
    alice = identities["alice"]
    for client in (clients.d1admin, clients.alice, clients.bob):
        await client.fails("moveUser", 531, id=alice.user_id, account="d1admin")
    assert (await clients.admin.ok("listUsers", id=alice.user_id))["user"][0]["account"] == "alice"
