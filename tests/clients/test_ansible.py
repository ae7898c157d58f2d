"""Ansible's CloudStack collection (``ngine_io.cloudstack``) against a live quick start.

Each playbook under ``playbooks/`` is what an operator would write for one area; it
runs twice: the first run must succeed (its own ``assert`` tasks check what the modules
answered) and change something, the second must succeed without changing anything,
which is what makes a playbook safe to run on a schedule. Teardown playbooks then
remove what was made, also twice each, and ``cs`` confirms it is gone. A teardown comes
in layers (children, then their parent) because a module that names a parent which no
longer exists fails, against CloudStack as here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cs import CloudStack

from tests.clients.conftest import admin_client, ssh_public_key, unique
from tests.support.ansible import PlaybookRun, run_playbook
from tests.support.server import LiveServer

#: Every task is a module process of its own, a second or more each on two busy cores.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

PLAYBOOKS = Path(__file__).parent / "playbooks"


class Operator:
    """Runs playbooks as the root admin, with one set of variables (one ``prefix``)."""

    def __init__(self, cloud: LiveServer, home: Path, variables: dict[str, Any]) -> None:
        self.cloud = cloud
        self.home = home
        self.variables = variables
        self.prefix: str = variables["prefix"]

    def run(self, playbook: str) -> PlaybookRun:
        admin = self.cloud.admin
        return run_playbook(
            PLAYBOOKS / playbook,
            endpoint=self.cloud.endpoint,
            key=admin["apikey"],
            secret=admin["secretkey"],
            home=self.home,
            extra_vars=self.variables,
        )

    def converge(self, *playbooks: str) -> None:
        """Run each playbook twice: green and changing, then green and ``changed=0``."""
        for playbook in playbooks:
            first = self.run(playbook)
            assert first.problems() == [], playbook
            assert first.changed_tasks, f"{playbook}: the first run changed nothing"
            second = self.run(playbook)
            assert second.problems() == [], playbook
            assert second.changed_tasks == [], f"{playbook} is not idempotent"


@pytest.fixture(scope="module")
def admin(cloud: LiveServer) -> CloudStack:
    return admin_client(cloud, fetch_result=True, job_timeout=60)


@pytest.fixture
def operator(cloud: LiveServer, admin: CloudStack, tmp_path: Path) -> Operator:
    public_key, fingerprint = ssh_public_key()
    variables = {
        "prefix": unique("ans"),
        "public_key": public_key,
        "fingerprint": fingerprint,
        "os_type": admin.listOsTypes()["ostype"][0]["description"],
    }
    return Operator(cloud, tmp_path, variables)


def test_identity(operator: Operator, admin: CloudStack) -> None:
    prefix = operator.prefix
    operator.converge("identity.yml")
    [domain] = admin.listDomains(name=prefix)["domain"]
    accounts = admin.listAccounts(domainid=domain["id"], isrecursive=True, listall=True)
    assert {a["name"]: a["state"] for a in accounts["account"]} == {
        f"{prefix}-user": "enabled",
        f"{prefix}-admin": "locked",
    }

    operator.converge("identity_prune.yml")
    users = admin.listUsers(domainid=domain["id"], isrecursive=True, listall=True)["user"]
    assert f"{prefix}-carol" not in {user["username"] for user in users}
    keys = admin.listSSHKeyPairs(listall=True, name=f"{prefix}-key")
    assert keys.get("sshkeypair", []) == []

    operator.converge("identity_teardown.yml")
    assert admin.listDomains(name=prefix).get("domain", []) == []
    assert admin.listAccounts(listall=True, name=f"{prefix}-user").get("account", []) == []


def test_infrastructure(operator: Operator, admin: CloudStack) -> None:
    prefix = operator.prefix
    operator.converge("infrastructure.yml")
    [zone] = admin.listZones(name=f"{prefix}-zone")["zone"]
    hosts = {host["name"]: host for host in admin.listHosts(zoneid=zone["id"])["host"]}
    assert hosts[f"{prefix}-host2"]["resourcestate"] == "Disabled"
    assert hosts[f"{prefix}-host3"]["resourcestate"] == "Maintenance"

    operator.converge("infrastructure_teardown.yml", "zone_teardown.yml")
    assert admin.listZones(name=f"{prefix}-zone").get("zone", []) == []


def test_catalog(operator: Operator, admin: CloudStack) -> None:
    prefix = operator.prefix
    operator.converge("catalog.yml")
    [template] = admin.listTemplates(templatefilter="featured", name=f"{prefix}-linux")["template"]
    assert (template["ispublic"], template["isfeatured"]) == (True, True)

    operator.converge("catalog_teardown.yml")
    offerings = admin.listServiceOfferings(keyword=prefix).get("serviceoffering", [])
    assert offerings == []
    assert admin.listDiskOfferings(keyword=prefix).get("diskoffering", []) == []


def test_network_and_storage(operator: Operator, admin: CloudStack) -> None:
    prefix = operator.prefix
    operator.converge("network_storage.yml")
    [group] = admin.listSecurityGroups(securitygroupname=f"{prefix}-web")["securitygroup"]
    assert sorted(rule["startport"] for rule in group["ingressrule"]) == [22, 443]
    assert [rule["protocol"] for rule in group["egressrule"]] == ["udp"]

    operator.converge("network_storage_teardown.yml")
    [group] = admin.listSecurityGroups(securitygroupname=f"{prefix}-web")["securitygroup"]
    assert [rule["startport"] for rule in group["ingressrule"]] == [22]
    assert admin.listVolumes(keyword=prefix).get("volume", []) == []
    assert admin.listNetworks(keyword=prefix).get("network", []) == []

    operator.converge("security_group_teardown.yml")
    assert (
        admin.listSecurityGroups(securitygroupname=f"{prefix}-web").get("securitygroup", []) == []
    )


def test_compute(operator: Operator, admin: CloudStack) -> None:
    prefix = operator.prefix
    operator.converge("compute.yml", "compute_changes.yml")
    vms = {vm["name"]: vm for vm in admin.listVirtualMachines(keyword=prefix)["virtualmachine"]}
    assert vms[f"{prefix}-vm1"]["state"] == "Stopped"
    assert vms[f"{prefix}-vm2"]["serviceofferingname"] == "Medium Instance"

    [vm1] = admin.listVirtualMachines(name=f"{prefix}-vm1")["virtualmachine"]
    [snapshot] = admin.listVMSnapshot(virtualmachineid=vm1["id"])["vmSnapshot"]
    assert snapshot["displayname"] == f"{prefix}-before-upgrade"
    [root] = admin.listVolumes(virtualmachineid=vm1["id"], type="ROOT")["volume"]
    [policy] = admin.listSnapshotPolicies(volumeid=root["id"])["snapshotpolicy"]
    assert (policy["schedule"], policy["timezone"], policy["maxsnaps"]) == (
        "30:02",
        "Europe/Berlin",
        7,
    )

    operator.converge("compute_snapshot_teardown.yml")
    assert admin.listSnapshotPolicies(volumeid=root["id"]).get("snapshotpolicy", []) == []
    operator.converge("compute_teardown.yml")
    assert admin.listVirtualMachines(keyword=prefix).get("virtualmachine", []) == []
    assert admin.listVolumes(keyword=prefix).get("volume", []) == []


def test_governance(operator: Operator, admin: CloudStack) -> None:
    prefix = operator.prefix
    operator.converge("governance.yml")
    [role] = admin.listRoles(name=f"{prefix}-auditor")["role"]
    rules = admin.listRolePermissions(roleid=role["id"])["rolepermission"]
    assert [(rule["rule"], rule["permission"]) for rule in rules] == [
        ("list*", "allow"),
        ("deployVirtualMachine", "deny"),
    ]
    [domain] = admin.listDomains(name=prefix)["domain"]
    [setting] = admin.listConfigurations(name="default.page.size", domainid=domain["id"])[
        "configuration"
    ]
    assert setting["value"] == "200"
    [project] = admin.listProjects(name=f"{prefix}-proj")["project"]
    assert project["state"] == "Active"

    operator.converge("governance_teardown.yml", "governance_role_teardown.yml")
    assert admin.listRoles(name=f"{prefix}-auditor").get("role", []) == []
    assert admin.listProjects(name=f"{prefix}-proj").get("project", []) == []
    assert admin.listDomains(name=prefix).get("domain", []) == []
