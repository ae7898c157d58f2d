"""User commands: lifecycle, passwords, API keys and ``listUsers``."""

from __future__ import annotations

import uuid
from typing import Any

from tests.api.identity.test_accounts import new_account
from tests.api.identity.test_domains import TIMESTAMP, names
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.world import PASSWORD, Identity

EVERYONE = ["admin", "alice", "bob", "carol", "d1admin"]


def new_user(username: str, account: str, **extra: Any) -> dict[str, Any]:
    params = new_account(username, account=account, **extra)
    del params["accounttype"]
    return params


async def users(client: ApiClient, **params: Any) -> list[str]:
    return await names(client, "listUsers", "user", **params)


async def can_log_in(client: ApiClient, username: str, password: str, domain: str) -> bool:
    response = await client.http.post(
        "/client/api",
        data={
            "command": "login",
            "username": username,
            "password": password,
            "domain": domain,
            "response": "json",
        },
    )
    return response.status_code == 200


async def test_create_user_answer_and_listing(
    api: ApiClient, identities: dict[str, Identity]
) -> None:
    alice = identities["alice"]
    created = (
        await api.ok(
            "createUser", **new_user("amy", "alice", domainid=alice.domain_id, timezone="UTC")
        )
    )["user"]
    assert TIMESTAMP.match(created["created"])
    expected = {
        "username": "amy",
        "firstname": "Amy",
        "lastname": "Person",
        "email": "amy@example.org",
        "state": "enabled",
        "account": "alice",
        "accounttype": 0,
        "accountid": alice.account_id,
        "domainid": alice.domain_id,
        "domain": "d1",
        "timezone": "UTC",
        "rolename": "User",
        "roletype": "User",
        "usersource": "native",
    }
    assert {key: created[key] for key in expected} == expected
    assert "secretkey" not in created
    assert (await api.ok("listUsers", id=created["id"]))["user"] == [created]
    account = (await api.ok("listAccounts", id=alice.account_id))["account"][0]
    assert [u["username"] for u in account["user"]] == ["alice", "amy"]
    assert await can_log_in(api, "amy", "s3cret pass", "/d1")


async def test_marvin_create_user_with_given_uuid(api: ApiClient) -> None:
    chosen = str(uuid.uuid4())
    created = await api.ok("createUser", **new_user("marvin", "admin", userid=chosen))
    assert created["user"]["id"] == chosen
    assert (await api.ok("listUsers", id=chosen))["user"][0]["username"] == "marvin"
    assert "userid" in await api.fails(
        "createUser", 431, **new_user("other", "admin", userid=chosen)
    )
    assert await users(api, listall=True) == sorted([*EVERYONE, "marvin"])


async def test_create_user_bad_parameters_change_nothing(
    api: ApiClient, identities: dict[str, Identity]
) -> None:
    d1 = identities["alice"].domain_id
    cases: list[tuple[dict[str, Any], str]] = [
        *(
            ({**new_user("x", "alice", domainid=d1), missing: None}, missing)
            for missing in ("account", "username", "password", "email", "firstname", "lastname")
        ),
        (new_user("x", "alice", domainid="d1"), "domainid"),
        (new_user("x", "alice", domainid=d1, timezone="Nowhere"), "timezone"),
        (new_user("x", "alice", domainid=d1, userid="7"), "userid"),
        (new_user("x", "nobody", domainid=d1), "Unable to find account"),
        (new_user("x", "alice"), "Unable to find account"),  # alice is not in ROOT
        (new_user("d1admin", "alice", domainid=d1), "already exists"),
    ]
    for params, expected in cases:
        text = await api.fails("createUser", 431, **params)
        assert expected in text, (params, text)
    assert await users(api, listall=True) == EVERYONE
    # Usernames are unique per domain: carol (of ROOT/d1/sub) may have a namesake in d1.
    await api.ok("createUser", **new_user("carol", "alice", domainid=d1))


async def test_create_user_permissions(clients: Clients, identities: dict[str, Identity]) -> None:
    d1, d2 = identities["alice"].domain_id, identities["bob"].domain_id
    own = await clients.d1admin.ok("createUser", **new_user("ann", "alice"))
    assert own["user"]["domainid"] == d1
    await clients.d1admin.ok(
        "createUser", **new_user("cat", "carol", domainid=identities["carol"].domain_id)
    )
    await clients.d1admin.fails("createUser", 431, **new_user("x", "bob", domainid=d2))
    kim = new_account("kim", accounttype=1, domainid=d1)
    await clients.admin.ok("createAccount", **kim)
    assert "may not manage" in await clients.d1admin.fails(
        "createUser", 531, **new_user("x", "kim", domainid=d1)
    )
    await clients.alice.fails("createUser", 531, **new_user("x", "alice"))
    await clients.bob.fails("createUser", 531, **new_user("x", "bob", domainid=d2))
    assert await users(clients.admin, listall=True) == sorted([*EVERYONE, "ann", "cat", "kim"])


async def test_update_user(clients: Clients, identities: dict[str, Identity]) -> None:
    api, alice = clients.admin, identities["alice"]
    updated = await api.ok(
        "updateUser",
        id=alice.user_id,
        username="alicia",
        email="a@example.net",
        firstname="Alicia",
        lastname="Liddell",
        timezone="Asia/Tokyo",
        password="new words",
    )
    expected = {
        "username": "alicia",
        "email": "a@example.net",
        "firstname": "Alicia",
        "lastname": "Liddell",
        "timezone": "Asia/Tokyo",
    }
    assert {key: updated["user"][key] for key in expected} == expected
    assert (await api.ok("listUsers", id=alice.user_id))["user"][0]["username"] == "alicia"
    assert await can_log_in(api, "alicia", "new words", "/d1")
    assert not await can_log_in(api, "alicia", PASSWORD, "/d1")
    for params, expected_text in (
        ({"username": "d1admin"}, "already exists"),
        ({"timezone": "Moon"}, "timezone"),
        ({"email": ""}, None),  # empty counts as not given
    ):
        if expected_text is None:
            await api.ok("updateUser", id=alice.user_id, **params)
            continue
        assert expected_text in await api.fails("updateUser", 431, id=alice.user_id, **params)
    assert "id" in await api.fails("updateUser", 431, firstname="x")
    assert "Unable to find user" in await api.fails("updateUser", 431, id=str(uuid.uuid4()))
    assert (await api.ok("listUsers", id=alice.user_id))["user"][0]["username"] == "alicia"
    events = (await api.ok("listEvents", type="USER.UPDATE", listall=True))["event"]
    assert [(e["resourceid"], e["account"]) for e in events] == [(alice.user_id, "alice")] * 2


async def test_users_change_their_own_password_with_the_current_one(
    clients: Clients, identities: dict[str, Identity]
) -> None:
    alice = identities["alice"]
    mine = await clients.alice.ok("updateUser", id=alice.user_id, firstname="Al")
    assert mine["user"]["firstname"] == "Al"
    text = await clients.alice.fails("updateUser", 431, id=alice.user_id, password="other words")
    assert "currentpassword" in text
    await clients.alice.fails(
        "updateUser", 531, id=alice.user_id, password="other words", currentpassword="wrong"
    )
    assert await can_log_in(clients.alice, "alice", PASSWORD, "/d1")
    await clients.alice.ok(
        "updateUser", id=alice.user_id, password="other words", currentpassword=PASSWORD
    )
    assert await can_log_in(clients.alice, "alice", "other words", "/d1")
    # Admins reset others' passwords without knowing them.
    await clients.d1admin.ok("updateUser", id=alice.user_id, password="reset words")
    assert await can_log_in(clients.alice, "alice", "reset words", "/d1")


async def test_update_user_permissions(clients: Clients, identities: dict[str, Identity]) -> None:
    await clients.d1admin.ok("updateUser", id=identities["carol"].user_id, firstname="Caz")
    await clients.d1admin.fails("updateUser", 431, id=identities["bob"].user_id, firstname="x")
    await clients.d1admin.fails("updateUser", 431, id=identities["admin"].user_id, firstname="x")
    await clients.alice.fails("updateUser", 431, id=identities["carol"].user_id, firstname="x")
    await clients.bob.fails("updateUser", 431, id=identities["alice"].user_id, firstname="x")
    firstnames = {
        u["username"]: u["firstname"]
        for u in (await clients.admin.ok("listUsers", listall=True))["user"]
    }
    assert firstnames == {
        "admin": "Admin",
        "d1admin": "D1Admin",
        "alice": "Alice",
        "carol": "Caz",
        "bob": "Bob",
    }


async def test_delete_user(clients: Clients, identities: dict[str, Identity]) -> None:
    api = clients.admin
    assert await api.ok("deleteUser", id=identities["alice"].user_id) == {"success": "true"}
    assert await users(api, listall=True) == ["admin", "bob", "carol", "d1admin"]
    await clients.alice.fails("listUsers", 401)
    assert "own user" in await api.fails("deleteUser", 431, id=identities["admin"].user_id)
    assert "own user" in await clients.d1admin.fails(
        "deleteUser", 431, id=identities["d1admin"].user_id
    )
    await clients.d1admin.fails("deleteUser", 431, id=identities["bob"].user_id)
    await clients.bob.fails("deleteUser", 531, id=identities["bob"].user_id)
    assert "id" in await api.fails("deleteUser", 431)
    assert await users(api, listall=True) == ["admin", "bob", "carol", "d1admin"]
    await clients.d1admin.ok("deleteUser", id=identities["carol"].user_id)
    assert await users(api, listall=True) == ["admin", "bob", "d1admin"]
    types = [
        e["type"] for e in (await api.ok("listEvents", type="USER.DELETE", listall=True))["event"]
    ]
    assert types == ["USER.DELETE", "USER.DELETE"]


async def test_marvin_disabled_user_is_refused_until_enabled(
    clients: Clients, identities: dict[str, Identity]
) -> None:
    api, alice = clients.admin, identities["alice"]
    answer = await api.ok("disableUser", id=alice.user_id)
    assert answer["id"] == alice.user_id
    job = await api.ok("queryAsyncJobResult", jobid=answer["jobid"])
    assert (job["jobstatus"], job["jobresult"]["user"]["state"]) == (1, "disabled")
    await clients.alice.fails("listUsers", 401)
    assert await users(api, listall=True, state="disabled") == ["alice"]
    assert (await api.ok("enableUser", id=alice.user_id))["user"]["state"] == "enabled"
    assert await users(clients.alice) == ["alice"]


async def test_lock_user_and_enable(clients: Clients, identities: dict[str, Identity]) -> None:
    api, carol = clients.d1admin, identities["carol"]
    assert (await api.ok("lockUser", id=carol.user_id))["user"]["state"] == "locked"
    await clients.carol.fails("listUsers", 401)
    assert not await can_log_in(api, "carol", PASSWORD, "/d1/sub")
    assert (await api.ok("enableUser", id=carol.user_id))["user"]["state"] == "enabled"
    assert await users(clients.carol) == ["carol"]
    events = (await clients.admin.ok("listEvents", resourceid=carol.user_id, listall=True))["event"]
    assert [e["type"] for e in events] == ["USER.ENABLE", "USER.LOCK"]
    assert {e["account"] for e in events} == {"carol"}


async def test_user_state_rules(clients: Clients, identities: dict[str, Identity]) -> None:
    admin, d1admin, bob = identities["admin"], identities["d1admin"], identities["bob"]
    for command in ("disableUser", "lockUser"):
        assert "own user" in await clients.admin.fails(command, 431, id=admin.user_id)
        assert "own user" in await clients.d1admin.fails(command, 431, id=d1admin.user_id)
        await clients.d1admin.fails(command, 431, id=bob.user_id)
        await clients.alice.fails(command, 531, id=bob.user_id)
        assert "id" in await clients.admin.fails(command, 431, id="bob")
    await clients.d1admin.fails("enableUser", 431, id=bob.user_id)
    await clients.bob.fails("enableUser", 531, id=bob.user_id)
    assert await users(clients.admin, listall=True, state="enabled") == EVERYONE


async def test_register_user_keys_replaces_the_old_pair(
    clients: Clients, identities: dict[str, Identity]
) -> None:
    alice = identities["alice"]
    keys = (await clients.alice.ok("registerUserKeys", id=alice.user_id))["userkeys"]
    assert set(keys) == {"apikey", "secretkey"}
    await clients.alice.fails("listUsers", 401)
    renewed = clients.alice.with_keys(keys["apikey"], keys["secretkey"])
    assert await users(renewed) == ["alice"]
    assert (await renewed.ok("getUserKeys", id=alice.user_id))["userkeys"] == keys
    listed = (await renewed.ok("listUsers"))["user"][0]
    assert listed["apikey"] == keys["apikey"]
    assert "secretkey" not in listed
    by_admin = (await clients.d1admin.ok("registerUserKeys", id=alice.user_id))["userkeys"]
    await renewed.fails("listUsers", 401)
    assert by_admin["apikey"] != keys["apikey"]
    events = (await clients.admin.ok("listEvents", type="REGISTER.USER.KEY", listall=True))["event"]
    assert [e["resourceid"] for e in events] == [alice.user_id, alice.user_id]


async def test_user_keys_permissions(clients: Clients, identities: dict[str, Identity]) -> None:
    admin, carol, bob = identities["admin"], identities["carol"], identities["bob"]
    for command in ("registerUserKeys", "getUserKeys"):
        await clients.alice.fails(command, 431, id=carol.user_id)
        await clients.d1admin.fails(command, 431, id=bob.user_id)
        await clients.d1admin.fails(command, 431, id=admin.user_id)
        assert "id" in await clients.admin.fails(command, 431)
    assert (await clients.d1admin.ok("getUserKeys", id=carol.user_id))["userkeys"] == {
        "apikey": carol.api_key,
        "secretkey": carol.secret_key,
    }
    # Nobody's keys changed: everyone still gets in.
    for client in (clients.alice, clients.bob, clients.carol):
        await client.ok("listUsers")


async def test_new_user_has_no_keys_until_registered(api: ApiClient) -> None:
    created = (await api.ok("createUser", **new_user("nokey", "admin")))["user"]
    assert "apikey" not in created
    assert await api.ok("getUserKeys", id=created["id"]) == {"userkeys": {}}
    keys = (await api.ok("registerUserKeys", id=created["id"]))["userkeys"]
    assert await users(api.with_keys(keys["apikey"], keys["secretkey"])) == ["admin", "nokey"]


async def test_get_user_by_api_key(clients: Clients, identities: dict[str, Identity]) -> None:
    bob = identities["bob"]
    found = (await clients.admin.ok("getUser", userapikey=bob.api_key))["user"]
    assert (found["id"], found["apikey"], found["domain"]) == (bob.user_id, bob.api_key, "d2")
    assert "secretkey" not in found
    assert "userapikey" in await clients.admin.fails("getUser", 431)
    assert "Unable to find" in await clients.admin.fails("getUser", 431, userapikey="nope")
    await clients.d1admin.fails("getUser", 531, userapikey=bob.api_key)
    await clients.bob.fails("getUser", 531, userapikey=bob.api_key)


async def test_list_users_visibility(clients: Clients, identities: dict[str, Identity]) -> None:
    d1, d2 = identities["alice"].domain_id, identities["bob"].domain_id
    assert await users(clients.admin) == ["admin"]
    assert await users(clients.admin, listall=True) == EVERYONE
    assert await users(clients.admin, domainid=d1, isrecursive=True) == [
        "alice",
        "carol",
        "d1admin",
    ]
    assert await users(clients.admin, id=identities["bob"].user_id) == ["bob"]
    assert await users(clients.d1admin) == ["alice", "d1admin"]
    assert await users(clients.d1admin, listall=True) == ["alice", "carol", "d1admin"]
    assert await users(clients.d1admin, id=identities["bob"].user_id) == []
    await clients.d1admin.fails("listUsers", 531, domainid=d2)
    assert await users(clients.alice, listall=True) == ["alice"]
    assert await users(clients.alice, id=identities["d1admin"].user_id) == []


async def test_list_users_filters_and_paging(api: ApiClient) -> None:
    assert await users(api, listall=True, accounttype=2) == ["d1admin"]
    assert await users(api, listall=True, account="carol") == ["carol"]
    assert await users(api, listall=True, username="bob") == ["bob"]
    assert await users(api, listall=True, keyword="ALI") == ["alice"]
    assert await users(api, listall=True, keyword="example.org") == [
        "alice",
        "bob",
        "carol",
        "d1admin",
    ]
    page = await api.ok("listUsers", listall=True, page=3, pagesize=2)
    assert (page["count"], len(page["user"])) == (5, 1)
    for params, parameter in (
        ({"accounttype": "x"}, "accounttype"),
        ({"id": "x"}, "id"),
        ({"page": 0, "pagesize": 1}, "page"),
    ):
        assert parameter in await api.fails("listUsers", 431, **params)


async def test_a_user_may_rename_itself_but_not_into_a_look_alike(
    clients: Clients, identities: dict[str, Identity]
) -> None:
    """CloudStack lets a user change its own name (nothing in updateUser restricts it by
    role); what it refuses is a name its domain already has, where its database's
    collation makes ``Admin`` and ``admin `` the name ``admin``."""
    api = clients.admin
    created = await api.ok("createAccount", **new_account("eve", account="eve"))
    eve_id = created["account"]["user"][0]["id"]
    keys = (await api.ok("registerUserKeys", id=eve_id))["userkeys"]
    eve = api.with_keys(keys["apikey"], keys["secretkey"])
    for taken in ("admin", "Admin", "ADMIN"):
        assert "already exists" in await eve.fails("updateUser", 431, id=eve_id, username=taken)
    for blank in ("admin ", " admin", "   "):
        assert "username" in await eve.fails("updateUser", 431, id=eve_id, username=blank)
    assert "already exists" in await api.fails(
        "createUser", 431, **new_user("Admin", "eve", domainid=identities["admin"].domain_id)
    )
    names = {u["username"] for u in (await api.ok("listUsers", listall=True))["user"]}
    assert {"eve", "admin"} <= names
    assert not names & {"Admin", "ADMIN", "admin ", " admin", "   "}
    # Its own new name, and the same name in another case, are fine.
    assert (await eve.ok("updateUser", id=eve_id, username="eve2"))["user"]["username"] == "eve2"
    assert (await eve.ok("updateUser", id=eve_id, username="Eve2"))["user"]["username"] == "Eve2"
    # A name taken in another domain only is free here, as in CloudStack.
    renamed = await eve.ok("updateUser", id=eve_id, username="alice")
    assert renamed["user"]["username"] == "alice"
