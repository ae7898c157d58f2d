"""``projectid`` on the resource commands, and what suspending and deleting a project do
to its VMs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from starlette.applications import Starlette

from altostratus.db.models import Account, AccountType, Project, VirtualMachine
from tests.api.compute.vm_support import deploy, deploy_args, hosts_up
from tests.api.identity.test_domains import job_result
from tests.api.identity.test_projects import create, new_account, user_keys
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld
from tests.support.jobs import run_job


async def vm_names(client: ApiClient, **params: Any) -> list[str]:
    listed = await client.ok("listVirtualMachines", **params)
    return sorted(vm["name"] for vm in listed.get("virtualmachine", []))


async def _shared_project(clients: Clients) -> tuple[str, ApiClient]:
    """Alice's project ``web``, and a client of dave (of d1), a regular member of it."""
    project = (await create(clients.alice, "web"))["id"]
    d1 = (await clients.alice.ok("listProjects", id=project))["project"][0]["domainid"]
    await clients.admin.ok("createAccount", **new_account("dave", d1))
    await job_result(clients.alice, "addAccountToProject", projectid=project, account="dave")
    return project, clients.alice.with_keys(*await user_keys(clients.admin, "dave"))


async def test_project_vms_belong_to_the_project(
    app: Starlette, compute: ComputeWorld, clients: Clients
) -> None:
    world = await hosts_up(app, compute)
    project, dave = await _shared_project(clients)
    vm = await deploy(clients.alice, world, name="web1", projectid=project)
    assert vm["state"] == "Running"
    await deploy(clients.alice, world, name="own1")
    # The project's VMs are listed with projectid (or -1), not among the caller's own.
    assert await vm_names(clients.alice) == ["own1"]
    assert await vm_names(clients.alice, projectid=project) == ["web1"]
    assert await vm_names(clients.alice, projectid="-1") == ["web1"]
    assert await vm_names(clients.admin, listall=True) == ["own1"]
    assert await vm_names(clients.admin, projectid="-1") == ["web1"]
    # Any member uses the project's VMs: dave, a regular member, stops it by id.
    assert await vm_names(dave, projectid=project) == ["web1"]
    stopped = await run_job(dave, "stopVirtualMachine", id=vm["id"])
    assert stopped["virtualmachine"]["state"] == "Stopped"
    # Outside the project it is not there.
    assert "Unable to find project" in await clients.bob.fails(
        "listVirtualMachines", 431, projectid=project
    )
    assert "Unable to find project" in await clients.bob.fails(
        "deployVirtualMachine", 431, **deploy_args(world, projectid=project)
    )
    await clients.bob.fails("stopVirtualMachine", 431, id=vm["id"])
    assert await vm_names(clients.bob, projectid="-1") == []
    assert "projectid" in await clients.alice.fails("listVirtualMachines", 431, projectid="nope")
    assert "projectid" in await dave.fails(
        "deployVirtualMachine",
        431,
        **deploy_args(world, projectid=project, account="alice", domainid=vm["domainid"]),
    )
    # Events of the project's VMs are the project's.
    events = await clients.alice.ok("listEvents", projectid=project, type="VM.CREATE")
    assert [event["type"] for event in events["event"]] == ["VM.CREATE"]
    async with app.state.runtime.db.transaction(write=False) as session:
        owner_type = await session.scalar(
            select(Account.type)
            .join(VirtualMachine, VirtualMachine.account_id == Account.id)
            .where(VirtualMachine.uuid == vm["id"])
        )
    assert owner_type == AccountType.PROJECT


async def test_project_key_pairs_volumes_and_tags(
    app: Starlette, compute: ComputeWorld, clients: Clients
) -> None:
    world = await hosts_up(app, compute)
    project, dave = await _shared_project(clients)
    created = await clients.alice.ok("createSSHKeyPair", name="deploy", projectid=project)
    assert created["keypair"]["name"] == "deploy"
    listed = await dave.ok("listSSHKeyPairs", projectid=project)
    assert [pair["name"] for pair in listed["sshkeypair"]] == ["deploy"]
    assert (await clients.alice.ok("listSSHKeyPairs")) == {}
    groups = await dave.ok("listSecurityGroups", projectid=project)
    assert [group["name"] for group in groups["securitygroup"]] == ["default"]
    await dave.ok("createSecurityGroup", name="front", projectid=project)
    groups = await clients.alice.ok("listSecurityGroups", projectid="-1")
    assert sorted(group["name"] for group in groups["securitygroup"]) == ["default", "front"]
    vm = await deploy(clients.alice, world, name="web1", projectid=project, keypair="deploy")
    volumes = await clients.alice.ok("listVolumes", projectid=project)
    assert [volume["virtualmachineid"] for volume in volumes["volume"]] == [vm["id"]]
    assert (await clients.alice.ok("listVolumes")) == {}
    await run_job(
        dave,
        "createTags",
        resourcetype="UserVm",
        resourceids=vm["id"],
        **{"tags[0].key": "tier", "tags[0].value": "web"},
    )
    tags = await clients.alice.ok("listTags", projectid=project)
    assert [(tag["key"], tag["value"]) for tag in tags["tag"]] == [("tier", "web")]
    await run_job(
        clients.alice,
        "createTags",
        resourcetype="Project",
        resourceids=project,
        **{"tags[0].key": "team", "tags[0].value": "blue"},
    )
    assert "Unable to find Project" in await clients.bob.fails(
        "createTags",
        431,
        resourcetype="Project",
        resourceids=project,
        **{"tags[0].key": "team", "tags[0].value": "red"},
    )


async def test_suspended_project_stops_its_vms_and_gets_nothing_new(
    app: Starlette, compute: ComputeWorld, clients: Clients
) -> None:
    world = await hosts_up(app, compute)
    project, dave = await _shared_project(clients)
    vm = await deploy(clients.alice, world, name="web1", projectid=project)
    suspended = (await job_result(clients.alice, "suspendProject", id=project))["project"]
    assert (suspended["state"], suspended["vmrunning"], suspended["vmstopped"]) == (
        "Suspended",
        0,
        1,
    )
    listed = await clients.alice.ok("listVirtualMachines", projectid=project)
    assert listed["virtualmachine"][0]["state"] == "Stopped"
    assert "not Active" in await clients.alice.fails(
        "deployVirtualMachine", 531, **deploy_args(world, projectid=project)
    )
    assert "not Active" in await clients.alice.fails(
        "createSSHKeyPair", 531, name="k", projectid=project
    )
    assert "already Suspended" in await clients.alice.fails("suspendProject", 431, id=project)
    # Listing still works while suspended.
    assert (await clients.alice.ok("listSecurityGroups", projectid=project))["count"] == 1
    # A regular member may not change the state back.
    await dave.fails("activateProject", 531, id=project)
    active = (await job_result(clients.alice, "activateProject", id=project))["project"]
    assert active["state"] == "Active"
    assert "already Active" in await clients.alice.fails("activateProject", 431, id=project)
    # Its VMs stay stopped until started; new ones may be deployed again.
    started = await run_job(clients.alice, "startVirtualMachine", id=vm["id"])
    assert started["virtualmachine"]["state"] == "Running"
    await deploy(clients.alice, world, name="web2", projectid=project)


async def test_delete_project_needs_cleanup_while_it_owns_resources(
    app: Starlette, compute: ComputeWorld, clients: Clients
) -> None:
    world = await hosts_up(app, compute)
    project, dave = await _shared_project(clients)
    await deploy(clients.alice, world, name="web1", projectid=project)
    await clients.alice.ok("createSSHKeyPair", name="deploy", projectid=project)
    assert "cleanup=true" in await clients.alice.fails("deleteProject", 536, id=project)
    assert (await clients.alice.ok("listProjects", id=project))["project"][0]["state"] == "Active"
    await dave.fails("deleteProject", 531, id=project, cleanup=True)
    assert await job_result(clients.alice, "deleteProject", id=project, cleanup=True) == {
        "success": "true"
    }
    assert (await clients.alice.ok("listProjects", id=project)) == {}
    assert "Unable to find project" in await clients.alice.fails(
        "listVirtualMachines", 431, projectid=project
    )
    async with app.state.runtime.db.transaction(write=False) as session:
        left = await session.scalar(select(func.count()).where(Account.type == AccountType.PROJECT))
        projects = await session.scalar(select(func.count()).select_from(Project))
        vms = await session.scalar(select(func.count()).where(VirtualMachine.name == "web1"))
    assert (left, projects, vms) == (0, 0, 0)
    # An empty project needs no cleanup.
    empty = (await create(clients.alice, "empty"))["id"]
    await job_result(clients.alice, "deleteProject", id=empty)
    assert "Unable to find project" in await clients.alice.fails("deleteProject", 431, id=empty)


async def test_project_limits_bind_the_projects_resources(
    app: Starlette, compute: ComputeWorld, clients: Clients
) -> None:
    """updateResourceLimit/listResourceLimits with projectid: the project's own limits,
    set by admins, seen by its members, and applied to what is deployed in it."""
    world = await hosts_up(app, compute)
    project, dave = await _shared_project(clients)
    set_limit = await clients.admin.ok(
        "updateResourceLimit", projectid=project, resourcetype=0, max=1
    )
    assert set_limit["resourcelimit"]["max"] == 1
    for member in (clients.alice, dave):
        listed = await member.ok("listResourceLimits", projectid=project, resourcetype=0)
        assert [limit["max"] for limit in listed["resourcelimit"]] == [1]
    own = await clients.alice.ok("listResourceLimits", resourcetype=0)
    assert [limit["max"] for limit in own["resourcelimit"]] == [-1]
    await deploy(clients.alice, world, name="web1", projectid=project)
    await deploy(clients.alice, world, name="own1")
    failed = await clients.alice.fails(
        "deployVirtualMachine", 532, **deploy_args(world, name="web2", projectid=project)
    )
    assert "limit" in failed.lower()
    assert await vm_names(clients.alice, projectid=project) == ["web1"]
    # Outsiders neither see nor set it; members are not admins; account and projectid clash.
    assert "Unable to find project" in await clients.bob.fails(
        "listResourceLimits", 431, projectid=project
    )
    await clients.alice.fails("updateResourceLimit", 531, projectid=project, resourcetype=0)
    assert "projectid" in await clients.admin.fails(
        "listResourceLimits", 431, projectid=project, account="alice"
    )
    listed = await clients.admin.ok("listResourceLimits", projectid=project, resourcetype=0)
    assert [limit["max"] for limit in listed["resourcelimit"]] == [1]
