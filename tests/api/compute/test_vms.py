"""The VM life cycle through the API: deploy, start, stop, reboot, destroy, recover, expunge.

The in-process simulator plays the hosts' agents, so each job really queues host
commands and waits for their answers.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from typing import Any

import orjson
import pytest
from libcloud.compute.providers import Provider, get_driver
from libcloud.compute.types import NodeState
from sqlalchemy import select, update
from starlette.applications import Starlette

from altostratus.agent.drivers.base import DriverError
from altostratus.agent.drivers.simulator import SimulatorDriver
from altostratus.db.models import (
    Account,
    Event,
    Host,
    HostCommand,
    Nic,
    ResourceLimit,
    Template,
    VirtualMachine,
    Volume,
)
from altostratus.jobs.status import JobStatus
from altostratus.services.compute import jobs as vm_jobs
from altostratus.services.compute import lifecycle
from altostratus.services.infrastructure.hosts import system_context
from altostratus.services.shared import async_jobs as jobs
from altostratus.timeutil import utcnow
from tests.api.compute.vm_support import allocations, deploy, deploy_args, hosts_up, vm_row
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld
from tests.support.jobs import run_job, wait_job
from tests.support.world import Identity

SMALL = (500, 512)


@pytest.fixture
async def world(app: Starlette, compute: ComputeWorld) -> ComputeWorld:
    return await hosts_up(app, compute)


async def test_deploy_starts_the_vm(app: Starlette, clients: Clients, world: ComputeWorld) -> None:
    answer = await clients.alice.ok("deployVirtualMachine", **deploy_args(world, name="web-1"))
    assert set(answer) == {"jobid", "id"}
    job = await wait_job(clients.alice, answer["jobid"])
    assert job["jobstatus"] == JobStatus.SUCCEEDED, job
    assert job["jobinstancetype"] == "VirtualMachine"
    assert job["jobinstanceid"] == answer["id"]
    vm = job["jobresult"]["virtualmachine"]
    assert vm["id"] == answer["id"]
    assert (vm["name"], vm["displayname"], vm["state"]) == ("web-1", "web-1", "Running")
    assert (vm["account"], vm["zoneid"], vm["zonename"]) == ("alice", world.zone_id, "zone1")
    assert (vm["serviceofferingid"], vm["serviceofferingname"]) == (
        world.small_offering_id,
        "small",
    )
    assert (vm["templateid"], vm["templatename"]) == (world.template_id, "Simulated Linux")
    assert (vm["cpunumber"], vm["cpuspeed"], vm["memory"]) == (1, 500, 512)
    assert vm["hypervisor"] == "Simulator"
    assert vm["guestosid"] == world.os_type_id
    assert vm["created"].endswith("+0000")
    (nic,) = vm["nic"]
    assert nic["networkid"] == world.network_id
    assert nic["isdefault"] is True
    assert nic["ipaddress"].startswith("10.1.0.")
    assert [group["name"] for group in vm["securitygroup"]] == ["default"]
    assert vm["affinitygroup"] == []
    assert vm["tags"] == []
    assert "hostid" not in vm, "placement is for root admins"
    assert "instancename" not in vm

    seen = (await clients.admin.ok("listVirtualMachines", id=vm["id"]))["virtualmachine"][0]
    assert seen["hostid"] in world.host_ids
    assert seen["instancename"].startswith("i-")
    assert seen["instancename"].endswith("-VM")
    assert (await allocations(app))[seen["hostid"]] == SMALL


async def test_deploy_with_startvm_false_stays_stopped(
    app: Starlette, clients: Clients, world: ComputeWorld
) -> None:
    vm = await deploy(clients.alice, world, startvm=False, name="later")
    assert vm["state"] == "Stopped"
    assert set((await allocations(app)).values()) == {(0, 0)}
    started = await run_job(clients.alice, "startVirtualMachine", id=vm["id"])
    assert started["virtualmachine"]["state"] == "Running"
    assert sorted((await allocations(app)).values()) == [(0, 0), SMALL]


async def test_stop_start_reboot_keep_capacity_exact(
    app: Starlette, clients: Clients, world: ComputeWorld
) -> None:
    vm = await deploy(clients.alice, world)
    stopped = await run_job(clients.alice, "stopVirtualMachine", id=vm["id"])
    assert stopped["virtualmachine"]["state"] == "Stopped"
    assert set((await allocations(app)).values()) == {(0, 0)}
    row = await vm_row(app, vm["id"])
    assert row.host_id is None
    assert row.last_host_id is not None
    assert row.power_state == "PowerOff"

    await run_job(clients.alice, "startVirtualMachine", id=vm["id"])
    rebooted = await run_job(clients.alice, "rebootVirtualMachine", id=vm["id"])
    assert rebooted["virtualmachine"]["state"] == "Running"
    assert sorted((await allocations(app)).values()) == [(0, 0), SMALL]
    forced = await run_job(clients.alice, "stopVirtualMachine", id=vm["id"], forced=True)
    assert forced["virtualmachine"]["state"] == "Stopped"
    assert set((await allocations(app)).values()) == {(0, 0)}


async def test_operations_in_the_wrong_state_are_431_without_a_job(
    clients: Clients, world: ComputeWorld
) -> None:
    vm = await deploy(clients.alice, world, startvm=False)
    for command in ("rebootVirtualMachine",):  # stopping a Stopped VM succeeds (CloudStack)
        text = await clients.alice.fails(command, 431, id=vm["id"])
        assert "is in state Stopped; it must be Running" in text
    await run_job(clients.alice, "startVirtualMachine", id=vm["id"])
    text = await clients.alice.fails("startVirtualMachine", 431, id=vm["id"])
    assert "it must be Stopped to start it" in text
    text = await clients.alice.fails(
        "resetSSHKeyForVirtualMachine", 431, id=vm["id"], keypair="any"
    )
    assert "it must be Stopped" in text
    assert (await clients.alice.ok("listAsyncJobs"))["count"] == 2, "only deploy and start"


async def test_destroy_recover_and_expunge(
    app: Starlette, clients: Clients, world: ComputeWorld
) -> None:
    vm = await deploy(clients.alice, world, name="doomed")
    destroyed = await run_job(clients.alice, "destroyVirtualMachine", id=vm["id"])
    assert destroyed["virtualmachine"]["state"] == "Destroyed"
    assert set((await allocations(app)).values()) == {(0, 0)}
    assert await clients.alice.ok("listVirtualMachines") == {}, "users do not see Destroyed VMs"
    listed = await clients.d1admin.ok("listVirtualMachines", id=vm["id"])
    assert listed["virtualmachine"][0]["state"] == "Destroyed"

    await clients.alice.fails("recoverVirtualMachine", 531, id=vm["id"])
    recovered = await clients.d1admin.ok("recoverVirtualMachine", id=vm["id"])
    assert recovered["virtualmachine"]["state"] == "Stopped"
    # The name is still taken while the VM exists (even Destroyed).
    text = await clients.alice.fails(
        "deployVirtualMachine", 431, **deploy_args(world, name="doomed")
    )
    assert "name" in text

    await clients.alice.fails("destroyVirtualMachine", 531, id=vm["id"], expunge=True)
    await run_job(clients.d1admin, "destroyVirtualMachine", id=vm["id"], expunge=True)
    assert await clients.admin.ok("listVirtualMachines", id=vm["id"]) == {}
    row = await vm_row(app, vm["id"])
    assert row.removed is not None
    async with app.state.runtime.db.transaction(write=False) as session:
        nics = list(await session.scalars(select(Nic).where(Nic.vm_id == row.id)))
        root = await session.scalar(select(Volume).where(Volume.name.like("ROOT-%")))
        events = list(
            await session.scalars(
                select(Event.type).where(Event.resource_uuid == vm["id"]).order_by(Event.id)
            )
        )
    assert nics == [], "expunge frees the addresses"
    assert root is not None
    assert root.removed is not None
    assert root.state == "Expunged"
    assert events[0] == "VM.CREATE"
    assert events[-1] == "VM.EXPUNGE"
    assert {"VM.START", "VM.STOP", "VM.DESTROY", "VM.RECOVER"} <= set(events)
    # Now the name is free again.
    await deploy(clients.alice, world, name="doomed", startvm=False)


async def test_expunge_a_destroyed_vm(clients: Clients, world: ComputeWorld) -> None:
    vm = await deploy(clients.alice, world, startvm=False)
    await run_job(clients.alice, "destroyVirtualMachine", id=vm["id"])
    await clients.alice.fails("expungeVirtualMachine", 531, id=vm["id"])
    assert (await run_job(clients.admin, "expungeVirtualMachine", id=vm["id"])) == {
        "success": "true"
    }
    text = await clients.admin.fails("expungeVirtualMachine", 431, id=vm["id"])
    assert "Unable to find virtual machine" in text


async def test_listing_visibility(clients: Clients, world: ComputeWorld) -> None:
    alice_vm = await deploy(clients.alice, world, startvm=False, name="a1")
    carol_vm = await deploy(clients.carol, world, startvm=False, name="c1")
    bob_vm = await deploy(clients.bob, world, startvm=False, name="b1")

    def ids(body: dict[str, list[dict[str, str]]]) -> set[str]:
        return {vm["id"] for vm in body.get("virtualmachine", [])}

    assert ids(await clients.alice.ok("listVirtualMachines")) == {alice_vm["id"]}
    assert ids(await clients.alice.ok("listVirtualMachines", listall=True)) == {alice_vm["id"]}
    assert ids(await clients.d1admin.ok("listVirtualMachines")) == set()
    assert ids(await clients.d1admin.ok("listVirtualMachines", listall=True)) == {
        alice_vm["id"],
        carol_vm["id"],
    }
    everything = await clients.admin.ok("listVirtualMachines", listall=True)
    assert ids(everything) == {alice_vm["id"], carol_vm["id"], bob_vm["id"]}
    assert everything["count"] == 3
    page = await clients.admin.ok("listVirtualMachines", listall=True, page=2, pagesize=2)
    assert (page["count"], len(page["virtualmachine"])) == (3, 1)
    assert ids(await clients.admin.ok("listVirtualMachines", listall=True, keyword="c1")) == {
        carol_vm["id"]
    }
    assert ids(
        await clients.admin.ok("listVirtualMachines", account="alice", domainid=_domain(alice_vm))
    ) == {alice_vm["id"]}
    # Another account's VM is not found, not forbidden: its existence is not revealed.
    for command in ("stopVirtualMachine", "startVirtualMachine", "destroyVirtualMachine"):
        text = await clients.bob.fails(command, 431, id=alice_vm["id"])
        assert "Unable to find virtual machine" in text
    assert await clients.bob.ok("listVirtualMachines", id=alice_vm["id"]) == {}


def _domain(vm: dict[str, str]) -> str:
    return vm["domainid"]


async def test_list_filters(clients: Clients, world: ComputeWorld) -> None:
    running = await deploy(clients.alice, world, name="r1")
    stopped = await deploy(clients.alice, world, name="s1", startvm=False)
    by_state = await clients.alice.ok("listVirtualMachines", state="Stopped")
    assert [vm["id"] for vm in by_state["virtualmachine"]] == [stopped["id"]]
    by_ids = await clients.alice.ok("listVirtualMachines", ids=[running["id"], stopped["id"]])
    assert by_ids["count"] == 2
    assert (await clients.alice.ok("listVirtualMachines", name="r1"))["count"] == 1
    assert (await clients.alice.ok("listVirtualMachines", zoneid=world.zone_id))["count"] == 2
    assert (await clients.alice.ok("listVirtualMachines", templateid=world.template_id))[
        "count"
    ] == 2
    other = await clients.alice.ok("listVirtualMachines", serviceofferingid=world.big_offering_id)
    assert other == {}
    await clients.alice.ok(
        "createTags",
        resourcetype="UserVm",
        resourceids=running["id"],
        **{"tags[0].key": "tier", "tags[0].value": "web"},
    )
    tagged = await clients.alice.ok(
        "listVirtualMachines", **{"tags[0].key": "tier", "tags[0].value": "web"}
    )
    assert [vm["id"] for vm in tagged["virtualmachine"]] == [running["id"]]
    assert tagged["virtualmachine"][0]["tags"][0]["key"] == "tier"
    # A state no VM can be in matches nothing, as in CloudStack; a malformed id is a 431.
    assert await clients.alice.ok("listVirtualMachines", state="Sleeping") == {}
    assert await clients.alice.ok("listVirtualMachines", id="-1") == {}
    await clients.alice.fails("listVirtualMachines", 431, id="not-a-uuid")


@pytest.mark.parametrize(
    ("param", "value", "named"),
    [
        ("zoneid", "00000000-0000-4000-8000-000000000000", "zoneid"),
        ("serviceofferingid", "00000000-0000-4000-8000-000000000000", "serviceofferingid"),
        ("templateid", "00000000-0000-4000-8000-000000000000", "templateid"),
        ("diskofferingid", "00000000-0000-4000-8000-000000000000", "diskofferingid"),
        ("networkids", "00000000-0000-4000-8000-000000000000", "networkids"),
        ("affinitygroupids", "00000000-0000-4000-8000-000000000000", "affinitygroupids"),
        ("securitygroupids", "00000000-0000-4000-8000-000000000000", "securitygroupids"),
        ("keypair", "nosuchkey", "keypair"),
        ("name", "1starts-with-a-digit", "name"),
        ("name", "has_underscore", "name"),
        ("name", "x" * 64, "name"),
        ("userdata", "not base64!", "userdata"),
        ("userdata", base64.b64encode(b"x" * 32769).decode(), "userdata"),
        ("size", 5, "size"),
        ("rootdisksize", 1, "rootdisksize"),
        ("zoneid", "not-a-uuid", "zoneid"),
    ],
)
async def test_bad_deploy_input_is_431_naming_the_parameter(
    clients: Clients, world: ComputeWorld, param: str, value: object, named: str
) -> None:
    text = await clients.alice.fails(
        "deployVirtualMachine", 431, **deploy_args(world, **{param: value})
    )
    assert named in text
    assert await clients.alice.ok("listAsyncJobs") == {}, "bad input never creates a job"
    assert await clients.alice.ok("listVirtualMachines") == {}


async def test_missing_parameters_and_custom_disk(clients: Clients, world: ComputeWorld) -> None:
    text = await clients.alice.fails(
        "deployVirtualMachine", 431, zoneid=world.zone_id, templateid=world.template_id
    )
    assert "serviceofferingid" in text
    text = await clients.alice.fails(
        "deployVirtualMachine",
        431,
        **deploy_args(world, diskofferingid=world.custom_disk_offering_id),
    )
    assert "size" in text
    vm = await deploy(
        clients.alice,
        world,
        startvm=False,
        diskofferingid=world.custom_disk_offering_id,
        size=20,
        rootdisksize=10,
        userdata=base64.b64encode(b"#cloud-config\n").decode(),
    )
    volumes = await clients.alice.ok("listVolumes", virtualmachineid=vm["id"])
    sizes = sorted((v["type"], v["size"]) for v in volumes["volume"])
    assert sizes == [("DATADISK", 20 * 1024**3), ("ROOT", 10 * 1024**3)]


async def test_permissions_are_531(clients: Clients, world: ComputeWorld) -> None:
    text = await clients.alice.fails(
        "deployVirtualMachine", 531, **deploy_args(world, hostid=world.host_ids[0])
    )
    assert "hostid" in text
    await clients.alice.fails("expungeVirtualMachine", 531, id=str(uuid.uuid4()))


async def test_a_user_deploys_for_itself_only(
    clients: Clients, world: ComputeWorld, identities: dict[str, Identity]
) -> None:
    """Naming another account is "not found" (431), as for every owned object; naming
    its own account is the same as naming none."""
    carol, alice = identities["carol"], identities["alice"]
    text = await clients.alice.fails(
        "deployVirtualMachine", 431, **deploy_args(world, account="carol", domainid=carol.domain_id)
    )
    assert "carol" in text
    vm = await deploy(
        clients.alice, world, startvm=False, account="alice", domainid=alice.domain_id
    )
    assert vm["account"] == "alice"


async def test_admin_deploys_for_another_account(
    clients: Clients, world: ComputeWorld, identities: dict[str, object]
) -> None:
    carol = identities["carol"]
    vm = await deploy(
        clients.d1admin,
        world,
        startvm=False,
        account="carol",
        domainid=carol.domain_id,  # type: ignore[attr-defined]
    )
    assert vm["account"] == "carol"
    assert (await clients.carol.ok("listVirtualMachines"))["count"] == 1
    text = await clients.d1admin.fails(
        "deployVirtualMachine",
        431,
        **deploy_args(world, account="bob", domainid=identities["bob"].domain_id),  # type: ignore[attr-defined]
    )
    assert "account" in text


async def test_resource_limit_is_532(app: Starlette, clients: Clients, world: ComputeWorld) -> None:
    async with app.state.runtime.db.transaction() as session:
        alice = await session.scalar(select(Account).where(Account.name == "alice"))
        assert alice is not None
        session.add(ResourceLimit(account_id=alice.id, resource_type=0, max=1))
    await deploy(clients.alice, world, startvm=False)
    text = await clients.alice.fails("deployVirtualMachine", 532, **deploy_args(world))
    assert "user_vm" in text
    assert (await clients.alice.ok("listVirtualMachines"))["count"] == 1


async def test_reset_ssh_key_and_update(clients: Clients, world: ComputeWorld) -> None:
    await clients.alice.ok("createSSHKeyPair", name="mykey")
    vm = await deploy(clients.alice, world, startvm=False, keypair="mykey")
    assert vm["keypair"] == "mykey"
    await clients.alice.ok("createSSHKeyPair", name="other")
    reset = await run_job(
        clients.alice, "resetSSHKeyForVirtualMachine", id=vm["id"], keypair="other"
    )
    assert reset["virtualmachine"]["keypair"] == "other"
    await clients.alice.fails("resetSSHKeyForVirtualMachine", 431, id=vm["id"], keypair="nokey")
    updated = await clients.alice.ok(
        "updateVirtualMachine", id=vm["id"], displayname="My VM", group="web", haenable=True
    )
    assert updated["virtualmachine"]["displayname"] == "My VM"
    assert updated["virtualmachine"]["group"] == "web"
    assert updated["virtualmachine"]["haenable"] is True


async def test_failed_start_of_existing_vm_leaves_it_stopped(
    app: Starlette, api: ApiClient, clients: Clients, world: ComputeWorld
) -> None:
    vm = await deploy(
        clients.alice, world, startvm=False, serviceofferingid=world.tagged_offering_id
    )
    answer = await clients.alice.ok("startVirtualMachine", id=vm["id"])
    job = await wait_job(clients.alice, answer["jobid"])
    assert job["jobstatus"] == JobStatus.FAILED
    assert job["jobresult"]["errorcode"] == 533
    assert "tag" in job["jobresult"]["errortext"]
    assert (await vm_row(app, vm["id"])).state == "Stopped"
    assert set((await allocations(app)).values()) == {(0, 0)}


async def test_libcloud_reads_the_answer(clients: Clients, world: ComputeWorld) -> None:
    """Libcloud's own parser accepts the VM (it raises KeyError on a missing field)."""
    vm = await deploy(clients.alice, world, name="node-1", securitygroupnames="default")
    driver: Any = get_driver(Provider.CLOUDSTACK)(
        "key", "secret", url="http://127.0.0.1:1/client/api"
    )
    node = driver._to_node(data=vm)
    assert (node.id, node.name, node.state) == (vm["id"], "node-1", NodeState.RUNNING)
    assert node.private_ips == [vm["nic"][0]["ipaddress"]]
    assert node.extra["security_group"] == ["default"]
    assert node.extra["zone_id"] == world.zone_id


async def test_start_command_carries_disks_nics_key_and_user_data(
    app: Starlette, clients: Clients, world: ComputeWorld
) -> None:
    created = await clients.alice.ok("createSSHKeyPair", name="k1")
    user_data = base64.b64encode(b"#!/bin/sh\necho hi\n").decode()
    vm = await deploy(
        clients.alice,
        world,
        keypair="k1",
        userdata=user_data,
        networkids=world.network_id,
        diskofferingid=world.disk_offering_id,
    )
    async with app.state.runtime.db.transaction(write=False) as session:
        payloads = list(
            await session.scalars(select(HostCommand.payload).where(HostCommand.kind == "StartVm"))
        )
    (command,) = [orjson.loads(payload) for payload in payloads]
    assert command["vm_uuid"] == vm["id"]
    assert command["user_data"] == user_data
    assert command["ssh_public_key"].startswith("ssh-")
    assert created["keypair"]["fingerprint"]
    assert [(v["device_id"], v["template_url"] is not None) for v in command["volumes"]] == [
        (0, True),
        (1, False),
    ]
    assert command["nics"][0]["ip_address"] == vm["nic"][0]["ipaddress"]


async def test_admin_expunges_a_running_vm_at_once(
    app: Starlette, api: ApiClient, world: ComputeWorld
) -> None:
    vm = await deploy(api, world, diskofferingid=world.disk_offering_id)
    gone = await run_job(api, "destroyVirtualMachine", id=vm["id"], expunge=True)
    assert gone["virtualmachine"]["state"] == "Expunging"
    assert await api.ok("listVirtualMachines", id=vm["id"]) == {}
    assert set((await allocations(app)).values()) == {(0, 0)}
    async with app.state.runtime.db.transaction(write=False) as session:
        kinds = list(await session.scalars(select(HostCommand.kind).order_by(HostCommand.id)))
        data = await session.scalar(select(Volume).where(Volume.type == "DATADISK"))
    assert kinds == ["StartVm", "StopVm", "DestroyVm"]
    assert data is not None
    assert (data.vm_id, data.removed) == (None, None), "the data disk survives, detached"


async def test_expunge_after_the_last_host_was_deleted(
    app: Starlette, clients: Clients, world: ComputeWorld
) -> None:
    """Nothing is left to delete on a removed host: the expunge runs in the database only
    (a command for it would never be delivered, and the VM could never be expunged)."""
    vm = await deploy(clients.alice, world)
    await run_job(clients.alice, "destroyVirtualMachine", id=vm["id"])
    row = await vm_row(app, vm["id"])
    assert row.last_host_id is not None
    async with app.state.runtime.db.transaction() as session:
        await session.execute(
            update(Host).where(Host.id == row.last_host_id).values(removed=utcnow())
        )
    answer = await clients.admin.ok("expungeVirtualMachine", id=vm["id"])
    job = await wait_job(clients.admin, answer["jobid"], within=10)
    assert job["jobstatus"] == JobStatus.SUCCEEDED, job
    assert (await vm_row(app, vm["id"])).removed is not None
    async with app.state.runtime.db.transaction(write=False) as session:
        kinds = list(await session.scalars(select(HostCommand.kind)))
    assert "DestroyVm" not in kinds


async def test_an_unexpected_error_after_placement_gives_the_capacity_back(
    app: Starlette, clients: Clients, world: ComputeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not only CloudErrors compensate: the VM must not stay Starting, holding capacity."""

    async def broken(*_: object) -> None:
        raise AssertionError("a bug after the host started the VM")

    monkeypatch.setattr(lifecycle, "mark_running", broken)
    answer = await clients.alice.ok("deployVirtualMachine", **deploy_args(world))
    job = await wait_job(clients.alice, answer["jobid"])
    assert (job["jobstatus"], job["jobresult"]["errorcode"]) == (JobStatus.FAILED, 530)
    row = await vm_row(app, answer["id"])
    assert (row.state, row.host_id) == ("Error", None)
    assert set((await allocations(app)).values()) == {(0, 0)}
    destroyed = await run_job(clients.alice, "destroyVirtualMachine", id=answer["id"])
    assert destroyed["virtualmachine"]["state"] == "Destroyed"


async def test_job_steps_do_not_overwrite_a_concurrent_change(
    app: Starlette, clients: Clients, world: ComputeWorld
) -> None:
    """A step finding the VM no longer in the state it expects leaves it (and capacity)."""
    vm = await deploy(clients.alice, world, startvm=False)
    host = await vm_row(app, vm["id"])
    async with app.state.runtime.db.transaction() as session:
        host_id = await session.scalar(select(Host.id).where(Host.uuid == world.host_ids[0]))
        assert host_id is not None
        ctx = await system_context(session, app.state.runtime.deps)
        await lifecycle.mark_running(ctx, vm["id"], host_id)
        await lifecycle.start_failed(ctx, vm["id"], host_id, "Error", "late answer")
        await lifecycle.expunge_failed(ctx, vm["id"], "late answer")
    row = await vm_row(app, vm["id"])
    assert (row.state, row.host_id, row.power_state) == ("Stopped", None, host.power_state)
    assert set((await allocations(app)).values()) == {(0, 0)}


async def _private_template(app: Starlette, world: ComputeWorld, owner: Identity) -> str:
    """A Ready, non-public copy of the world's template owned by ``owner``; its UUID."""
    async with app.state.runtime.db.transaction() as session:
        base = await session.scalar(select(Template).where(Template.uuid == world.template_id))
        account = await session.scalar(select(Account).where(Account.uuid == owner.account_id))
        assert base is not None
        assert account is not None
        template = Template(
            name=f"{owner.account}-private",
            display_text="Private",
            url=base.url,
            format=base.format,
            hypervisor=base.hypervisor,
            os_type_id=base.os_type_id,
            zone_id=base.zone_id,
            account_id=account.id,
            domain_id=account.domain_id,
            is_public=False,
            size=base.size,
        )
        session.add(template)
        await session.flush()
        return template.uuid


async def test_deploy_checks_what_the_owner_may_use(
    app: Starlette, clients: Clients, world: ComputeWorld, identities: dict[str, Identity]
) -> None:
    """An admin deploying for alice cannot hand her bob's private template."""
    alice, bob = identities["alice"], identities["bob"]
    template = await _private_template(app, world, bob)
    text = await clients.admin.fails(
        "deployVirtualMachine",
        431,
        **deploy_args(
            world, templateid=template, account="alice", domainid=alice.domain_id, startvm=False
        ),
    )
    assert "templateid" in text
    vm = await deploy(
        clients.admin,
        world,
        templateid=template,
        account="bob",
        domainid=bob.domain_id,
        startvm=False,
    )
    assert (vm["account"], vm["templateid"]) == ("bob", template)


async def test_only_the_job_owning_a_stop_undoes_it(
    app: Starlette, clients: Clients, world: ComputeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user's stop whose agent fails puts the VM back to Running; a maintenance stop
    that found the VM Stopping (the user's stop) and fails leaves it to the user's job,
    which may still stop it: it must not flip back to Running."""

    async def refuse(*_: object) -> None:
        raise DriverError("the hypervisor is busy")

    vm = await deploy(clients.alice, world)
    monkeypatch.setattr(SimulatorDriver, "stop_vm", refuse)
    answer = await clients.alice.ok("stopVirtualMachine", id=vm["id"])
    assert (await wait_job(clients.alice, answer["jobid"]))["jobstatus"] == JobStatus.FAILED
    assert (await vm_row(app, vm["id"])).state == "Running"

    row = await vm_row(app, vm["id"])
    async with app.state.runtime.db.transaction() as session:
        # As if a user's stop request had just moved it; host maintenance then stops it too.
        await session.execute(
            update(VirtualMachine).where(VirtualMachine.id == row.id).values(state="Stopping")
        )
        ctx = await system_context(session, app.state.runtime.deps)
        job = await jobs.submit(
            ctx,
            vm_jobs.STOP,
            vm_jobs.StopPayload(id=vm["id"], forced=False),
            instance_type="VirtualMachine",
            instance_uuid=vm["id"],
        )
        job_uuid = job.uuid
    app.state.runtime.deps.signals.jobs_submitted()
    assert (await wait_job(clients.admin, job_uuid))["jobstatus"] == JobStatus.FAILED
    assert (await vm_row(app, vm["id"])).state == "Stopping"


async def test_concurrent_deploys_of_one_name_create_one_vm(
    app: Starlette, clients: Clients, world: ComputeWorld
) -> None:
    """The name check and the unique index together: one VM, the other request 431."""
    answers = await asyncio.gather(
        *(
            clients.alice.call("deployVirtualMachine", **deploy_args(world, name="twin"))
            for _ in range(4)
        )
    )
    assert sorted(answer.status for answer in answers) == [200, 431, 431, 431]
    assert all("name" in answer.error_text for answer in answers if answer.status == 431)
    listed = await clients.alice.ok("listVirtualMachines", name="twin")
    assert listed["count"] == 1


async def test_stopping_a_stopped_vm_answers_it(
    app: Starlette, clients: Clients, world: ComputeWorld
) -> None:
    """CloudStack answers success for a VM already Stopped: the job answers the VM."""
    vm = await deploy(clients.alice, world, startvm=False)
    again = await run_job(clients.alice, "stopVirtualMachine", id=vm["id"])
    assert (again["virtualmachine"]["id"], again["virtualmachine"]["state"]) == (
        vm["id"],
        "Stopped",
    )
    forced = await run_job(clients.alice, "stopVirtualMachine", id=vm["id"], forced=True)
    assert forced["virtualmachine"]["state"] == "Stopped"
    assert set((await allocations(app)).values()) == {(0, 0)}
    async with app.state.runtime.db.transaction(write=False) as session:
        commands = list(await session.scalars(select(HostCommand.kind)))
    assert commands == [], "nothing was sent to a host"
    # Other states still answer 431, and others' VMs are still not found.
    text = await clients.bob.fails("stopVirtualMachine", 431, id=vm["id"])
    assert "Unable to find virtual machine" in text
    await run_job(clients.alice, "destroyVirtualMachine", id=vm["id"])
    text = await clients.d1admin.fails("stopVirtualMachine", 431, id=vm["id"])
    assert "is in state Destroyed; it must be Running" in text


async def test_destroy_expunge_expunges_a_destroyed_vm(
    app: Starlette, clients: Clients, world: ComputeWorld
) -> None:
    vm = await deploy(clients.alice, world, name="twice")
    await run_job(clients.alice, "destroyVirtualMachine", id=vm["id"])
    # Users may not expunge (as before); destroying a Destroyed VM again is still a 431.
    await clients.alice.fails("destroyVirtualMachine", 531, id=vm["id"], expunge=True)
    text = await clients.d1admin.fails("destroyVirtualMachine", 431, id=vm["id"])
    assert "is in state Destroyed" in text
    gone = await run_job(clients.d1admin, "destroyVirtualMachine", id=vm["id"], expunge=True)
    assert gone["virtualmachine"]["id"] == vm["id"]
    assert await clients.admin.ok("listVirtualMachines", id=vm["id"]) == {}
    row = await vm_row(app, vm["id"])
    assert row.removed is not None
    async with app.state.runtime.db.transaction(write=False) as session:
        root = await session.scalar(select(Volume).where(Volume.vm_id == row.id))
        kinds = list(await session.scalars(select(HostCommand.kind).order_by(HostCommand.id)))
    assert root is not None
    assert (root.state, root.removed is not None) == ("Expunged", True)
    assert kinds == ["StartVm", "StopVm", "DestroyVm"], "the host deleted its disks"
    text = await clients.admin.fails("destroyVirtualMachine", 431, id=vm["id"], expunge=True)
    assert "Unable to find virtual machine" in text
    # The name is free again.
    await deploy(clients.alice, world, name="twice", startvm=False)


async def _volume(client: ApiClient, world: ComputeWorld, name: str) -> str:
    result = await run_job(
        client,
        "createVolume",
        name=name,
        zoneid=world.zone_id,
        diskofferingid=world.disk_offering_id,
    )
    volume_id: str = result["volume"]["id"]
    return volume_id


async def _volumes_of(client: ApiClient, vm_id: str) -> dict[str, str]:
    listed = await client.ok("listVolumes", virtualmachineid=vm_id, listall=True)
    return {volume["id"]: volume["type"] for volume in listed.get("volume", [])}


async def test_destroy_with_volumeids_deletes_those_data_disks(
    app: Starlette, api: ApiClient, clients: Clients, world: ComputeWorld
) -> None:
    alice = clients.alice
    vm = await deploy(alice, world, diskofferingid=world.disk_offering_id)
    second = await _volume(alice, world, "second")
    await run_job(alice, "attachVolume", id=second, virtualmachineid=vm["id"])
    attached = await _volumes_of(alice, vm["id"])
    (root,) = [uuid for uuid, kind in attached.items() if kind == "ROOT"]
    (first,) = [uuid for uuid, kind in attached.items() if uuid not in (root, second)]
    loose = await _volume(alice, world, "loose")
    other_vm = await deploy(alice, world, startvm=False, diskofferingid=world.disk_offering_id)
    (others,) = [u for u, k in (await _volumes_of(alice, other_vm["id"])).items() if k != "ROOT"]

    # Checked in the request, before anything changes: 431 naming volumeids, no job.
    jobs_before = (await alice.ok("listAsyncJobs"))["count"]
    for bad, words in (
        (loose, "not attached"),
        (others, "not attached"),
        (str(uuid.uuid4()), "not attached"),
        (root, "only data disks"),
        (f"{first},{loose}", loose),
    ):
        text = await alice.fails("destroyVirtualMachine", 431, id=vm["id"], volumeids=bad)
        assert "volumeids" in text
        assert words in text
    await alice.fails("destroyVirtualMachine", 431, id=vm["id"], volumeids="not-a-uuid")
    assert (await alice.ok("listAsyncJobs"))["count"] == jobs_before
    assert (await vm_row(app, vm["id"])).state == "Running"
    assert set(await _volumes_of(alice, vm["id"])) == {root, first, second}

    destroyed = await run_job(alice, "destroyVirtualMachine", id=vm["id"], volumeids=first)
    assert destroyed["virtualmachine"]["state"] == "Destroyed"
    assert await alice.ok("listVolumes", id=first) == {}
    assert set(await _volumes_of(api, vm["id"])) == {root, second}, "the other disk stays"
    async with app.state.runtime.db.transaction(write=False) as session:
        row = await session.scalar(select(Volume).where(Volume.uuid == first))
        deletions = list(
            await session.scalars(
                select(HostCommand.payload).where(HostCommand.kind == "DeleteVolume")
            )
        )
    assert row is not None
    assert (row.state, row.vm_id, row.removed is not None) == ("Expunged", None, True)
    assert [orjson.loads(payload)["volume"]["uuid"] for payload in deletions] == [first]
    events = await alice.ok("listEvents", type="VOLUME.DELETE")
    assert [first in event["description"] for event in events["event"]] == [True]

    # An admin expunging the Destroyed VM takes the other disk with it too.
    text = await api.fails("destroyVirtualMachine", 431, id=vm["id"], expunge=True, volumeids=first)
    assert "not attached" in text
    await run_job(api, "destroyVirtualMachine", id=vm["id"], expunge=True, volumeids=second)
    assert await alice.ok("listVolumes", id=second) == {}
    assert others in await _volumes_of(alice, other_vm["id"]), "another VM's disk stays"
    assert (await alice.ok("listVolumes", id=loose))["count"] == 1, "a loose disk is untouched"
