"""Hosts through the API: addHost, listHosts, updateHost, maintenance, deleteHost, reconnect."""

from __future__ import annotations

import ipaddress
from typing import Any

from starlette.applications import Starlette

from altostratus.jobs.status import JobStatus
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld, wait_hosts_up
from tests.support.jobs import run_job, wait_job


async def _add_sim(api: ApiClient, world: ComputeWorld, name: str, **extra: Any) -> dict[str, Any]:
    body = await api.ok(
        "addHost",
        zoneid=world.zone_id,
        podid=world.pod_id,
        clusterid=world.cluster_id,
        url=f"sim://{name}",
        hypervisor="Simulator",
        **extra,
    )
    assert body["count"] == 1
    host: dict[str, Any] = body["host"][0]
    return host


async def _host(api: ApiClient, host_id: str) -> dict[str, Any]:
    body = await api.ok("listHosts", id=host_id)
    host: dict[str, Any] = body["host"][0]
    return host


async def test_simulator_brings_seeded_hosts_up(
    app: Starlette, api: ApiClient, compute: ComputeWorld
) -> None:
    await wait_hosts_up(app.state.runtime, compute.host_ids)
    body = await api.ok("listHosts", zoneid=compute.zone_id)
    assert body["count"] == 2
    host = body["host"][0]
    assert host["state"] == "Up"
    assert host["resourcestate"] == "Enabled"
    assert host["type"] == "Routing"
    assert host["hypervisor"] == "Simulator"
    assert host["cpunumber"] == 4
    assert host["cpuspeed"] == 2000
    assert host["memorytotal"] == 8192 * 1024 * 1024
    assert host["cpuallocated"] == "0.00%"
    assert host["clusterid"] == compute.cluster_id
    assert host["podid"] == compute.pod_id
    assert "lastpinged" in host
    assert "created" in host


async def test_add_simulated_host_with_details(
    app: Starlette, api: ApiClient, compute: ComputeWorld
) -> None:
    host = await _add_sim(
        api,
        compute,
        "big1",
        hosttags="SSD,gpu",
        **{
            "details[0].cpunumber": 16,
            "details[0].cpuspeed": 3000,
            "details[0].memory": 65536,
            "details[0].latency": 20,
        },
    )
    assert host["name"] == "big1"
    assert host["state"] == "Connecting"
    assert host["hosttags"] == "gpu,ssd"
    await wait_hosts_up(app.state.runtime, [host["id"]])
    listed = await _host(api, host["id"])
    assert listed["state"] == "Up"
    assert (listed["cpunumber"], listed["cpuspeed"]) == (16, 3000)
    assert listed["memorytotal"] == 65536 * 1024 * 1024
    events = await api.ok("listEvents", type="HOST.CREATE")
    assert any(host["id"] in event["description"] for event in events["event"])


async def test_add_host_rejects_bad_input(api: ApiClient, compute: ComputeWorld) -> None:
    base = {
        "zoneid": compute.zone_id,
        "podid": compute.pod_id,
        "clusterid": compute.cluster_id,
        "hypervisor": "Simulator",
    }
    text = await api.fails("addHost", 431, **{**base, "url": "http://10.0.0.9"})
    assert "sim://NAME" in text
    text = await api.fails("addHost", 431, **{**base, "url": "sim://x", "hypervisor": "KVM"})
    assert "Simulator cluster" in text
    text = await api.fails("addHost", 431, **{**base, "url": "sim://host1"})
    assert "already exists" in text
    text = await api.fails(
        "addHost", 431, **{**base, "url": "sim://y", "details[0].memory": "lots"}
    )
    assert "details[0].memory" in text
    text = await api.fails("addHost", 431, **{**base, "url": "sim://z", "podid": compute.zone_id})
    assert "podid" in text
    await api.fails(
        "addHost", 431, **{k: v for k, v in base.items() if k != "zoneid"}, url="sim://w"
    )


async def test_hosts_are_for_root_admins_only(clients: Clients, compute: ComputeWorld) -> None:
    await clients.alice.fails("listHosts", 531)
    await clients.d1admin.fails("listHosts", 531)
    await clients.d1admin.fails(
        "addHost",
        531,
        zoneid=compute.zone_id,
        podid=compute.pod_id,
        clusterid=compute.cluster_id,
        url="sim://nope",
        hypervisor="Simulator",
    )


async def test_update_host(api: ApiClient, compute: ComputeWorld) -> None:
    host_id = compute.host_ids[0]
    body = await api.ok("updateHost", id=host_id, allocationstate="Disable", hosttags="ssd")
    assert body["host"]["resourcestate"] == "Disabled"
    assert body["host"]["hosttags"] == "ssd"
    listed = await api.ok("listHosts", resourcestate="Disabled")
    assert [h["id"] for h in listed["host"]] == [host_id]
    body = await api.ok("updateHost", id=host_id, allocationstate="enable", name="renamed")
    assert body["host"]["resourcestate"] == "Enabled"
    assert body["host"]["name"] == "renamed"
    await api.fails("updateHost", 431, id=host_id, allocationstate="Sideways")
    text = await api.fails("updateHost", 431, id=compute.zone_id)
    assert "Unable to find host" in text
    await api.fails("updateHost", 431, id=host_id, name="host2")


async def test_list_hosts_filters_and_pages(
    app: Starlette, api: ApiClient, compute: ComputeWorld
) -> None:
    await wait_hosts_up(app.state.runtime, compute.host_ids)
    assert (await api.ok("listHosts", name="host2"))["host"][0]["id"] == compute.host_ids[1]
    assert (await api.ok("listHosts", keyword="ST1"))["count"] == 1
    assert (await api.ok("listHosts", state="Up", clusterid=compute.cluster_id))["count"] == 2
    assert await api.ok("listHosts", state="Down") == {}
    assert await api.ok("listHosts", type="SecondaryStorageVM") == {}
    page = await api.ok("listHosts", page=2, pagesize=1)
    assert page["count"] == 2
    assert page["host"][0]["id"] == compute.host_ids[1]
    assert await api.ok("listHosts", state="Sleepy") == {}
    await api.fails("listHosts", 431, podid=compute.zone_id)


async def test_maintenance_of_an_empty_host(
    app: Starlette, api: ApiClient, compute: ComputeWorld
) -> None:
    host_id = compute.host_ids[0]
    await wait_hosts_up(app.state.runtime, compute.host_ids)
    result = await run_job(api, "prepareHostForMaintenance", id=host_id)
    assert result["host"]["resourcestate"] == "Maintenance"
    text = await api.fails("prepareHostForMaintenance", 431, id=host_id)
    assert "already in Maintenance" in text
    await api.fails("updateHost", 431, id=host_id, allocationstate="Enable")
    result = await run_job(api, "cancelHostMaintenance", id=host_id)
    assert result["host"]["resourcestate"] == "Enabled"
    text = await api.fails("cancelHostMaintenance", 431, id=host_id)
    assert "not in maintenance" in text
    events = await api.ok("listEvents", keyword=host_id)
    types = {event["type"] for event in events["event"]}
    assert {"MAINT.PREPARE", "MAINT.DONE", "MAINT.CANCEL"} <= types


async def _deploy(api: ApiClient, world: ComputeWorld, host_id: str) -> str:
    result = await run_job(
        api,
        "deployVirtualMachine",
        zoneid=world.zone_id,
        serviceofferingid=world.small_offering_id,
        templateid=world.template_id,
        hostid=host_id,
    )
    vm_id: str = result["virtualmachine"]["id"]
    assert result["virtualmachine"]["state"] == "Running"
    return vm_id


async def test_maintenance_stops_the_running_vms(
    app: Starlette, api: ApiClient, compute: ComputeWorld
) -> None:
    host_id = compute.host_ids[0]
    await wait_hosts_up(app.state.runtime, compute.host_ids)
    vm_id = await _deploy(api, compute, host_id)
    result = await run_job(api, "prepareHostForMaintenance", id=host_id)
    assert result["host"]["resourcestate"] == "Maintenance"
    vm = (await api.ok("listVirtualMachines", id=vm_id))["virtualmachine"][0]
    assert vm["state"] == "Stopped"
    assert (await _host(api, host_id))["cpuallocated"] == "0.00%"


async def test_delete_host(app: Starlette, api: ApiClient, compute: ComputeWorld) -> None:
    host_id = compute.host_ids[0]
    await wait_hosts_up(app.state.runtime, compute.host_ids)
    vm_id = await _deploy(api, compute, host_id)
    text = await api.fails("deleteHost", 536, id=host_id)
    assert "holds 1 VM" in text
    assert (await api.ok("deleteHost", id=host_id, forced=True))["success"] == "true"
    assert await api.ok("listHosts", id=host_id) == {}
    vm = (await api.ok("listVirtualMachines", id=vm_id))["virtualmachine"][0]
    assert vm["state"] == "Stopped"
    await api.fails("deleteHost", 431, id=host_id)
    # The name is free again.
    await _add_sim(api, compute, "host1")
    assert (await api.ok("deleteHost", id=compute.host_ids[1]))["success"] == "true"


async def test_a_cluster_goes_once_its_hosts_are_deleted(
    app: Starlette, api: ApiClient, compute: ComputeWorld
) -> None:
    """Removed hosts no longer hold their cluster (nor its pod) in place, and the VM that
    last ran on one of them stays, with no host."""
    await wait_hosts_up(app.state.runtime, compute.host_ids)
    vm_id = await _deploy(api, compute, compute.host_ids[0])
    for host_id in compute.host_ids:
        await api.ok("deleteHost", id=host_id, forced=True)
    assert (await api.ok("deleteCluster", id=compute.cluster_id))["success"] == "true"
    assert await api.ok("listClusters", id=compute.cluster_id) == {}
    vm = (await api.ok("listVirtualMachines", id=vm_id))["virtualmachine"][0]
    assert vm["state"] == "Stopped"
    assert "hostid" not in vm


async def test_reconnect_host(app: Starlette, api: ApiClient, compute: ComputeWorld) -> None:
    host_id = compute.host_ids[0]
    await wait_hosts_up(app.state.runtime, compute.host_ids)
    answer = await api.ok("reconnectHost", id=host_id)
    body = await wait_job(api, answer["jobid"])
    assert body["jobstatus"] != JobStatus.FAILED, body
    assert body["jobresult"]["host"]["state"] == "Up"
    events = await api.ok("listEvents", type="HOST.RECONNECT")
    assert events["count"] == 1
    await api.fails("reconnectHost", 431, id=compute.zone_id)


async def test_every_host_answers_an_ipaddress(
    app: Starlette, api: ApiClient, compute: ComputeWorld
) -> None:
    """``cs_host`` (Ansible) reads ``ipaddress`` of every host: simulated hosts have a
    stable synthetic one in 198.18.0.0/15 (never contacted), distinct per host."""
    added = await _add_sim(api, compute, "sim9")
    await wait_hosts_up(app.state.runtime, [*compute.host_ids, added["id"]])
    listed = (await api.ok("listHosts"))["host"]
    addresses = {host["id"]: host["ipaddress"] for host in listed}
    assert set(addresses) == {*compute.host_ids, added["id"]}
    assert len(set(addresses.values())) == 3, "one address per host"
    for address in addresses.values():
        assert ipaddress.ip_address(address) in ipaddress.ip_network("198.18.0.0/15")
    assert added["ipaddress"] == addresses[added["id"]], "the same from addHost as listed"
    # Stable: a rename, a maintenance round trip or a reconnect does not change it.
    host_id = compute.host_ids[0]
    await api.ok("updateHost", id=host_id, name="renamed")
    await run_job(api, "reconnectHost", id=host_id)
    assert (await _host(api, host_id))["ipaddress"] == addresses[host_id]


async def test_a_host_added_by_url_answers_the_url_s_address(
    api: ApiClient, compute: ComputeWorld
) -> None:
    """A KVM host whose agent has not registered yet: the IP its URL names, else its name."""
    cluster = await api.ok(
        "addCluster",
        zoneid=compute.zone_id,
        podid=compute.pod_id,
        clustername="kvm-1",
        clustertype="CloudManaged",
        hypervisor="KVM",
    )
    base = {
        "zoneid": compute.zone_id,
        "podid": compute.pod_id,
        "clusterid": cluster["cluster"][0]["id"],
        "hypervisor": "KVM",
    }
    by_ip = (await api.ok("addHost", **base, url="http://10.20.0.7"))["host"][0]
    assert (by_ip["name"], by_ip["ipaddress"]) == ("10.20.0.7", "10.20.0.7")
    bare = (await api.ok("addHost", **base, url="10.20.0.8"))["host"][0]
    assert bare["ipaddress"] == "10.20.0.8"
    by_name = (await api.ok("addHost", **base, url="http://kvm-a.example.org"))["host"][0]
    assert by_name["ipaddress"] == "kvm-a.example.org"
    assert (await _host(api, by_ip["id"]))["ipaddress"] == "10.20.0.7"
    text = await api.fails("addHost", 431, **base, url="http://")
    assert "url" in text
