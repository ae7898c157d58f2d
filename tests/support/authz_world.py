"""The objects the authorisation matrix points its calls at: one of each kind per side.

A *side* is whose objects they are: ``bob`` (a user in d2: the others' objects),
``alice`` (a user in d1) and ``d1admin`` (d1's domain admin). Each side's objects are
made through the API by that side, as a user would (the identity objects by the root
admin in the side's domain). A command that uses its object up (``delete…``,
``destroy…``) gets a spare of its own for its "own" cell, so no cell depends on another.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from altostratus.runtime import Runtime
from altostratus.services.usage.types import UsageType
from tests.api.compute.test_keypairs import ed25519_public_key
from tests.api.compute.vm_support import deploy
from tests.api.storage.test_snapshots import snapshot
from tests.api.storage.test_volumes import create_volume
from tests.api.usage.day import at
from tests.api.usage.records import owner_of, record, write_records
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld, insert_vm
from tests.support.jobs import run_job
from tests.support.world import PASSWORD, Identity

__all__ = [
    "PAYLOAD_URL",
    "USAGE_DAY",
    "Side",
    "World",
    "build_world",
    "key_pair_name",
    "public_key",
    "unique_name",
]

_names = (f"authz{n}" for n in itertools.count())


def unique_name() -> str:
    return next(_names)


@dataclass
class Side:
    """One side's client and its objects, by kind (``virtualmachine`` → uuid)."""

    name: str
    client: ApiClient
    #: The name of its ``account`` object and its domain, as ``account``/``domainid``
    #: name them.
    account: str
    domain_id: str
    objects: dict[str, str] = field(default_factory=dict)
    #: Spare objects for the cells of commands that use theirs up, by (cell, kind).
    spares: dict[tuple[str, str], str] = field(default_factory=dict)


@dataclass
class World:
    runtime: Runtime
    compute: ComputeWorld
    admin: ApiClient
    sides: dict[str, Side]
    #: Valid values of the shared kinds (``zone`` → uuid), for required parameters.
    shared: dict[str, str]
    #: The names of the accounts made, by uuid (spares are named by ``account``).
    account_names: dict[str, str] = field(default_factory=dict)


Maker = Callable[[World, Side], Awaitable[str]]


async def _vm(world: World, side: Side) -> str:
    vm = await deploy(side.client, world.compute, name=unique_name())
    return str(vm["id"])


async def _inserted_vm(world: World, side: Side) -> str:
    """A Stopped VM written to the database (no deploy job): for the commands on Stopped
    VMs, and a spare to destroy."""
    return (await insert_vm(world.runtime, world.compute, side.name, unique_name())).uuid


async def _volume(world: World, side: Side) -> str:
    return str((await create_volume(side.client, world.compute, unique_name()))["id"])


async def _snapshot(world: World, side: Side) -> str:
    return str((await snapshot(side.client, side.objects["volume"]))["id"])


async def _snapshot_policy(world: World, side: Side) -> str:
    """A policy of a Ready disk of its own (restored from the side's snapshot): one per
    volume and interval, so every policy made needs its own disk."""
    restored = await run_job(
        side.client, "createVolume", name=unique_name(), snapshotid=side.objects["snapshot"]
    )
    answer = await side.client.ok(
        "createSnapshotPolicy",
        volumeid=restored["volume"]["id"],
        intervaltype="DAILY",
        schedule="00:01",
        timezone="UTC",
        maxsnaps=1,
    )
    return str(answer["snapshotpolicy"]["id"])


async def _vm_snapshot(world: World, side: Side) -> str:
    result = await run_job(
        side.client, "createVMSnapshot", virtualmachineid=side.objects["virtualmachine"]
    )
    return str(result["vmsnapshot"]["id"])


async def _template(world: World, side: Side) -> str:
    name = unique_name()
    answer = await side.client.ok(
        "registerTemplate",
        name=name,
        displaytext=name,
        url=f"file:///var/lib/images/{name}.qcow2",
        format="QCOW2",
        hypervisor="Simulator",
        ostypeid=world.compute.os_type_id,
        zoneid=world.compute.zone_id,
    )
    return str(answer["template"][0]["id"])


async def _iso(world: World, side: Side) -> str:
    name = unique_name()
    answer = await side.client.ok(
        "registerIso",
        name=name,
        url=f"file:///var/lib/images/{name}.iso",
        ostypeid=world.compute.os_type_id,
        zoneid=world.compute.zone_id,
    )
    return str(answer["iso"][0]["id"])


async def _security_group(world: World, side: Side) -> str:
    answer = await side.client.ok("createSecurityGroup", name=unique_name())
    return str(answer["securitygroup"]["id"])


def _rule(direction: str) -> Maker:
    async def make(world: World, side: Side) -> str:
        result = await run_job(
            side.client,
            f"authorizeSecurityGroup{direction.title()}",
            securitygroupid=side.objects["securitygroup"],
            protocol="tcp",
            startport=next(_ports),
            endport=8000,
            cidrlist="10.0.0.0/8",
        )
        return str(result["securitygroup"][f"{direction}rule"][-1]["ruleid"])

    return make


_ports = itertools.count(1000)


async def _affinity_group(world: World, side: Side) -> str:
    result = await run_job(
        side.client, "createAffinityGroup", name=unique_name(), type="host anti-affinity"
    )
    return str(result["affinitygroup"]["id"])


async def _instance_group(world: World, side: Side) -> str:
    answer = await side.client.ok("createInstanceGroup", name=unique_name())
    return str(answer["instancegroup"]["id"])


async def _address(world: World, side: Side) -> str:
    result = await run_job(side.client, "associateIpAddress", zoneid=world.compute.zone_id)
    return str(result["ipaddress"]["id"])


async def _project(world: World, side: Side) -> str:
    name = unique_name()
    result = await run_job(side.client, "createProject", name=name, displaytext=name)
    return str(result["project"]["id"])


async def _job(world: World, side: Side) -> str:
    answer = await side.client.ok(
        "createAffinityGroup", name=unique_name(), type="host anti-affinity"
    )
    return str(answer["jobid"])


async def _event(world: World, side: Side) -> str:
    answer = await side.client.ok("listEvents")
    return str(answer["event"][0]["id"])


async def _nic(world: World, side: Side) -> str:
    answer = await side.client.ok("listNics", virtualmachineid=side.objects["virtualmachine"])
    return str(answer["nic"][0]["id"])


def key_pair_name(side: Side) -> str:
    """The side's key pair, by the name commands such as ``resetSSHKeyForVirtualMachine``
    take."""
    return f"key-{side.name}"


async def _key_pair(world: World, side: Side) -> str:
    answer = await side.client.ok("createSSHKeyPair", name=key_pair_name(side))
    return str(answer["keypair"]["id"])


async def _new_account(world: World, side: Side) -> dict[str, Any]:
    """An account of the side's domain, made by the root admin."""
    name = unique_name()
    answer = await world.admin.ok(
        "createAccount",
        username=name,
        password=PASSWORD,
        email=f"{name}@example.org",
        firstname=name,
        lastname="Spare",
        accounttype=0,
        domainid=side.domain_id,
    )
    account: dict[str, Any] = answer["account"]
    world.account_names[account["id"]] = name
    return account


async def _user(world: World, side: Side) -> str:
    return str((await _new_account(world, side))["user"][0]["id"])


async def _account(world: World, side: Side) -> str:
    return str((await _new_account(world, side))["id"])


async def _domain(world: World, side: Side) -> str:
    answer = await world.admin.ok("createDomain", name=unique_name(), parentdomainid=side.domain_id)
    return str(answer["domain"]["id"])


#: Where the webhooks point: nothing is sent (the world and the matrix run no webhook
#: worker), and it is loopback should one ever be.
PAYLOAD_URL = "http://127.0.0.1:9/authz"


async def _webhook(world: World, side: Side) -> str:
    answer = await side.client.ok("createWebhook", name=unique_name(), payloadurl=PAYLOAD_URL)
    return str(answer["webhook"]["id"])


async def _webhook_delivery(world: World, side: Side) -> str:
    """A test delivery of the side's webhook: recorded Pending, never sent."""
    answer = await side.client.ok("executeWebhookDelivery", webhookid=side.objects["webhook"])
    return str(answer["webhookdelivery"]["id"])


#: How each tenant kind's object is made, in an order that has what each needs first.
MAKERS: dict[str, Maker] = {
    "virtualmachine": _vm,
    "stoppedvirtualmachine": _inserted_vm,
    "volume": _volume,
    "snapshot": _snapshot,
    "snapshotpolicy": _snapshot_policy,
    "vmsnapshot": _vm_snapshot,
    "template": _template,
    "iso": _iso,
    "securitygroup": _security_group,
    "ingressrule": _rule("ingress"),
    "egressrule": _rule("egress"),
    "affinitygroup": _affinity_group,
    "instancegroup": _instance_group,
    "ipaddress": _address,
    "project": _project,
    "asyncjob": _job,
    "event": _event,
    "nic": _nic,
    "sshkeypair": _key_pair,
    "user": _user,
    "account": _account,
    "domain": _domain,
    "webhook": _webhook,
    "webhookdelivery": _webhook_delivery,
}


#: How a spare is made where it differs from the side's object of its kind.
SPARE_MAKERS: dict[str, Maker] = {**MAKERS, "virtualmachine": _inserted_vm}


def _identity_objects(side: Side, who: Identity) -> None:
    side.objects.update(user=who.user_id, account=who.account_id, domain=who.domain_id)


async def build_world(
    runtime: Runtime,
    compute: ComputeWorld,
    clients: dict[str, ApiClient],
    identities: dict[str, Identity],
    spares: list[tuple[str, str, str]],
) -> World:
    """Every side's objects, and the spares ``(side, cell, kind)`` the cells need.

    The users' identity objects are their own (``alice`` is her own user); the domain
    admin's are an account of its domain and its subdomain, so no cell disables the
    admin making the calls.
    """
    sides = {
        name: Side(name, clients[name], identities[name].account, identities[name].domain_id)
        for name in ("bob", "alice", "d1admin")
    }
    world = World(
        runtime,
        compute,
        clients["admin"],
        sides,
        shared={
            "zone": compute.zone_id,
            "serviceoffering": compute.small_offering_id,
            "diskoffering": compute.disk_offering_id,
            "network": compute.network_id,
            "ostype": compute.os_type_id,
            "template": compute.template_id,
        },
    )
    _identity_objects(sides["bob"], identities["bob"])
    _identity_objects(sides["alice"], identities["alice"])
    d1admin = sides["d1admin"]
    account = await _new_account(world, d1admin)
    d1admin.objects.update(
        user=account["user"][0]["id"],
        account=account["id"],
        domain=identities["carol"].domain_id,
    )
    d1admin.account = world.account_names[account["id"]]
    # The sides in parallel (deploys and snapshots mostly wait for the executor), each
    # side's objects in order, then its spares.
    await asyncio.gather(*(_make(world, side, spares) for side in sides.values()))
    await _meter_vms(world, identities)
    return world


#: The day the world's usage records are of (``listUsageRecords``' dates in the matrix).
USAGE_DAY = at(8)


async def _meter_vms(world: World, identities: dict[str, Identity]) -> None:
    """An hour of each side's VM running, as the meter would record it (the sides' own
    accounts deployed them), so a listing of another's usage has something to leak."""
    await write_records(
        world.runtime.db,
        (
            record(
                owner_of(identities[name]),
                UsageType.RUNNING_VM,
                side.objects["virtualmachine"],
                USAGE_DAY,
                1.0,
            )
            for name, side in world.sides.items()
        ),
    )


async def _make(world: World, side: Side, spares: list[tuple[str, str, str]]) -> None:
    for kind, make in MAKERS.items():
        if kind not in side.objects:
            side.objects[kind] = await make(world, side)
    for side_name, cell, kind in spares:
        if side_name == side.name:
            side.spares[(cell, kind)] = await SPARE_MAKERS[kind](world, side)


def public_key() -> str:
    return ed25519_public_key()
