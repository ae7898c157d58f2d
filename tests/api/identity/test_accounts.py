"""Account commands: creation with a first user, roles, disabling and the listings.

``new_account`` is shared with ``test_users``.
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.api.identity.test_domains import TIMESTAMP, job_result, names
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.jobs import wait_job
from tests.support.world import Identity

EVERYONE = ["admin", "alice", "bob", "carol", "d1admin"]


def new_account(username: str, **extra: Any) -> dict[str, Any]:
    """``createAccount`` parameters for a user account called ``username``."""
    return {
        "accounttype": 0,
        "username": username,
        "password": "s3cret pass",
        "email": f"{username}@example.org",
        "firstname": username.title(),
        "lastname": "Person",
        **extra,
    }


async def accounts(client: ApiClient, **params: Any) -> list[str]:
    return await names(client, "listAccounts", "account", **params)


async def role_id(api: ApiClient, account: str) -> str:
    listed = await api.ok("listAccounts", listall=True, name=account)
    return str(listed["account"][0]["roleid"])


async def test_create_account_answer_and_listing(
    api: ApiClient, identities: dict[str, Identity]
) -> None:
    d1 = identities["alice"].domain_id
    created = (
        await api.ok(
            "createAccount",
            **new_account(
                "dave", domainid=d1, timezone="Europe/Berlin", networkdomain="dave.example"
            ),
        )
    )["account"]
    assert TIMESTAMP.match(created["created"])
    assert {k: created[k] for k in ("name", "accounttype", "rolename", "roletype", "state")} == {
        "name": "dave",
        "accounttype": 0,
        "rolename": "User",
        "roletype": "User",
        "state": "enabled",
    }
    assert (created["domainid"], created["domain"], created["domainpath"]) == (d1, "d1", "ROOT/d1")
    assert created["networkdomain"] == "dave.example"
    (user,) = created["user"]
    assert {k: user[k] for k in ("username", "firstname", "lastname", "email", "timezone")} == {
        "username": "dave",
        "firstname": "Dave",
        "lastname": "Person",
        "email": "dave@example.org",
        "timezone": "Europe/Berlin",
    }
    assert (user["accountid"], user["account"], user["usersource"]) == (
        created["id"],
        "dave",
        "native",
    )
    assert "secretkey" not in user
    assert "apikey" not in user
    listed = await api.ok("listAccounts", id=created["id"])
    assert listed == {"count": 1, "account": [created]}
    for event_type, resource in (("ACCOUNT.CREATE", created["id"]), ("USER.CREATE", user["id"])):
        events = (await api.ok("listEvents", resourceid=resource, listall=True))["event"]
        assert [(e["type"], e["account"]) for e in events] == [(event_type, "dave")]


async def test_marvin_create_account_with_given_uuids(api: ApiClient) -> None:
    account_id, user_id = str(uuid.uuid4()), str(uuid.uuid4())
    created = await api.ok(
        "createAccount", **new_account("marvin", accountid=account_id, userid=user_id)
    )
    assert (created["account"]["id"], created["account"]["user"][0]["id"]) == (account_id, user_id)
    assert (await api.ok("listAccounts", id=account_id))["account"][0]["name"] == "marvin"
    assert (await api.ok("listUsers", id=user_id))["user"][0]["username"] == "marvin"
    assert "accountid" in await api.fails(
        "createAccount", 431, **new_account("other", accountid=account_id)
    )
    assert "userid" in await api.fails("createAccount", 431, **new_account("other", userid=user_id))
    assert await accounts(api, listall=True) == sorted([*EVERYONE, "marvin"])


async def test_account_name_and_role(api: ApiClient, identities: dict[str, Identity]) -> None:
    domain_admin_role = await role_id(api, "d1admin")
    named = await api.ok(
        "createAccount",
        **new_account("erin", account="ops", accounttype=None, roleid=domain_admin_role),
    )
    assert (named["account"]["name"], named["account"]["accounttype"]) == ("ops", 2)
    assert named["account"]["user"][0]["username"] == "erin"
    details = await api.ok(
        "createAccount",
        **new_account("fay"),
        **{"accountdetails[0].team": "blue", "accountdetails[0].cost": "42"},
    )
    assert details["account"]["accountdetails"] == {"team": "blue", "cost": "42"}
    assert (await api.ok("listAccounts", id=details["account"]["id"]))["account"][0][
        "accountdetails"
    ] == {"team": "blue", "cost": "42"}


async def test_create_account_bad_parameters_change_nothing(
    api: ApiClient, identities: dict[str, Identity]
) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        *(
            ({**new_account("x"), missing: None}, missing)
            for missing in ("username", "password", "email", "firstname", "lastname")
        ),
        (new_account("x", accounttype=None), "accounttype"),
        (new_account("x", roleid=await role_id(api, "alice")), "accounttype"),
        (new_account("x", accounttype=5), "accounttype"),
        (new_account("x", accounttype=None, roleid=str(uuid.uuid4())), "Unable to find role"),
        (new_account("x", domainid="d1"), "domainid"),
        (new_account("x", domainid=str(uuid.uuid4())), "Unable to find domain"),
        (new_account("x", timezone="Mars/Olympus"), "timezone"),
        (new_account("x", networkdomain="no spaces"), "networkdomain"),
        (
            new_account("x", account="alice", domainid=identities["alice"].domain_id),
            "already exists",
        ),
        (
            new_account("alice", account="x", domainid=identities["alice"].domain_id),
            "already exists",
        ),
    ]
    for params, expected in cases:
        text = await api.fails("createAccount", 431, **params)
        assert expected in text, (params, text)
    assert await accounts(api, listall=True) == EVERYONE
    # The same username in another domain is fine.
    await api.ok("createAccount", **new_account("alice", domainid=identities["bob"].domain_id))


async def test_create_account_permissions(
    clients: Clients, identities: dict[str, Identity]
) -> None:
    d1admin, sub, d2 = clients.d1admin, identities["carol"].domain_id, identities["bob"].domain_id
    own = await d1admin.ok("createAccount", **new_account("gil"))
    assert own["account"]["domainpath"] == "ROOT/d1"
    assert (await d1admin.ok("createAccount", **new_account("hal", domainid=sub)))["account"][
        "domainpath"
    ] == "ROOT/d1/sub"
    await d1admin.ok("createAccount", **new_account("ida", accounttype=2))
    await d1admin.fails("createAccount", 531, **new_account("x", domainid=d2))
    assert (
        "root admin"
        in (await d1admin.fails("createAccount", 531, **new_account("x", accounttype=1))).lower()
    )
    admin_role = await role_id(clients.admin, "admin")
    await d1admin.fails(
        "createAccount", 531, **new_account("x", accounttype=None, roleid=admin_role)
    )
    for user in (clients.alice, clients.bob):
        await user.fails("createAccount", 531, **new_account("x"))
    assert await accounts(clients.admin, listall=True) == sorted([*EVERYONE, "gil", "hal", "ida"])


async def test_update_account(clients: Clients, identities: dict[str, Identity]) -> None:
    api, alice = clients.admin, identities["alice"]
    renamed = await api.ok(
        "updateAccount", id=alice.account_id, newname="alicia", networkdomain="a.example"
    )
    assert (renamed["account"]["name"], renamed["account"]["networkdomain"]) == (
        "alicia",
        "a.example",
    )
    assert renamed["account"]["user"][0]["username"] == "alice"
    by_name = await api.ok(
        "updateAccount",
        account="alicia",
        domainid=alice.domain_id,
        roleid=await role_id(api, "d1admin"),
    )
    assert (by_name["account"]["accounttype"], by_name["account"]["roletype"]) == (2, "DomainAdmin")
    # Alice's role changed, so she may now administer her domain.
    await clients.alice.ok("createAccount", **new_account("jay"))
    assert "already exists" in await api.fails(
        "updateAccount", 431, id=alice.account_id, newname="d1admin"
    )
    assert "id" in await api.fails("updateAccount", 431, newname="x")
    assert "Unable to find account" in await api.fails(
        "updateAccount", 431, account="nobody", newname="x"
    )
    assert "Unable to find role" in await api.fails(
        "updateAccount", 431, id=alice.account_id, roleid=str(uuid.uuid4())
    )
    assert "own account" in await api.fails(
        "updateAccount", 431, id=identities["admin"].account_id, roleid=await role_id(api, "bob")
    )
    assert await accounts(api, listall=True) == sorted(
        ["admin", "alicia", "bob", "carol", "d1admin", "jay"]
    )
    events = (await api.ok("listEvents", resourceid=alice.account_id, listall=True))["event"]
    assert [e["type"] for e in events] == ["ACCOUNT.UPDATE", "ACCOUNT.UPDATE"]


async def test_update_account_permissions(
    clients: Clients, identities: dict[str, Identity]
) -> None:
    api = clients.admin
    await clients.d1admin.ok("updateAccount", id=identities["carol"].account_id, newname="caroline")
    await clients.d1admin.fails("updateAccount", 431, id=identities["bob"].account_id, newname="x")
    await clients.d1admin.fails(
        "updateAccount", 531, id=identities["alice"].account_id, roleid=await role_id(api, "admin")
    )
    await clients.alice.fails("updateAccount", 531, id=identities["alice"].account_id, newname="x")
    # A root admin account inside d1 is beyond the domain admin.
    root_in_d1 = await api.ok(
        "createAccount", **new_account("kim", accounttype=1, domainid=identities["alice"].domain_id)
    )
    await clients.d1admin.fails("updateAccount", 531, id=root_in_d1["account"]["id"], newname="x")
    assert await accounts(api, listall=True) == sorted(
        ["admin", "alice", "bob", "caroline", "d1admin", "kim"]
    )


async def test_delete_account_is_an_async_job(
    clients: Clients, identities: dict[str, Identity]
) -> None:
    api, alice = clients.admin, identities["alice"]
    answer = await api.ok("deleteAccount", id=alice.account_id)
    assert set(answer) == {"jobid"}
    job = await wait_job(api, answer["jobid"])
    assert (job["jobstatus"], job["jobresult"]) == (1, {"success": "true"})
    assert await accounts(api, listall=True) == ["admin", "bob", "carol", "d1admin"]
    assert await names(api, "listUsers", "user", listall=True, username="alice") == []
    await clients.alice.fails("listAccounts", 401)
    events = (await api.ok("listEvents", type="ACCOUNT.DELETE", listall=True))["event"]
    assert [(e["resourceid"], e["account"]) for e in events] == [(alice.account_id, "alice")]


async def test_delete_account_rules(clients: Clients, identities: dict[str, Identity]) -> None:
    api = clients.admin
    assert "own account" in await api.fails("deleteAccount", 431, id=identities["admin"].account_id)
    assert "own account" in await clients.d1admin.fails(
        "deleteAccount", 431, id=identities["d1admin"].account_id
    )
    await clients.d1admin.fails("deleteAccount", 431, id=identities["bob"].account_id)
    await clients.alice.fails("deleteAccount", 531, id=identities["alice"].account_id)
    assert "id" in await api.fails("deleteAccount", 431)
    assert "Unable to find account" in await api.fails("deleteAccount", 431, id=str(uuid.uuid4()))
    assert await accounts(api, listall=True) == EVERYONE
    assert await job_result(
        clients.d1admin, "deleteAccount", id=identities["carol"].account_id
    ) == {"success": "true"}
    assert await accounts(api, listall=True) == ["admin", "alice", "bob", "d1admin"]


async def test_disable_lock_and_enable_account(
    clients: Clients, identities: dict[str, Identity]
) -> None:
    api, alice = clients.admin, identities["alice"]
    disabled = await job_result(api, "disableAccount", id=alice.account_id, lock=False)
    assert (disabled["account"]["id"], disabled["account"]["state"]) == (
        alice.account_id,
        "disabled",
    )
    await clients.alice.fails("listAccounts", 401)
    assert await accounts(api, listall=True, state="Disabled") == ["alice"]
    enabled = await api.ok("enableAccount", account="alice", domainid=alice.domain_id)
    assert enabled["account"]["state"] == "enabled"
    assert await accounts(clients.alice) == ["alice"]
    locked = await job_result(
        api, "disableAccount", account="alice", domainid=alice.domain_id, lock=True
    )
    assert locked["account"]["state"] == "locked"
    await clients.alice.fails("listUsers", 401)
    await api.ok("enableAccount", id=alice.account_id)
    types = [
        e["type"]
        for e in (await api.ok("listEvents", resourceid=alice.account_id, listall=True))["event"]
    ]
    assert types == ["ACCOUNT.ENABLE", "ACCOUNT.DISABLE", "ACCOUNT.ENABLE", "ACCOUNT.DISABLE"]


async def test_disable_account_rules(clients: Clients, identities: dict[str, Identity]) -> None:
    api = clients.admin
    assert "lock" in await api.fails("disableAccount", 431, id=identities["bob"].account_id)
    assert "lock" in await api.fails(
        "disableAccount", 431, id=identities["bob"].account_id, lock="maybe"
    )
    assert "own account" in await api.fails(
        "disableAccount", 431, id=identities["admin"].account_id, lock=True
    )
    assert "id" in await api.fails("enableAccount", 431)
    await clients.d1admin.fails("disableAccount", 431, id=identities["bob"].account_id, lock=True)
    await clients.d1admin.fails("enableAccount", 431, id=identities["bob"].account_id)
    await clients.alice.fails("disableAccount", 531, id=identities["carol"].account_id, lock=True)
    await clients.alice.fails("enableAccount", 531, id=identities["alice"].account_id)
    assert await accounts(api, listall=True, state="enabled") == EVERYONE
    await job_result(
        clients.d1admin, "disableAccount", id=identities["carol"].account_id, lock=False
    )
    await clients.carol.fails("listAccounts", 401)


async def test_list_accounts_visibility(clients: Clients, identities: dict[str, Identity]) -> None:
    d1, d2 = identities["alice"].domain_id, identities["bob"].domain_id
    assert await accounts(clients.admin) == ["admin"]
    assert await accounts(clients.admin, listall=True) == EVERYONE
    assert await accounts(clients.admin, domainid=d1) == ["alice", "d1admin"]
    assert await accounts(clients.admin, domainid=d1, isrecursive=True) == [
        "alice",
        "carol",
        "d1admin",
    ]
    assert await accounts(clients.admin, id=identities["carol"].account_id) == ["carol"]
    # Without listall (or a domainid) an admin lists its own account, as in CloudStack.
    assert await accounts(clients.d1admin) == ["d1admin"]
    assert await accounts(clients.d1admin, domainid=d1) == ["alice", "d1admin"]
    assert await accounts(clients.d1admin, listall=True) == ["alice", "carol", "d1admin"]
    assert await accounts(clients.d1admin, id=identities["carol"].account_id) == ["carol"]
    assert await accounts(clients.d1admin, id=identities["bob"].account_id) == []
    await clients.d1admin.fails("listAccounts", 531, domainid=d2)
    assert await accounts(clients.alice, listall=True) == ["alice"]
    assert await accounts(clients.alice, id=identities["d1admin"].account_id) == []
    assert await accounts(clients.bob, domainid=d1) == []


async def test_list_accounts_filters_and_paging(api: ApiClient) -> None:
    assert await accounts(api, listall=True, accounttype=2) == ["d1admin"]
    assert await accounts(api, listall=True, name="bob") == ["bob"]
    assert await accounts(api, listall=True, keyword="A") == ["admin", "alice", "carol", "d1admin"]
    page = await api.ok("listAccounts", listall=True, page=2, pagesize=2)
    assert (page["count"], len(page["account"])) == (5, 2)
    for params, parameter in (
        ({"accounttype": 7}, "accounttype"),
        ({"domainid": "d1"}, "domainid"),
        ({"pagesize": 2}, "page"),
    ):
        assert parameter in await api.fails("listAccounts", 431, **params)


async def test_harmless_filter_values_list_nothing_while_changes_stay_431(
    api: ApiClient, identities: dict[str, Identity]
) -> None:
    """As CloudStack: ``id=-1`` or an unknown ``state`` in a listing matches nothing, but
    the same values where they would change something are refused."""
    assert await api.ok("listAccounts", id="-1") == {}
    assert await api.ok("listAccounts", listall=True, state="gone") == {}
    assert await api.ok("listUsers", listall=True, state="asleep", id="-1") == {}
    assert "parameter id" in await api.fails("listAccounts", 431, id="not-a-uuid")
    assert "parameter domainid" in await api.fails("listAccounts", 431, domainid="-1")
    assert "parameter id" in await api.fails("deleteAccount", 431, id="-1")
    assert "parameter id" in await api.fails("updateAccount", 431, id="-1", newname="x")
    assert await accounts(api, listall=True) == EVERYONE
