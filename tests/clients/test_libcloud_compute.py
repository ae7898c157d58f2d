"""Apache Libcloud's compute flow against a quick-start server with simulated hosts.

What a Libcloud user does, as a normal user: pick a location, size and image, create a
node (Libcloud always sends ``startvm=False``, so it stays Stopped), start, stop, reboot
and destroy it, and manage its volumes, snapshots, key pairs, security groups and tags.
Libcloud builds its objects from the response fields it reads (``_to_node``,
``list_volumes``, ``_to_key_pair``), so a missing field fails here with a KeyError, and
it polls every async job through ``queryAsyncJobResult`` itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network
from typing import Any

import pytest
from cs import CloudStack
from libcloud.common.types import ProviderError
from libcloud.compute.providers import get_driver
from libcloud.compute.types import KeyPairDoesNotExistError, NodeState, Provider, StorageVolumeState

from tests.clients.conftest import (
    admin_client,
    create_account,
    ssh_public_key,
    unique,
    user_keys,
)
from tests.support.server import LiveServer

pytestmark = pytest.mark.slow

GIB = 1024**3
#: The quick start's shared guest network (``services.quickstart``).
GUEST_NETWORK = IPv4Network("10.1.0.0/16")


def driver_for(server: LiveServer, key: str, secret: str) -> Any:
    """A CloudStack driver that polls jobs quickly (Libcloud's default is every second)."""
    driver: Any = get_driver(Provider.CLOUDSTACK)(key, secret, url=server.endpoint, secure=False)
    driver.connection.poll_interval = 0.1
    driver.connection.timeout = 60
    return driver


def new_user_driver(server: LiveServer, admin: CloudStack) -> Any:
    account = create_account(admin, unique("lc"))
    return driver_for(server, *user_keys(admin, account["user"][0]["id"]))


@pytest.fixture(scope="module")
def admin(cloud: LiveServer) -> CloudStack:
    return admin_client(cloud)


@pytest.fixture
def driver(cloud: LiveServer, admin: CloudStack) -> Any:
    """A driver for a new user account: each test is its own tenant."""
    return new_user_driver(cloud, admin)


def named(items: Iterable[Any], name: str) -> Any:
    [found] = [item for item in items if item.name == name]
    return found


def new_node(driver: Any, **options: Any) -> Any:
    """``create_node`` with the quick start's zone, Small Instance and template."""
    location = named(driver.list_locations(), "zone1")
    return driver.create_node(
        name=unique("node"),
        size=named(driver.list_sizes(), "Small Instance"),
        image=named(driver.list_images(location), "Simulated Linux"),
        location=location,
        **options,
    )


def find_node(driver: Any, node: Any) -> Any | None:
    """The node as ``list_nodes`` shows it now, or None if it is not listed."""
    found = [item for item in driver.list_nodes() if item.id == node.id]
    return found[0] if found else None


def listed(driver: Any, node: Any) -> Any:
    """The node as ``list_nodes`` shows it now; it must be listed."""
    found = find_node(driver, node)
    assert found is not None, f"node {node.id} is not listed"
    return found


def volumes_by_id(driver: Any, node: Any | None = None) -> dict[str, Any]:
    return {volume.id: volume for volume in driver.list_volumes(node)}


def test_catalog_is_what_the_quick_start_created(driver: Any) -> None:
    location = named(driver.list_locations(), "zone1")
    sizes = {size.name: (size.ram, size.extra["cpu"]) for size in driver.list_sizes()}
    assert sizes["Small Instance"] == (512, 1)
    assert sizes["Medium Instance"] == (2048, 2)
    image = named(driver.list_images(location), "Simulated Linux")
    assert image.extra["hypervisor"] == "Simulator"
    assert image.extra["format"] == "QCOW2"
    assert image.extra["size"] == 2 * GIB
    disks = {disk.name: disk for disk in driver.ex_list_disk_offerings()}
    assert (disks["Small"].size, disks["Small"].customizable) == (5, False)
    assert disks["Custom"].customizable


def test_node_lifecycle(cloud: LiveServer, admin: CloudStack, driver: Any) -> None:
    node = new_node(driver)
    assert node.state == NodeState.STOPPED, "Libcloud sends startvm=False"
    assert node.extra["size_name"] == "Small Instance"
    assert node.extra["image_name"] == "Simulated Linux"
    assert node.extra["zone_name"] == "zone1"

    assert driver.ex_start(node) == "Running"
    running = listed(driver, node)
    assert running.state == NodeState.RUNNING
    assert running.name == node.name
    [address] = running.private_ips
    assert IPv4Address(address) in GUEST_NETWORK
    assert running.public_ips == []
    assert running.extra["hypervisor"] == "Simulator"
    assert running.extra["zone_id"] == node.extra["zone_id"]
    assert running.extra["size_id"] == node.extra["size_id"]
    assert running.extra["image_id"] == node.extra["image_id"]
    assert running.extra["created"]

    other = new_user_driver(cloud, admin)
    assert find_node(other, node) is None, "another tenant's node is not listed"

    assert driver.reboot_node(node) is True
    assert listed(driver, node).state == NodeState.RUNNING
    assert driver.ex_stop(node) == "Stopped"
    assert listed(driver, node).state == NodeState.STOPPED
    assert driver.ex_start(node) == "Running"

    assert driver.destroy_node(node) is True
    gone = find_node(driver, node)
    assert gone is None or gone.state == NodeState.TERMINATED
    # As in CloudStack (allow.user.expunge.recover.vm=false): only admins expunge.
    expunged = new_node(driver)
    with pytest.raises(ProviderError) as refused:
        driver.destroy_node(expunged, ex_expunge=True)
    assert refused.value.http_code == 531
    admin_driver = driver_for(cloud, cloud.admin["apikey"], cloud.admin["secretkey"])
    assert admin_driver.destroy_node(expunged, ex_expunge=True) is True
    assert find_node(driver, expunged) is None


def test_volumes_attach_and_detach(driver: Any) -> None:
    node = new_node(driver)
    driver.ex_start(node)
    [root] = volumes_by_id(driver, node).values()
    assert root.extra["volume_type"] == "ROOT"
    assert root.state == StorageVolumeState.INUSE

    volume = driver.create_volume(size=5, name=unique("data"))
    assert volume.state == StorageVolumeState.AVAILABLE
    detached = volumes_by_id(driver)[volume.id]
    assert (detached.size, detached.extra["volume_type"]) == (5 * GIB, "DATADISK")
    assert detached.extra["instance_id"] is None

    assert driver.attach_volume(node, volume) is True
    attached = volumes_by_id(driver, node)
    assert set(attached) == {root.id, volume.id}
    assert attached[volume.id].state == StorageVolumeState.INUSE
    assert attached[volume.id].extra["instance_id"] == node.id
    assert attached[volume.id].extra["device_id"] is not None

    assert driver.detach_volume(volume) is True
    assert set(volumes_by_id(driver, node)) == {root.id}

    custom = driver.create_volume(size=7, name=unique("custom"), ex_volume_type="Custom")
    assert volumes_by_id(driver)[custom.id].size == 7 * GIB

    assert driver.destroy_volume(volume) is True
    assert driver.destroy_volume(custom) is True
    remaining = volumes_by_id(driver)
    assert volume.id not in remaining
    assert custom.id not in remaining


def test_snapshots_of_the_root_volume(driver: Any) -> None:
    node = new_node(driver)
    driver.ex_start(node)
    [root] = volumes_by_id(driver, node).values()

    first = driver.create_volume_snapshot(root)
    second = driver.create_volume_snapshot(root)
    assert first.extra["volume_id"] == root.id
    assert first.id != second.id
    assert {first.id, second.id} <= {snapshot.id for snapshot in driver.list_snapshots()}

    assert driver.destroy_volume_snapshot(first) is True
    remaining = {snapshot.id for snapshot in driver.list_snapshots()}
    assert first.id not in remaining
    assert second.id in remaining


def test_key_pairs(driver: Any) -> None:
    created = driver.create_key_pair(unique("made"))
    assert created.private_key.startswith("-----BEGIN")
    assert created.fingerprint

    public_key, fingerprint = ssh_public_key()
    imported = driver.import_key_pair_from_string(unique("mine"), public_key)
    assert imported.fingerprint == fingerprint

    listed_pairs = {pair.name: pair.fingerprint for pair in driver.list_key_pairs()}
    assert listed_pairs == {created.name: created.fingerprint, imported.name: fingerprint}
    assert driver.get_key_pair(imported.name).fingerprint == fingerprint

    node = new_node(driver, ex_keyname=imported.name)
    assert node.extra["key_name"] == imported.name

    assert driver.delete_key_pair(created) is True
    assert [pair.name for pair in driver.list_key_pairs()] == [imported.name]
    with pytest.raises(KeyPairDoesNotExistError):
        driver.get_key_pair(created.name)


def test_security_groups(admin: CloudStack, driver: Any) -> None:
    name = unique("web")
    group = driver.ex_create_security_group(name, description="web servers")
    assert group["name"] == name
    assert group["id"]

    authorized = driver.ex_authorize_security_group_ingress(name, "tcp", "0.0.0.0/0", 22, 23)
    [rule] = authorized["ingressrule"]
    assert (rule["protocol"], rule["startport"], rule["endport"], rule["cidr"]) == (
        "tcp",
        22,
        23,
        "0.0.0.0/0",
    )
    groups = {item["name"]: item for item in driver.ex_list_security_groups()}
    assert [item["ruleid"] for item in groups[name]["ingressrule"]] == [rule["ruleid"]]

    node = new_node(driver, ex_security_groups=[name])
    assert node.extra["security_group"] == [name]

    with pytest.raises(ProviderError) as in_use:
        driver.ex_delete_security_group(name)
    assert in_use.value.http_code == 536

    driver.destroy_node(node)
    admin.expungeVirtualMachine(id=node.id, fetch_result=True)
    assert driver.ex_delete_security_group(name) == "true"
    assert name not in {item["name"] for item in driver.ex_list_security_groups()}


def test_tags_on_nodes_and_volumes(driver: Any) -> None:
    node = new_node(driver)
    assert driver.ex_create_tags([node.id], "UserVm", {"env": "test", "team": "alto"}) is True
    assert listed(driver, node).extra["tags"] == {"env": "test", "team": "alto"}

    assert driver.ex_delete_tags([node.id], "UserVm", ["env"]) is True
    assert listed(driver, node).extra["tags"] == {"team": "alto"}

    [root] = volumes_by_id(driver, node).values()
    driver.ex_create_tags([root.id], "Volume", {"backup": "daily"})
    assert volumes_by_id(driver, node)[root.id].extra["tags"] == {"backup": "daily"}


def test_networks_nics_and_limits(driver: Any) -> None:
    guest = named(driver.ex_list_networks(), "guest")
    assert guest.zoneid == named(driver.list_locations(), "zone1").id

    node = new_node(driver, networks=[guest])
    driver.ex_start(node)
    [nic] = driver.ex_list_nics(node)
    assert nic.network_id == guest.id
    assert nic.is_default is True
    assert [nic.ip_address] == listed(driver, node).private_ips
    assert (nic.gateway, nic.net_mask) == ("10.1.0.1", "255.255.0.0")
    assert driver.ex_list_public_ips() == []

    limits = driver.ex_limits()
    assert {"max_instances", "max_volumes", "max_cpu", "max_memory"} <= set(limits)
