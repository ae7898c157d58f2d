"""Projects: their lifecycle, members, the three roles and their regional project account."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from starlette.applications import Starlette

from altostratus.db.models import Account, EntityVersion, Project, ReplicationEntry
from altostratus.federation.snapshot import read_snapshot
from tests.api.identity.test_accounts import accounts
from tests.api.identity.test_domains import TIMESTAMP, job_result, names
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.world import Identity

MISSING = "7e0e0c34-0000-4000-8000-000000000000"


async def create(client: ApiClient, name: str, **params: Any) -> dict[str, Any]:
    project: dict[str, Any] = (await job_result(client, "createProject", name=name, **params))[
        "project"
    ]
    return project


async def projects(client: ApiClient, **params: Any) -> list[str]:
    return await names(client, "listProjects", "project", **params)


async def members(client: ApiClient, project_id: str) -> dict[str, str]:
    listed = await client.ok("listProjectAccounts", projectid=project_id)
    return {m["account"]: m["role"] for m in listed.get("projectaccount", [])}


async def test_create_project_answer_and_listings(
    clients: Clients, identities: dict[str, Identity]
) -> None:
    alice = identities["alice"]
    created = await create(clients.alice, "web", displaytext="The web site")
    expected = {
        "name": "web",
        "displaytext": "The web site",
        "domainid": alice.domain_id,
        "domain": "d1",
        "state": "Active",
        "owner": [{"account": "alice", "accountid": alice.account_id}],
        "vmtotal": 0,
        "vmlimit": "Unlimited",
        "vmrunning": 0,
        "vmstopped": 0,
    }
    assert {key: created[key] for key in expected} == expected
    assert created["projectaccountname"].startswith("PrjAcct-")
    assert TIMESTAMP.match(created["created"])
    assert (await clients.alice.ok("listProjects", id=created["id"]))["project"] == [created]
    # displaytext defaults to the name, as Ansible's project module relies on.
    assert (await create(clients.alice, "db"))["displaytext"] == "db"
    assert await members(clients.alice, created["id"]) == {"alice": "Admin"}
    # The project account is no account anyone lists, nor one to name.
    assert await accounts(clients.admin, domainid=alice.domain_id) == [
        "alice",
        "d1admin",
    ]
    assert "accounttype" in await clients.admin.fails(
        "createAccount",
        431,
        accounttype=5,
        username="x",
        password="p",
        email="x@example.org",
        firstname="X",
        lastname="Y",
    )


async def test_project_listing_scopes(clients: Clients, identities: dict[str, Identity]) -> None:
    web = await create(clients.alice, "web")
    await create(clients.bob, "bobs")
    assert await projects(clients.alice) == ["web"]
    assert await projects(clients.bob) == ["bobs"]
    assert await projects(clients.carol) == []
    # Admins list their own memberships, and with listall what they administer.
    assert await projects(clients.admin) == []
    assert await projects(clients.admin, listall=True) == ["bobs", "web"]
    assert await projects(clients.d1admin, listall=True) == ["web"]
    assert await projects(clients.admin, domainid=identities["bob"].domain_id) == ["bobs"]
    assert await projects(clients.admin, account="alice", domainid=web["domainid"]) == ["web"]
    assert await projects(clients.admin, listall=True, state="suspended") == []
    assert await projects(clients.admin, listall=True, keyword="we") == ["web"]
    # By id, a project one may not see is not there.
    assert (await clients.bob.ok("listProjects", id=web["id"])) == {}


async def test_members_and_their_rules(clients: Clients, identities: dict[str, Identity]) -> None:
    web = await create(clients.alice, "web")
    project = web["id"]
    await clients.admin.ok("createAccount", **new_account("dave", identities["alice"].domain_id))
    await job_result(clients.alice, "addAccountToProject", projectid=project, account="dave")
    await job_result(
        clients.alice, "addAccountToProject", projectid=project, account="d1admin", roletype="admin"
    )
    assert await members(clients.alice, project) == {
        "alice": "Admin",
        "dave": "Regular",
        "d1admin": "Admin",
    }
    listed = (await clients.alice.ok("listProjectAccounts", projectid=project, role="Regular"))[
        "projectaccount"
    ]
    assert [(m["account"], m["project"], m["projectid"], m["domainpath"]) for m in listed] == [
        ("dave", "web", project, "ROOT/d1")
    ]
    assert "already a member" in await clients.alice.fails(
        "addAccountToProject", 431, projectid=project, account="dave"
    )
    # Only accounts of the project's domain join it; bob is in d2.
    assert "no account bob" in await clients.alice.fails(
        "addAccountToProject", 431, projectid=project, account="bob"
    )
    assert "roletype" in await clients.alice.fails(
        "addAccountToProject", 431, projectid=project, account="x", roletype="Owner"
    )
    await job_result(clients.alice, "deleteAccountFromProject", projectid=project, account="dave")
    assert "not a member" in await clients.alice.fails(
        "deleteAccountFromProject", 431, projectid=project, account="dave"
    )
    await job_result(
        clients.alice, "deleteAccountFromProject", projectid=project, account="d1admin"
    )
    assert "only admin" in await clients.alice.fails(
        "deleteAccountFromProject", 431, projectid=project, account="alice"
    )
    assert await members(clients.alice, project) == {"alice": "Admin"}


def new_account(name: str, domain_id: str) -> dict[str, Any]:
    return {
        "accounttype": 0,
        "username": name,
        "password": "s3cret pass",
        "email": f"{name}@example.org",
        "firstname": name.title(),
        "lastname": "Person",
        "domainid": domain_id,
    }


async def test_management_needs_the_admin_role_of_the_project(
    clients: Clients, identities: dict[str, Identity]
) -> None:
    web = await create(clients.alice, "web")
    project = web["id"]
    await clients.admin.ok("createAccount", **new_account("dave", identities["alice"].domain_id))
    await job_result(clients.alice, "addAccountToProject", projectid=project, account="dave")
    dave_keys = await user_keys(clients.admin, "dave")
    dave = clients.alice.with_keys(*dave_keys)
    # A regular member sees the project and its members but manages nothing.
    assert await projects(dave) == ["web"]
    assert set(await members(dave, project)) == {"alice", "dave"}
    for command, params in (
        ("updateProject", {"id": project, "displaytext": "x"}),
        ("suspendProject", {"id": project}),
        ("deleteProject", {"id": project}),
        ("addAccountToProject", {"projectid": project, "account": "d1admin"}),
        ("deleteAccountFromProject", {"projectid": project, "account": "alice"}),
    ):
        assert "not an admin" in await dave.fails(command, 531, **params)
    # Outside the project and its domain's admins, it does not exist.
    for client in (clients.bob, clients.carol):
        assert "Unable to find project" in await client.fails(
            "updateProject", 431, id=project, displaytext="x"
        )
        assert "Unable to find project" in await client.fails(
            "listProjectAccounts", 431, projectid=project
        )
    # The domain's admin and the root admin manage it without being members.
    updated = (
        await job_result(clients.d1admin, "updateProject", id=project, displaytext="by d1admin")
    )["project"]
    assert updated["displaytext"] == "by d1admin"
    renamed = (await job_result(clients.admin, "updateProject", id=project, name="www"))["project"]
    assert renamed["name"] == "www"
    # A new admin: the old one becomes a regular member.
    swapped = (await job_result(clients.alice, "updateProject", id=project, account="dave"))[
        "project"
    ]
    assert [owner["account"] for owner in swapped["owner"]] == ["dave"]
    assert await members(clients.alice, project) == {"alice": "Regular", "dave": "Admin"}


async def user_keys(admin: ApiClient, username: str) -> tuple[str, str]:
    user = (await admin.ok("listUsers", listall=True, username=username))["user"][0]
    keys = (await admin.ok("registerUserKeys", id=user["id"]))["userkeys"]
    return keys["apikey"], keys["secretkey"]


async def test_create_project_errors_change_nothing(
    clients: Clients, identities: dict[str, Identity]
) -> None:
    await create(clients.alice, "web")
    alice = identities["alice"]
    assert "name" in await clients.alice.fails("createProject", 431, name="web")
    assert "name" in await clients.alice.fails("createProject", 431)
    assert "name" in await clients.alice.fails("createProject", 431, name="")
    # A user creates projects for itself only (it sees no other account); admins for
    # the accounts they administer.
    await clients.alice.fails(
        "createProject", 431, name="p", account="d1admin", domainid=alice.domain_id
    )
    assert "domainid" in await clients.d1admin.fails("createProject", 431, name="p", account="x")
    await clients.d1admin.fails(
        "createProject", 431, name="p", account="bob", domainid=identities["bob"].domain_id
    )
    assert await projects(clients.admin, listall=True) == ["web"]
    made = await create(clients.d1admin, "ops", account="alice", domainid=alice.domain_id)
    assert made["owner"] == [{"account": "alice", "accountid": alice.account_id}]
    by_id = await create(clients.admin, "ops2", accountid=identities["bob"].account_id)
    assert by_id["domain"] == "d2"
    for command in ("updateProject", "activateProject", "suspendProject", "deleteProject"):
        assert "id" in await clients.alice.fails(command, 431, id="nope")
        assert "Unable to find project" in await clients.alice.fails(command, 431, id=MISSING)


async def test_project_account_stays_in_its_region(
    app: Starlette, clients: Clients, identities: dict[str, Identity]
) -> None:
    """Projects are regional: neither the log, the versions nor a snapshot carry the
    project account, while a real account created next to it is logged."""
    await create(clients.alice, "web")
    await clients.admin.ok("createAccount", **new_account("dave", identities["alice"].domain_id))
    runtime = app.state.runtime
    async with runtime.db.transaction(write=False) as session:
        project_account = await session.scalar(select(Project.account_id))
        account = await session.get_one(Account, project_account)
        dave = await session.scalar(select(Account.uuid).where(Account.name == "dave"))
        rows = await session.execute(
            select(ReplicationEntry.entity_key, func.count())
            .where(ReplicationEntry.entity_key.in_([account.uuid, dave]))
            .group_by(ReplicationEntry.entity_key)
        )
        logged = {key: count for key, count in rows}
        versions = await session.scalar(
            select(func.count()).where(EntityVersion.entity_key == account.uuid)
        )
    assert logged == {dave: 1}
    assert versions == 0
    snapshot = await read_snapshot(runtime.db)
    keys = {entity["entity_key"] for entity in snapshot["entities"]}
    assert dave in keys
    assert account.uuid not in keys


async def test_account_and_domain_teardown_take_their_projects(api: ApiClient) -> None:
    domain = (await api.ok("createDomain", name="pd"))["domain"]["id"]
    for name in ("erin", "frank"):
        await api.ok("createAccount", **new_account(name, domain))
    project = (await create(api, "shared", account="erin", domainid=domain))["id"]
    await job_result(api, "addAccountToProject", projectid=project, account="frank")
    frank = (await api.ok("listAccounts", name="frank", domainid=domain))["account"][0]["id"]
    await job_result(api, "deleteAccount", id=frank)
    assert await members(api, project) == {"erin": "Admin"}
    # Without cleanup the domain's accounts (the project's among them) keep it.
    await api.fails("deleteDomain", 536, id=domain)
    await job_result(api, "deleteDomain", id=domain, cleanup=True)
    assert (await api.ok("listProjects", id=project)) == {}
