"""Teardown: deleteAccount and deleteDomain cleanup=true remove everything an account has had.

An operator deletes an account that has run VMs, kept a data disk and a snapshot,
taken an address, and made groups, keys, tags and limits; the job expunges the VMs on
their hosts and leaves nothing behind that would keep the account (or its domain) in use.
"""

from __future__ import annotations

from sqlalchemy import func, select
from starlette.applications import Starlette

from altostratus.db.models import (
    Account,
    AffinityGroup,
    IpAddress,
    ResourceLimit,
    ResourceTag,
    SecurityGroup,
    Snapshot,
    SshKeyPair,
    VirtualMachine,
    Volume,
)
from altostratus.jobs.status import JobStatus
from tests.api.compute.vm_support import allocations, deploy, hosts_up
from tests.api.identity.test_domains import job_result, names
from tests.api.storage.test_snapshots import snapshot
from tests.api.storage.test_volumes import create_volume
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld
from tests.support.jobs import run_job, wait_job
from tests.support.world import Identity

_OWNED = (
    VirtualMachine,
    Volume,
    Snapshot,
    IpAddress,
    SecurityGroup,
    SshKeyPair,
    AffinityGroup,
    ResourceTag,
    ResourceLimit,
)


async def _populate(
    client: ApiClient, admin: ApiClient, world: ComputeWorld, who: Identity
) -> None:
    """A bit of everything for ``who``'s account: a running and a destroyed VM, a kept
    data disk with a snapshot, an address, groups, a key pair, a tag and limits."""
    await client.ok("createSSHKeyPair", name="deploy")
    await run_job(client, "createAffinityGroup", name="spread", type="host anti-affinity")
    await client.ok("createSecurityGroup", name="web")
    running = await deploy(
        client, world, name="web1", keypair="deploy", affinitygroupnames="spread"
    )
    destroyed = await deploy(client, world, name="old1")
    await run_job(client, "destroyVirtualMachine", id=destroyed["id"])
    await client.ok(
        "createTags",
        resourcetype="UserVm",
        resourceids=running["id"],
        **{"tags[0].key": "role", "tags[0].value": "web"},
    )
    volume = await create_volume(client, world, "data")
    await run_job(client, "attachVolume", id=volume["id"], virtualmachineid=running["id"])
    await snapshot(client, volume["id"])
    await run_job(client, "associateIpAddress", zoneid=world.zone_id)
    for resource_type in (0, 8):
        await admin.ok(
            "updateResourceLimit",
            account=who.account,
            domainid=who.domain_id,
            resourcetype=resource_type,
            max=20,
        )


async def _left_over(app: Starlette, account_uuid: str) -> dict[str, int]:
    """Rows of any kind that still refer to the account (none once it is deleted)."""
    async with app.state.runtime.db.transaction(write=False) as session:
        account_id = await session.scalar(select(Account.id).where(Account.uuid == account_uuid))
        if account_id is None:
            return {}
        counts = {}
        for model in _OWNED:
            column = model.account_id
            counts[model.__name__] = await session.scalar(
                select(func.count()).where(column == account_id)
            )
        return {name: count for name, count in counts.items() if count}


async def test_delete_account_expunges_its_vms_and_removes_what_it_owns(
    app: Starlette, clients: Clients, identities: dict[str, Identity], compute: ComputeWorld
) -> None:
    world, alice = await hosts_up(app, compute), identities["alice"]
    before = await allocations(app)
    await _populate(clients.alice, clients.admin, world, alice)
    assert await _left_over(app, alice.account_id)

    answer = await clients.admin.ok("deleteAccount", id=alice.account_id)
    assert set(answer) == {"jobid"}
    job = await wait_job(clients.admin, answer["jobid"])
    assert (job["jobstatus"], job["jobresult"]) == (JobStatus.SUCCEEDED, {"success": "true"})

    assert await _left_over(app, alice.account_id) == {}
    assert "alice" not in await names(clients.admin, "listAccounts", "account", listall=True)
    assert await allocations(app) == before  # the running VM gave its host back
    vms = await clients.admin.ok("listVirtualMachines", listall=True)
    assert vms.get("count", 0) == 0
    expunged = await clients.admin.ok("listEvents", type="VM.EXPUNGE", listall=True)
    assert {e["description"].split()[0] for e in expunged["event"]} >= {"Expunged"}
    await clients.alice.fails("listAccounts", 401)


async def test_the_account_is_disabled_while_its_job_runs(
    app: Starlette, clients: Clients, identities: dict[str, Identity], compute: ComputeWorld
) -> None:
    world, bob = await hosts_up(app, compute), identities["bob"]
    await deploy(clients.bob, world, name="busy")
    answer = await clients.admin.ok("deleteAccount", id=bob.account_id)
    # Checked and disabled in the request: nothing new can be created meanwhile.
    listed = await clients.admin.ok("listAccounts", id=bob.account_id)
    assert [a["state"] for a in listed.get("account", [])] in ([], ["disabled"])
    await clients.bob.fails("deployVirtualMachine", 401, zoneid=world.zone_id)
    job = await wait_job(clients.admin, answer["jobid"])
    assert job["jobstatus"] == JobStatus.SUCCEEDED
    assert await _left_over(app, bob.account_id) == {}


async def test_delete_domain_cleanup_removes_accounts_with_their_vms(
    app: Starlette, clients: Clients, identities: dict[str, Identity], compute: ComputeWorld
) -> None:
    world, alice, carol = await hosts_up(app, compute), identities["alice"], identities["carol"]
    await _populate(clients.alice, clients.admin, world, alice)
    await deploy(clients.carol, world, name="south1")
    await clients.admin.ok("updateResourceLimit", domainid=carol.domain_id, resourcetype=0, max=10)
    d1 = alice.domain_id
    text = await clients.admin.fails("deleteDomain", 536, id=d1)
    assert "Delete failed on domain ROOT/d1" in text
    assert "1 child domain(s) and 3 account(s)" in text

    assert await job_result(clients.admin, "deleteDomain", id=d1, cleanup=True) == {
        "success": "true"
    }
    for gone in (alice, carol, identities["d1admin"]):
        assert await _left_over(app, gone.account_id) == {}
    domains = await names(clients.admin, "listDomains", "domain", listall=True)
    assert domains == ["ROOT", "d2"]
    async with app.state.runtime.db.transaction(write=False) as session:
        assert (
            await session.scalar(select(func.count()).where(ResourceLimit.domain_id.is_not(None)))
            == 0
        )
