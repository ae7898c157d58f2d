"""Dynamic roles: the default roles, custom roles and their rules, enforced by the dispatcher."""

from __future__ import annotations

from typing import Any

from altostratus.services.identity.roles import DEFAULT_ROLES
from tests.api.identity.test_accounts import new_account
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.world import Identity

ROOT_ADMIN, RESOURCE_ADMIN, DOMAIN_ADMIN, USER = (role.uuid for role in DEFAULT_ROLES)


async def _role(api: ApiClient, name: str, **params: Any) -> dict[str, Any]:
    created = await api.ok("createRole", name=name, **params)
    role: dict[str, Any] = created["role"]
    return role


async def _rule(api: ApiClient, role_id: str, rule: str, permission: str) -> dict[str, Any]:
    created = await api.ok("createRolePermission", roleid=role_id, rule=rule, permission=permission)
    permission_row: dict[str, Any] = created["rolepermission"]
    return permission_row


async def _client_with_role(
    api: ApiClient, identities: dict[str, Identity], name: str, role_id: str
) -> ApiClient:
    """A new account of ``role_id`` in d1, with its user's keys."""
    created = await api.ok(
        "createAccount",
        **new_account(
            name, accounttype=None, roleid=role_id, domainid=identities["alice"].domain_id
        ),
    )
    user_id = created["account"]["user"][0]["id"]
    keys = (await api.ok("registerUserKeys", id=user_id))["userkeys"]
    return api.with_keys(keys["apikey"], keys["secretkey"])


async def _api_names(client: ApiClient) -> set[str]:
    return {api["name"] for api in (await client.ok("listApis"))["api"]}


async def test_the_four_default_roles_have_fixed_ids(api: ApiClient) -> None:
    listed = (await api.ok("listRoles"))["role"]
    assert [(r["id"], r["name"], r["type"], r["isdefault"]) for r in listed] == [
        (ROOT_ADMIN, "Root Admin", "Admin", True),
        (RESOURCE_ADMIN, "Resource Admin", "ResourceAdmin", True),
        (DOMAIN_ADMIN, "Domain Admin", "DomainAdmin", True),
        (USER, "User", "User", True),
    ]
    assert {(r["ispublic"], r["state"]) for r in listed} == {(True, "ENABLED")}
    for role in DEFAULT_ROLES:
        text = await api.fails("deleteRole", 531, id=role.uuid)
        assert "default role" in text
        await api.fails("updateRole", 531, id=role.uuid, name="renamed")
    await api.fails("createRolePermission", 531, roleid=ROOT_ADMIN, rule="*", permission="deny")
    assert next(r["name"] for r in (await api.ok("listRoles"))["role"]) == "Root Admin"


async def test_accounts_refer_to_their_role(
    api: ApiClient, identities: dict[str, Identity]
) -> None:
    listed = await api.ok("listAccounts", listall=True, name="d1admin")
    account = listed["account"][0]
    assert (account["roleid"], account["rolename"], account["roletype"]) == (
        DOMAIN_ADMIN,
        "Domain Admin",
        "DomainAdmin",
    )
    resource = await api.ok("createAccount", **new_account("res", accounttype=3))
    assert (resource["account"]["roleid"], resource["account"]["accounttype"]) == (
        RESOURCE_ADMIN,
        3,
    )


async def test_create_update_list_and_delete_a_role(api: ApiClient) -> None:
    role = await _role(api, "Auditor", type="user", description="reads only", ispublic=False)
    assert {k: role[k] for k in ("name", "type", "description", "isdefault", "ispublic")} == {
        "name": "Auditor",
        "type": "User",
        "description": "reads only",
        "isdefault": False,
        "ispublic": False,
    }
    assert (await api.ok("listRoles", id=role["id"]))["role"] == [role]
    assert [r["name"] for r in (await api.ok("listRoles", type="User"))["role"]] == [
        "User",
        "Auditor",
    ]
    assert [r["name"] for r in (await api.ok("listRoles", keyword="audit"))["role"]] == ["Auditor"]
    updated = (await api.ok("updateRole", id=role["id"], name="Reader", ispublic=True))["role"]
    assert (updated["name"], updated["ispublic"], updated["type"]) == ("Reader", True, "User")
    await api.ok("deleteRole", id=role["id"])
    assert await api.ok("listRoles", id=role["id"]) == {}


async def test_role_errors(api: ApiClient, identities: dict[str, Identity]) -> None:
    await api.fails("createRole", 431, name="NoType")
    assert "type" in await api.fails("createRole", 431, name="Bad", type="Wizard")
    assert "name" in await api.fails("createRole", 431, name="user", type="User")
    await api.fails("createRole", 431, name="", type="User")
    assert "roleid" in await api.fails(
        "createRole", 431, name="Copy", roleid="5f0ad1b7-8e0f-4c4e-9e43-5a6f8c1e2d3b"
    )
    await api.fails("updateRole", 431, id="5f0ad1b7-8e0f-4c4e-9e43-5a6f8c1e2d3b")
    role = await _role(api, "Operator", type="User")
    await _client_with_role(api, identities, "oper", role["id"])
    text = await api.fails("deleteRole", 536, id=role["id"])
    assert "1 account" in text
    await api.fails("updateRole", 536, id=role["id"], type="DomainAdmin")
    assert len((await api.ok("listRoles", name="Operator"))["role"]) == 1


async def test_permissions_of_the_three_roles(clients: Clients) -> None:
    for command, params in (
        ("createRole", {"name": "X", "type": "User"}),
        ("listRolePermissions", {}),
        ("deleteRole", {"id": USER}),
        ("importRole", {"name": "X", "type": "User", "rules[0].rule": "*"}),
    ):
        await clients.d1admin.fails(command, 531, **params)
        await clients.alice.fails(command, 531, **params)
    await clients.alice.fails("listRoles", 531)
    # A domain admin sees the public roles of its own type and below.
    listed = (await clients.d1admin.ok("listRoles"))["role"]
    assert [r["name"] for r in listed] == ["Domain Admin", "User"]
    assert await clients.d1admin.ok("listRoles", id=ROOT_ADMIN) == {}


async def test_private_roles_are_root_admins_only(
    api: ApiClient, clients: Clients, identities: dict[str, Identity]
) -> None:
    private = await _role(api, "Hidden", type="User", ispublic=False)
    assert "Hidden" not in [r["name"] for r in (await clients.d1admin.ok("listRoles"))["role"]]
    await clients.d1admin.fails(
        "createAccount",
        531,
        **new_account("z", accounttype=None, roleid=private["id"]),
    )


async def test_rules_in_order(api: ApiClient) -> None:
    role = await _role(api, "Lister", type="User")
    first = await _rule(api, role["id"], "list*", "allow")
    second = await _rule(api, role["id"], "listVirtualMachines", "deny")
    assert {k: first[k] for k in ("roleid", "rolename", "roletype", "rule", "permission")} == {
        "roleid": role["id"],
        "rolename": "Lister",
        "roletype": "User",
        "rule": "list*",
        "permission": "allow",
    }
    listed = await api.ok("listRolePermissions", roleid=role["id"])
    assert [r["id"] for r in listed["rolepermission"]] == [first["id"], second["id"]]
    await api.ok(
        "updateRolePermission", roleid=role["id"], ruleorder=f"{second['id']},{first['id']}"
    )
    listed = await api.ok("listRolePermissions", roleid=role["id"])
    assert [r["rule"] for r in listed["rolepermission"]] == ["listVirtualMachines", "list*"]
    await api.ok("updateRolePermission", roleid=role["id"], ruleid=second["id"], permission="Allow")
    listed = await api.ok("listRolePermissions", roleid=role["id"])
    assert listed["rolepermission"][0]["permission"] == "allow"
    await api.ok("deleteRolePermission", id=first["id"])
    listed = await api.ok("listRolePermissions", roleid=role["id"])
    assert [r["rule"] for r in listed["rolepermission"]] == ["listVirtualMachines"]


async def test_rule_errors(api: ApiClient) -> None:
    role = await _role(api, "Strict", type="User")
    await _rule(api, role["id"], "list*", "allow")
    assert "rule" in await api.fails(
        "createRolePermission", 431, roleid=role["id"], rule="list*", permission="deny"
    )
    assert "rule" in await api.fails(
        "createRolePermission", 431, roleid=role["id"], rule="noSuchCommand", permission="deny"
    )
    assert "rule" in await api.fails(
        "createRolePermission", 431, roleid=role["id"], rule="list.*", permission="deny"
    )
    assert "permission" in await api.fails(
        "createRolePermission",
        431,
        roleid=role["id"],
        rule="deployVirtualMachine",
        permission="maybe",
    )
    await api.fails("updateRolePermission", 431, roleid=role["id"])
    await api.fails("updateRolePermission", 431, roleid=role["id"], ruleorder=USER)
    await api.fails("deleteRolePermission", 431, id=USER)
    assert len((await api.ok("listRolePermissions", roleid=role["id"]))["rolepermission"]) == 1


async def test_a_custom_role_that_denies_deploy(
    api: ApiClient, identities: dict[str, Identity]
) -> None:
    role = await _role(api, "No deploy", type="User")
    await _rule(api, role["id"], "deployVirtualMachine", "deny")
    client = await _client_with_role(api, identities, "nodeploy", role["id"])
    text = await client.fails("deployVirtualMachine", 531, zoneid=USER)
    assert "deployVirtualMachine" in text
    await client.ok("listVirtualMachines")
    names = await _api_names(client)
    assert "deployVirtualMachine" not in names
    assert {"listVirtualMachines", "startVirtualMachine"} <= names
    # Once the rule is gone, the role type decides again.
    rule_id = (await api.ok("listRolePermissions", roleid=role["id"]))["rolepermission"][0]["id"]
    await api.ok("deleteRolePermission", id=rule_id)
    assert "deployVirtualMachine" in await _api_names(client)


async def test_a_rule_never_grants_more_than_the_role_type(
    api: ApiClient, identities: dict[str, Identity]
) -> None:
    role = await _role(api, "Greedy", type="User")
    await _rule(api, role["id"], "*", "allow")
    client = await _client_with_role(api, identities, "greedy", role["id"])
    await client.fails("createZone", 531, name="z")
    await client.fails("createRole", 531, name="Mine", type="Admin")
    assert "createZone" not in await _api_names(client)
    assert await _api_names(client) == await _api_names(
        await _client_with_role(api, identities, "plain", USER)
    )


async def test_copy_and_import_a_role(api: ApiClient, identities: dict[str, Identity]) -> None:
    imported = (
        await api.ok(
            "importRole",
            name="Viewer",
            type="User",
            description="lists only",
            **{
                "rules[0].rule": "list*",
                "rules[0].permission": "allow",
                "rules[1].rule": "*",
                "rules[1].permission": "deny",
                "rules[1].description": "nothing else",
            },
        )
    )["role"]
    assert (imported["name"], imported["type"], imported["description"]) == (
        "Viewer",
        "User",
        "lists only",
    )
    rules = (await api.ok("listRolePermissions", roleid=imported["id"]))["rolepermission"]
    assert [(r["rule"], r["permission"], r["description"]) for r in rules] == [
        ("list*", "allow", ""),
        ("*", "deny", "nothing else"),
    ]
    viewer = await _client_with_role(api, identities, "viewer", imported["id"])
    await viewer.ok("listZones")
    await viewer.fails("createSSHKeyPair", 531, name="k")
    assert all(name.startswith("list") for name in await _api_names(viewer))

    copy = await _role(api, "Viewer copy", roleid=imported["id"])
    assert copy["type"] == "User"
    copied = (await api.ok("listRolePermissions", roleid=copy["id"]))["rolepermission"]
    assert [(r["rule"], r["permission"]) for r in copied] == [("list*", "allow"), ("*", "deny")]

    await api.fails(
        "importRole",
        431,
        name="Viewer",
        type="User",
        **{"rules[0].rule": "*", "rules[0].permission": "allow"},
    )
    replaced = (
        await api.ok(
            "importRole",
            name="Viewer",
            type="User",
            forced=True,
            **{"rules[0].rule": "*", "rules[0].permission": "allow"},
        )
    )["role"]
    assert replaced["id"] == imported["id"]
    rules = (await api.ok("listRolePermissions", roleid=imported["id"]))["rolepermission"]
    assert [(r["rule"], r["permission"]) for r in rules] == [("*", "allow")]
    await viewer.ok("createSSHKeyPair", name="k")
    await api.fails(
        "importRole",
        531,
        name="User",
        type="User",
        forced=True,
        **{"rules[0].rule": "*", "rules[0].permission": "allow"},
    )
    await api.fails(
        "importRole",
        431,
        name="Bad",
        type="User",
        **{"rules[0].rule": "*", "rules[0].permission": "perhaps"},
    )
    await api.fails(
        "importRole",
        431,
        name="Bad",
        type="User",
        **{"rules[0].rule": "nope", "rules[0].permission": "allow"},
    )
    assert await api.ok("listRoles", name="Bad") == {}
