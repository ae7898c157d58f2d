"""The compute flow through ``cs`` with ``fetch_result=True``, against simulated hosts.

``cs`` polls ``queryAsyncJobResult`` for every async command and returns the job's
result object, so these tests read exactly what a job leaves behind. A refused request
raises ``CloudStackApiException`` with the HTTP status equal to the error code; a job
that fails raises it with the job's ``errorcode``/``errortext`` as the error.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

import pytest
from cs import AIOCloudStack, CloudStack, CloudStackApiException

from tests.clients.conftest import (
    QUICKSTART_HOSTS,
    Quickstart,
    admin_client,
    create_account,
    create_database,
    quickstart_catalog,
    quickstart_server,
    ssh_public_key,
    unique,
    user_client,
    user_keys,
    wait_hosts_up,
)
from tests.support.postgres import TemporaryPostgres
from tests.support.server import LiveServer

pytestmark = pytest.mark.slow

GIB = 1024**3
GUEST_NETWORK = IPv4Network("10.1.0.0/16")


@pytest.fixture(scope="module")
def admin(cloud: LiveServer) -> CloudStack:
    return admin_client(cloud, fetch_result=True, job_timeout=60)


@pytest.fixture(scope="module")
def catalog(admin: CloudStack) -> Quickstart:
    return quickstart_catalog(admin)


@pytest.fixture
def user(cloud: LiveServer, admin: CloudStack) -> CloudStack:
    """A new tenant for each test, its async calls polled to their result."""
    return user_client(cloud, admin, fetch_result=True)


def error_of(call: Callable[[], object]) -> dict[str, Any]:
    """The error of a failing call, refused at once or failed in its job."""
    with pytest.raises(CloudStackApiException) as raised:
        call()
    error: dict[str, Any] = raised.value.error
    if raised.value.response.status_code != 200:
        assert raised.value.response.status_code == error["errorcode"]
    return error


def refused(call: Callable[[], object]) -> dict[str, Any]:
    """The error of a request refused before any job was created (HTTP status = code)."""
    with pytest.raises(CloudStackApiException) as raised:
        call()
    error: dict[str, Any] = raised.value.error
    assert raised.value.response.status_code == error["errorcode"], error
    return error


def deploy(cs: CloudStack, catalog: Quickstart, **params: Any) -> dict[str, Any]:
    """A Small Instance from the quick-start template; the job's virtual machine."""
    params.setdefault("serviceofferingid", catalog.small_offering_id)
    vm: dict[str, Any] = cs.deployVirtualMachine(
        zoneid=catalog.zone_id, templateid=catalog.template_id, name=unique("vm"), **params
    )["virtualmachine"]
    return vm


def state_of(cs: CloudStack, vm_id: str) -> str | None:
    """The VM's state as the caller lists it, None if the caller no longer sees it."""
    listed = cs.listVirtualMachines(id=vm_id, listall=True).get("virtualmachine", [])
    return str(listed[0]["state"]) if listed else None


def succeeded(answer: dict[str, Any]) -> bool:
    """``success`` is the string "true" in sync answers, a boolean in job results."""
    return str(answer["success"]).lower() == "true"


def vm_lifecycle(user: CloudStack, admin: CloudStack, catalog: Quickstart) -> None:
    """Deploy, stop, start, reboot, force-stop, destroy, recover and expunge one VM."""
    vm = deploy(user, catalog)
    assert vm["state"] == "Running"
    assert vm["displayname"] == vm["name"]
    assert (vm["zoneid"], vm["zonename"]) == (catalog.zone_id, "zone1")
    assert (vm["templateid"], vm["templatename"]) == (catalog.template_id, "Simulated Linux")
    assert (vm["serviceofferingid"], vm["serviceofferingname"]) == (
        catalog.small_offering_id,
        "Small Instance",
    )
    assert (vm["cpunumber"], vm["cpuspeed"], vm["memory"]) == (1, 500, 512)
    assert vm["hypervisor"] == "Simulator"
    assert vm["haenable"] is False
    assert vm["created"]
    [nic] = vm["nic"]
    assert IPv4Address(nic["ipaddress"]) in GUEST_NETWORK
    assert (nic["gateway"], nic["netmask"], nic["isdefault"]) == ("10.1.0.1", "255.255.0.0", True)
    assert nic["networkid"]
    assert nic["macaddress"]
    assert "hostid" not in vm, "users do not see hosts"
    host_ids = {host["id"] for host in admin.listHosts()["host"]}
    [seen_by_admin] = admin.listVirtualMachines(id=vm["id"], listall=True)["virtualmachine"]
    assert seen_by_admin["hostid"] in host_ids

    assert user.stopVirtualMachine(id=vm["id"])["virtualmachine"]["state"] == "Stopped"
    assert state_of(user, vm["id"]) == "Stopped"
    assert user.startVirtualMachine(id=vm["id"])["virtualmachine"]["state"] == "Running"
    assert user.rebootVirtualMachine(id=vm["id"])["virtualmachine"]["state"] == "Running"
    forced = user.stopVirtualMachine(id=vm["id"], forced=True)["virtualmachine"]
    assert forced["state"] == "Stopped"

    user.destroyVirtualMachine(id=vm["id"])
    assert state_of(admin, vm["id"]) == "Destroyed"
    assert admin.recoverVirtualMachine(id=vm["id"])["virtualmachine"]["state"] == "Stopped"
    # As in CloudStack (allow.user.expunge.recover.vm=false): only admins expunge.
    assert (
        refused(lambda: user.destroyVirtualMachine(id=vm["id"], expunge=True))["errorcode"] == 531
    )
    admin.destroyVirtualMachine(id=vm["id"], expunge=True)
    assert state_of(user, vm["id"]) is None
    assert state_of(admin, vm["id"]) is None


def test_vm_lifecycle(user: CloudStack, admin: CloudStack, catalog: Quickstart) -> None:
    vm_lifecycle(user, admin, catalog)


def test_vm_lifecycle_on_postgresql(postgres: TemporaryPostgres, tmp_path: Path) -> None:
    """The same lifecycle on a PostgreSQL-backed server (row locks, not SQLite's one writer)."""
    url = create_database(postgres, "compute")
    with quickstart_server(tmp_path / "data", database_url=url) as server:
        admin = admin_client(server, fetch_result=True, job_timeout=60)
        wait_hosts_up(admin, QUICKSTART_HOSTS)
        vm_lifecycle(
            user_client(server, admin, fetch_result=True), admin, quickstart_catalog(admin)
        )


def test_volumes_and_snapshots(user: CloudStack, catalog: Quickstart) -> None:
    vm = deploy(user, catalog)
    volume = user.createVolume(
        name=unique("data"), zoneid=catalog.zone_id, diskofferingid=catalog.small_disk_id
    )["volume"]
    assert (volume["state"], volume["type"], volume["size"]) == ("Allocated", "DATADISK", 5 * GIB)
    assert "virtualmachineid" not in volume

    attached = user.attachVolume(id=volume["id"], virtualmachineid=vm["id"])["volume"]
    assert attached["virtualmachineid"] == vm["id"]
    assert attached["deviceid"] >= 1
    listed = user.listVolumes(virtualmachineid=vm["id"])["volume"]
    assert sorted(item["type"] for item in listed) == ["DATADISK", "ROOT"]

    detached = user.detachVolume(id=volume["id"])["volume"]
    assert "virtualmachineid" not in detached
    assert succeeded(user.deleteVolume(id=volume["id"]))
    assert user.listVolumes(id=volume["id"]) == {}

    custom = user.createVolume(
        name=unique("custom"), zoneid=catalog.zone_id, diskofferingid=catalog.custom_disk_id, size=3
    )["volume"]
    assert custom["size"] == 3 * GIB
    assert user.resizeVolume(id=custom["id"], size=6)["volume"]["size"] == 6 * GIB
    no_size = refused(
        lambda: user.createVolume(
            name=unique("nosize"), zoneid=catalog.zone_id, diskofferingid=catalog.custom_disk_id
        )
    )
    assert no_size["errorcode"] == 431

    [root] = user.listVolumes(virtualmachineid=vm["id"], type="ROOT")["volume"]
    snapshot = user.createSnapshot(volumeid=root["id"])["snapshot"]
    assert (snapshot["volumeid"], snapshot["state"]) == (root["id"], "BackedUp")
    listed_snapshots = user.listSnapshots(volumeid=root["id"])["snapshot"]
    assert [item["id"] for item in listed_snapshots] == [snapshot["id"]]
    assert succeeded(user.deleteSnapshot(id=snapshot["id"]))
    assert user.listSnapshots(volumeid=root["id"]) == {}


def test_tags(user: CloudStack, catalog: Quickstart) -> None:
    vm = deploy(user, catalog)
    tags = [{"key": "env", "value": "test"}, {"key": "team", "value": "alto"}]
    assert succeeded(user.createTags(resourceids=vm["id"], resourcetype="UserVm", tags=tags))

    listed = user.listTags(resourceid=vm["id"])["tag"]
    assert sorted((tag["key"], tag["value"]) for tag in listed) == [
        ("env", "test"),
        ("team", "alto"),
    ]
    assert {(tag["resourcetype"], tag["resourceid"]) for tag in listed} == {("UserVm", vm["id"])}
    [with_tags] = user.listVirtualMachines(id=vm["id"])["virtualmachine"]
    assert sorted(tag["key"] for tag in with_tags["tags"]) == ["env", "team"]
    found = user.listVirtualMachines(tags=[{"key": "env", "value": "test"}])["virtualmachine"]
    assert [item["id"] for item in found] == [vm["id"]]

    deleted = user.deleteTags(resourceids=vm["id"], resourcetype="UserVm", tags=[{"key": "env"}])
    assert succeeded(deleted)
    assert [tag["key"] for tag in user.listTags(resourceid=vm["id"])["tag"]] == ["team"]


def test_key_pairs(user: CloudStack, catalog: Quickstart) -> None:
    made = user.createSSHKeyPair(name=unique("made"))["keypair"]
    assert made["privatekey"].startswith("-----BEGIN")
    public_key, fingerprint = ssh_public_key()
    name = unique("mine")
    registered = user.registerSSHKeyPair(name=name, publickey=public_key)["keypair"]
    assert (registered["name"], registered["fingerprint"]) == (name, fingerprint)
    assert user.listSSHKeyPairs(name=name)["sshkeypair"][0]["fingerprint"] == fingerprint
    duplicate = refused(lambda: user.createSSHKeyPair(name=name))
    assert duplicate["errorcode"] == 431

    vm = deploy(user, catalog, keypair=name)
    assert vm["keypair"] == name

    assert succeeded(user.deleteSSHKeyPair(name=made["name"]))
    assert user.listSSHKeyPairs(name=made["name"]) == {}
    assert refused(lambda: user.deleteSSHKeyPair(name=made["name"]))["errorcode"] == 431


def test_security_groups(user: CloudStack, admin: CloudStack, catalog: Quickstart) -> None:
    name = unique("web")
    group = user.createSecurityGroup(name=name, description="web servers")["securitygroup"]
    authorized = user.authorizeSecurityGroupIngress(
        securitygroupid=group["id"], protocol="tcp", startport=80, endport=80, cidrlist="0.0.0.0/0"
    )["securitygroup"]
    [rule] = authorized["ingressrule"]
    assert (rule["protocol"], rule["startport"], rule["endport"], rule["cidr"]) == (
        "tcp",
        80,
        80,
        "0.0.0.0/0",
    )

    vm = deploy(user, catalog, securitygroupids=group["id"])
    assert [item["name"] for item in vm["securitygroup"]] == [name]
    in_use = refused(lambda: user.deleteSecurityGroup(id=group["id"]))
    assert in_use["errorcode"] == 536

    assert succeeded(user.revokeSecurityGroupIngress(id=rule["ruleid"]))
    [listed] = user.listSecurityGroups(id=group["id"])["securitygroup"]
    assert listed.get("ingressrule", []) == []

    user.destroyVirtualMachine(id=vm["id"])
    admin.expungeVirtualMachine(id=vm["id"])
    assert succeeded(user.deleteSecurityGroup(id=group["id"]))
    assert user.listSecurityGroups(id=group["id"]) == {}


def test_bad_input_is_refused_with_431(
    cloud: LiveServer, admin: CloudStack, user: CloudStack, catalog: Quickstart
) -> None:
    before = user.listVirtualMachines().get("count", 0)

    malformed = refused(lambda: deploy(user, catalog, serviceofferingid="not-a-uuid"))
    assert malformed["errorcode"] == 431
    assert "serviceofferingid" in malformed["errortext"]
    unknown = refused(lambda: deploy(user, catalog, serviceofferingid=str(uuid.uuid4())))
    assert unknown["errorcode"] == 431
    missing = refused(
        lambda: user.deployVirtualMachine(
            serviceofferingid=catalog.small_offering_id, templateid=catalog.template_id
        )
    )
    assert missing["errorcode"] == 431
    assert "zoneid" in missing["errortext"]
    assert user.listVirtualMachines().get("count", 0) == before, "no VM for bad input"

    theirs = deploy(user_client(cloud, admin, fetch_result=True), catalog)
    hidden = refused(lambda: user.stopVirtualMachine(id=theirs["id"]))
    assert hidden["errorcode"] == 431
    assert "Unable to find" in hidden["errortext"]
    assert state_of(admin, theirs["id"]) == "Running"


def test_no_room_anywhere_is_533(user: CloudStack, admin: CloudStack, catalog: Quickstart) -> None:
    huge = admin.createServiceOffering(
        name=unique("huge"),
        displaytext="larger than any host",
        cpunumber=32,
        cpuspeed=2000,
        memory=131072,
    )["serviceoffering"]
    error = error_of(lambda: deploy(user, catalog, serviceofferingid=huge["id"]))
    assert error["errorcode"] == 533
    assert [vm["state"] for vm in user.listVirtualMachines().get("virtualmachine", [])] in (
        [],
        ["Error"],
    ), "a VM that was never placed does not run"


def add_host_for_medium(admin: CloudStack, slots: int) -> dict[str, Any]:
    """A simulated host with room for exactly ``slots`` Medium Instances (2 x 1000 MHz, 2 GB)."""
    zone = admin.listZones(name="zone1")["zone"][0]
    pod = admin.listPods(zoneid=zone["id"])["pod"][0]
    cluster = admin.listClusters(podid=pod["id"])["cluster"][0]
    [host] = admin.addHost(
        zoneid=zone["id"],
        podid=pod["id"],
        clusterid=cluster["id"],
        hypervisor="Simulator",
        url=f"sim://{unique('tiny')}",
        details=[{"cpunumber": str(2 * slots), "cpuspeed": "1000", "memory": str(2048 * slots)}],
    )["host"]
    [up] = wait_hosts_up(admin, 1, id=host["id"])
    return up


def test_full_host_is_533(admin: CloudStack, catalog: Quickstart) -> None:
    tiny_host = add_host_for_medium(admin, slots=1)
    first = deploy(
        admin, catalog, serviceofferingid=catalog.medium_offering_id, hostid=tiny_host["id"]
    )
    assert (first["state"], first["hostid"]) == ("Running", tiny_host["id"])
    error = error_of(
        lambda: deploy(
            admin, catalog, serviceofferingid=catalog.medium_offering_id, hostid=tiny_host["id"]
        )
    )
    assert error["errorcode"] == 533
    running = admin.listVirtualMachines(hostid=tiny_host["id"], state="Running", listall=True)
    assert [vm["id"] for vm in running["virtualmachine"]] == [first["id"]]


def test_instance_limit_is_532(cloud: LiveServer, admin: CloudStack, catalog: Quickstart) -> None:
    account = create_account(admin, unique("limited"))
    admin.updateResourceLimit(
        account=account["name"], domainid=account["domainid"], resourcetype=0, max=1
    )
    key, secret = user_keys(admin, account["user"][0]["id"])
    limited = CloudStack(
        endpoint=cloud.endpoint, key=key, secret=secret, fetch_result=True, poll_interval=0.1
    )
    deploy(limited, catalog)
    error = refused(lambda: deploy(limited, catalog))
    assert error["errorcode"] == 532
    assert limited.listVirtualMachines()["count"] == 1


async def test_concurrent_deploys_never_overcommit(
    cloud: LiveServer, admin: CloudStack, catalog: Quickstart
) -> None:
    """Six deploys at once into a host with room for two: two run, four fail with 533."""
    host = add_host_for_medium(admin, slots=2)
    keys = cloud.admin
    async with AIOCloudStack(
        endpoint=cloud.endpoint,
        key=keys["apikey"],
        secret=keys["secretkey"],
        fetch_result=True,
        poll_interval=0.1,
        job_timeout=60,
    ) as aio:
        outcomes = await asyncio.gather(
            *(
                aio.deployVirtualMachine(
                    zoneid=catalog.zone_id,
                    serviceofferingid=catalog.medium_offering_id,
                    templateid=catalog.template_id,
                    hostid=host["id"],
                    name=unique("race"),
                )
                for _ in range(6)
            ),
            return_exceptions=True,
        )
    running = [o["virtualmachine"]["id"] for o in outcomes if isinstance(o, dict)]
    codes = [o.error["errorcode"] for o in outcomes if isinstance(o, CloudStackApiException)]
    assert (len(running), codes) == (2, [533] * 4), outcomes
    on_host = admin.listVirtualMachines(hostid=host["id"], state="Running", listall=True)
    assert sorted(vm["id"] for vm in on_host["virtualmachine"]) == sorted(running)
    [after] = admin.listHosts(id=host["id"])["host"]
    assert after["cpuallocated"] in ("100%", "100.00%"), after["cpuallocated"]
