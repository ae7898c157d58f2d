"""A client generated from ``listApis`` alone, as SDK and test-suite generators build one.

The generator reads each API's parameters and response fields, and nothing else: calls
are checked against the parameters before they are sent, and answers are unwrapped into
classes made from the response fields (one attribute per field, nested lists and objects
as classes of their own). A field the server answers but does not describe, or answers
with another type than described, fails the unwrapping, so these tests hold the metadata
to the answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, make_dataclass
from typing import Any

import pytest
from starlette.applications import Starlette

from altostratus.jobs.status import JobStatus
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld, wait_hosts_up

_PASSWORD = "Generated-1"


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    assert value in ("true", "false"), value
    return bool(value == "true")


def _typed(kind: type | tuple[type, ...]) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        assert isinstance(value, kind), value
        assert not isinstance(value, bool), value
        return value

    return check


#: How a described CloudStack type is read; anything else the answer holds is an error.
_READ: dict[str, Callable[[Any], Any]] = {
    "string": _typed(str),
    "date": _typed(str),
    "integer": _typed(int),
    "long": _typed(int),
    "double": _typed((int, float)),
    "boolean": _boolean,
    "map": _typed(dict),
    "list": _typed(list),
    "object": _typed(dict),
}


@dataclass(frozen=True)
class Shape:
    """A class generated from a ``response`` field list, and how to fill it."""

    record: type
    types: dict[str, str]
    nested: dict[str, Shape]

    @classmethod
    def generate(cls, name: str, fields: list[dict[str, Any]]) -> Shape:
        record = make_dataclass(
            name, [(f["name"], Any, field(default=None)) for f in fields], frozen=True
        )
        nested = {
            f["name"]: cls.generate(f"{name}_{f['name']}", f["response"])
            for f in fields
            if "response" in f
        }
        return cls(record, {f["name"]: f["type"] for f in fields}, nested)

    def build(self, data: dict[str, Any]) -> Any:
        undescribed = set(data) - set(self.types)
        assert not undescribed, f"{self.record.__name__} answers undescribed {undescribed}"
        values = {}
        for name, value in data.items():
            value = _READ[self.types[name]](value)
            if name in self.nested:
                inner = self.nested[name]
                value = [inner.build(v) for v in value] if isinstance(value, list) else value
                value = inner.build(value) if isinstance(value, dict) else value
            values[name] = value
        return self.record(**values)

    def unwrap(self, body: dict[str, Any]) -> Any:
        """An object, or a list of objects, from the body under ``<command>response``."""
        rest = {key: value for key, value in body.items() if key != "count"}
        if not rest:
            return []
        if len(rest) == 1:
            ((key, value),) = rest.items()
            if key not in self.types and isinstance(value, list):
                return [self.build(item) for item in value]
            if key not in self.types and isinstance(value, dict):
                return self.build(value)
        return self.build(body)  # a flat answer (login, success, queryAsyncJobResult)


@dataclass(frozen=True)
class GeneratedApi:
    name: str
    isasync: bool
    #: Each parameter's type and whether it is required.
    params: dict[str, tuple[str, bool]]
    answer: Shape

    def query(self, params: dict[str, Any]) -> dict[str, Any]:
        """The wire parameters: checked against the description, maps as ``name[i].key``."""
        unknown = set(params) - set(self.params)
        missing = {name for name, (_, required) in self.params.items() if required} - set(params)
        if unknown or missing:
            raise TypeError(f"{self.name}: unknown {sorted(unknown)}, missing {sorted(missing)}")
        query = {}
        for name, value in params.items():
            if self.params[name][0] == "map":
                for index, (key, item) in enumerate(dict(value).items()):
                    query[f"{name}[{index}].key"] = key
                    query[f"{name}[{index}].value"] = item
            else:
                query[name] = value
        return query


class GeneratedClient:
    """``await client.createZone(name=…)`` for every API the caller's ``listApis`` lists."""

    def __init__(self, transport: ApiClient, apis: dict[str, GeneratedApi]) -> None:
        self._transport = transport
        self.apis = apis

    @classmethod
    async def generate(cls, transport: ApiClient) -> GeneratedClient:
        answer = await transport.ok("listApis")
        apis = {
            api["name"]: GeneratedApi(
                name=api["name"],
                isasync=api["isasync"],
                params={p["name"]: (p["type"], p["required"]) for p in api["params"]},
                answer=Shape.generate(api["name"], api["response"]),
            )
            for api in answer["api"]
        }
        return cls(transport, apis)

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        api = self.apis[name]

        async def call(**params: Any) -> Any:
            answer = await self._transport.call(name, **api.query(params))
            if answer.status != 200:
                raise RuntimeError(f"{name} answered {answer.status}: {answer.error_text}")
            if not api.isasync:
                return api.answer.unwrap(answer.body)
            while True:
                job = await self.queryAsyncJobResult(jobid=answer.body["jobid"])
                if job.jobstatus != JobStatus.PENDING:
                    break
                await asyncio.sleep(0.05)
            assert job.jobstatus == JobStatus.SUCCEEDED, job.jobresult
            return api.answer.unwrap(job.jobresult)

        return call


async def test_a_generated_client_creates_and_reads_back_identity(clients: Clients) -> None:
    admin = await GeneratedClient.generate(clients.admin)
    domain = await admin.createDomain(name="generated")
    assert (domain.name, domain.path) == ("generated", "ROOT/generated")
    account = await admin.createAccount(
        accounttype=0,
        username="gen",
        password=_PASSWORD,
        email="gen@example.org",
        firstname="Gen",
        lastname="Erated",
        domainid=domain.id,
    )
    assert (account.name, account.domainid) == ("gen", domain.id)
    (first_user,) = account.user
    assert (first_user.username, first_user.accountid) == ("gen", account.id)
    user = await admin.createUser(
        account=account.name,
        domainid=domain.id,
        username="gen2",
        password=_PASSWORD,
        email="gen2@example.org",
        firstname="Gen",
        lastname="Two",
    )
    listed = await admin.listUsers(domainid=domain.id, listall=True)
    assert {u.id for u in listed} == {first_user.id, user.id}
    assert [a.id for a in await admin.listAccounts(id=account.id, listall=True)] == [account.id]
    assert [d.name for d in await admin.listDomains(id=domain.id)] == ["generated"]
    keys = await admin.registerUserKeys(id=user.id)
    assert keys.apikey
    assert keys.secretkey
    # An asynchronous command: the client polls its job and unwraps the job's result.
    disabled = await admin.disableUser(id=user.id)
    assert (disabled.id, disabled.state) == (user.id, "disabled")
    deleted = await admin.deleteUser(id=user.id)
    assert deleted.success is True


async def test_a_generated_client_creates_and_reads_back_infrastructure(api: ApiClient) -> None:
    admin = await GeneratedClient.generate(api)
    zone = await admin.createZone(
        name="generated", dns1="8.8.8.8", internaldns1="10.0.0.2", networktype="Advanced"
    )
    assert (zone.name, zone.networktype, zone.securitygroupsenabled) == (
        "generated",
        "Advanced",
        False,
    )
    assert [z.id for z in await admin.listZones(id=zone.id)] == [zone.id]
    assert await admin.listZones(name="no such zone") == []
    pod = await admin.createPod(
        zoneid=zone.id, name="generated", gateway="10.9.0.1", netmask="255.255.255.0"
    )
    assert (pod.name, pod.zoneid) == ("generated", zone.id)
    assert [p.id for p in await admin.listPods(zoneid=zone.id)] == [pod.id]
    assert (await admin.deletePod(id=pod.id)).success is True
    offering = await admin.createServiceOffering(
        name="generated", displaytext="Generated", cpunumber=2, cpuspeed=1000, memory=512
    )
    assert (offering.name, offering.cpunumber, offering.memory) == ("generated", 2, 512)
    disk = await admin.createDiskOffering(name="generated", displaytext="Generated", disksize=5)
    (listed_disk,) = await admin.listDiskOfferings(id=disk.id)
    assert (listed_disk.name, listed_disk.disksize) == ("generated", 5)
    assert (await admin.deleteZone(id=zone.id)).success is True
    with pytest.raises(TypeError, match="missing"):
        await admin.createZone(name="incomplete")
    with pytest.raises(TypeError, match="unknown"):
        await admin.listZones(colour="blue")


async def test_a_generated_client_deploys_a_vm(
    app: Starlette, clients: Clients, compute: ComputeWorld
) -> None:
    await wait_hosts_up(app.state.runtime, compute.host_ids)
    alice = await GeneratedClient.generate(clients.alice)
    assert "createZone" not in alice.apis
    keypair = await alice.createSSHKeyPair(name="generated")
    assert keypair.privatekey
    assert keypair.name == "generated"
    vm = await alice.deployVirtualMachine(
        zoneid=compute.zone_id,
        serviceofferingid=compute.small_offering_id,
        templateid=compute.template_id,
        name="generated",
        keypair=keypair.name,
    )
    assert (vm.name, vm.state, vm.keypair) == ("generated", "Running", "generated")
    (nic,) = vm.nic
    assert (nic.networkid, nic.isdefault) == (compute.network_id, True)
    (listed,) = await alice.listVirtualMachines(id=vm.id)
    assert (listed.id, listed.nic[0].ipaddress) == (vm.id, nic.ipaddress)
    stopped = await alice.stopVirtualMachine(id=vm.id)
    assert (stopped.id, stopped.state) == (vm.id, "Stopped")
    (root,) = await alice.listVolumes(virtualmachineid=vm.id)
    assert (root.virtualmachineid, root.type) == (vm.id, "ROOT")


async def test_a_generated_client_creates_storage_network_and_tags(
    clients: Clients, compute: ComputeWorld
) -> None:
    alice = await GeneratedClient.generate(clients.alice)
    volume = await alice.createVolume(
        name="generated", zoneid=compute.zone_id, diskofferingid=compute.disk_offering_id
    )
    assert (volume.name, volume.type, volume.zoneid) == ("generated", "DATADISK", compute.zone_id)
    tagged = await alice.createTags(
        resourceids=volume.id, resourcetype="Volume", tags={"tier": "gold"}
    )
    assert tagged.success is True
    ((listed,),) = [v.tags for v in await alice.listVolumes(id=volume.id)]
    assert (listed.key, listed.value, listed.resourceid) == ("tier", "gold", volume.id)
    group = await alice.createSecurityGroup(name="generated")
    assert [g.id for g in await alice.listSecurityGroups(securitygroupname="generated")] == [
        group.id
    ]
    types = [t.type for t in await alice.listAffinityGroupTypes()]
    affinity = await alice.createAffinityGroup(name="generated", type=types[-1])
    assert (affinity.name, affinity.type) == ("generated", types[-1])
    (network,) = await alice.listNetworks(id=compute.network_id)
    assert network.id == compute.network_id
