"""The netns rig set up for host HA: agents with their safety belts, HA and BMCs on.

Builds on ``ha_rig.HaRig``: every host's agent gets the shared storage (heartbeat and
disk leases), the ledger and a probe listener on its cluster-link address; the servers
run host HA on a short clock (``HA_CLOCK``); ``seed_catalog`` adds what a deploy needs
in the rig's zone; ``protect`` turns HA (and, with ``bmc``, out-of-band management
through the host's ipmi_sim) on for a host.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from altostratus.agent.ledger import Overlap, find_overlaps, read_ledger
from tests.support.client import ApiClient
from tests.support.ha_rig import BMC_CREDENTIALS, HaRig, RigHost
from tests.support.jobs import run_job

__all__ = [
    "HA_CLOCK",
    "LEASE_TTL",
    "PROBE_PORT",
    "Catalog",
    "belt_args",
    "belts",
    "deploy",
    "hastate",
    "overlaps",
    "protect",
    "seed_catalog",
    "vm",
    "wait_hastate",
    "wait_vm",
]

#: Seconds an agent's disk leases live without renewal.
LEASE_TTL = 4.0
PROBE_PORT = 7070

#: Host HA on a short clock: silent for 4 s → investigated; storage silent for 8 s →
#: proven off without a fence. Disconnected after 4 s, never Down on its own in a test.
#: (Shorter silences made hosts of a loaded 2-core machine look dead.)
HA_CLOCK = {
    "ALTO_HEARTBEAT_INTERVAL": "0.5",
    "ALTO_HOST_DISCONNECT_AFTER": "4",
    "ALTO_HOST_DOWN_AFTER": "600",
    "ALTO_HA_SUSPECT_AFTER": "4",
    "ALTO_HA_INVESTIGATION_TIMEOUT": "3",
    "ALTO_HA_ACTIVITY_PERIOD": "8",
    "ALTO_HA_FENCE_TIMEOUT": "10",
    "ALTO_HA_RECHECK_INTERVAL": "5",
    "ALTO_AGENT_COMMAND_TIMEOUT": "15",
    "ALTO_JOB_POLL_INTERVAL": "0.2",
}


def belts(rig: HaRig, host: RigHost) -> Sequence[str]:
    """``extra_agent_args`` for ``HaRig``: shared storage, ledger, probe listener."""
    return belt_args(rig, host, lease_ttl=LEASE_TTL, storage_heartbeat_interval=0.5)


def belt_args(
    rig: HaRig,
    host: RigHost,
    *,
    lease_ttl: float | None,
    storage_heartbeat_interval: float | None,
) -> list[str]:
    """The belts' agent arguments on a clock of one's own; ``None`` keeps the agent's
    default (a benchmark of the default settings passes neither)."""
    clock = [
        *(("--lease-ttl", str(lease_ttl)) if lease_ttl is not None else ()),
        *(
            ("--storage-heartbeat-interval", str(storage_heartbeat_interval))
            if storage_heartbeat_interval is not None
            else ()
        ),
    ]
    return [
        *("--shared-storage", str(rig.shared_storage)),
        *("--ledger", str(rig.ledger)),
        *("--probe-listen", f"{host.cluster_address}:{PROBE_PORT}"),
        *clock,
    ]


@dataclass(frozen=True)
class Catalog:
    zone_id: str
    template_id: str
    offering_id: str
    ha_offering_id: str
    network_id: str


async def seed_catalog(api: ApiClient) -> Catalog:
    """A shared network, a template and two small offerings (one HA) in the rig's zone."""
    zone = (await api.ok("listZones"))["zone"][0]
    offerings = (await api.ok("listNetworkOfferings"))["networkoffering"]
    shared = next(item for item in offerings if item["guestiptype"] == "Shared")
    network = await api.ok(
        "createNetwork",
        zoneid=zone["id"],
        name="guests",
        displaytext="guests",
        networkofferingid=shared["id"],
        gateway="10.99.0.1",
        netmask="255.255.0.0",
        startip="10.99.0.10",
        endip="10.99.3.250",
    )
    os_type = (await api.ok("listOsTypes"))["ostype"][0]
    template = await api.ok(
        "registerTemplate",
        name="linux",
        displaytext="linux",
        url="file:///rig/linux.qcow2",
        format="QCOW2",
        hypervisor="Simulator",
        ostypeid=os_type["id"],
        zoneid=zone["id"],
    )
    offering_ids = []
    for name, ha in (("small", False), ("small-ha", True)):
        created = await api.ok(
            "createServiceOffering",
            name=name,
            displaytext=name,
            cpunumber=1,
            cpuspeed=500,
            memory=256,
            offerha=ha,
        )
        offering_ids.append(created["serviceoffering"]["id"])
    return Catalog(
        zone_id=zone["id"],
        template_id=template["template"][0]["id"],
        offering_id=offering_ids[0],
        ha_offering_id=offering_ids[1],
        network_id=network["network"]["id"],
    )


async def _host_id(api: ApiClient, host: RigHost) -> str:
    host_id: str = (await api.ok("listHosts", name=host.name))["host"][0]["id"]
    return host_id


async def protect(api: ApiClient, host: RigHost, *, bmc: bool) -> str:
    """HA on for ``host`` (and out-of-band management through its BMC); its id."""
    host_id = await _host_id(api, host)
    if bmc:
        await api.ok(
            "configureOutOfBandManagement",
            hostid=host_id,
            driver="ipmitool",
            address=host.bmc_address,
            port=623,
            username=BMC_CREDENTIALS[0],
            password=BMC_CREDENTIALS[1],
        )
        await run_job(api, "enableOutOfBandManagementForHost", hostid=host_id)
    await run_job(api, "configureHAForHost", hostid=host_id, provider="simulatorhaprovider")
    await run_job(api, "enableHAForHost", hostid=host_id)
    return host_id


async def deploy(api: ApiClient, catalog: Catalog, host: RigHost, *, ha: bool) -> str:
    result = await run_job(
        api,
        "deployVirtualMachine",
        zoneid=catalog.zone_id,
        serviceofferingid=catalog.ha_offering_id if ha else catalog.offering_id,
        templateid=catalog.template_id,
        networkids=catalog.network_id,
        rootdisksize=1,
        hostid=await _host_id(api, host),
    )
    vm_id: str = result["virtualmachine"]["id"]
    return vm_id


async def vm(api: ApiClient, vm_id: str) -> dict[str, Any]:
    found: dict[str, Any] = (await api.ok("listVirtualMachines", id=vm_id))["virtualmachine"][0]
    return found


async def wait_vm(
    api: ApiClient, vm_id: str, state: str, *, within: float, not_on: str | None = None
) -> float:
    """Seconds until the VM is in ``state`` (on a host other than ``not_on``, if given)."""
    start = time.monotonic()
    while True:
        seen = await vm(api, vm_id)
        if seen["state"] == state and (not_on is None or seen.get("hostid") != not_on):
            return time.monotonic() - start
        if time.monotonic() - start > within:
            raise AssertionError(f"VM {vm_id} is {seen['state']} on {seen.get('hostname')}")
        await asyncio.sleep(0.2)


async def hastate(api: ApiClient, host: RigHost) -> str:
    state: str = (await api.ok("listHosts", name=host.name))["host"][0]["hostha"]["hastate"]
    return state


async def wait_hastate(api: ApiClient, host: RigHost, state: str, *, within: float) -> float:
    start = time.monotonic()
    while (seen := await hastate(api, host)) != state:
        if time.monotonic() - start > within:
            raise AssertionError(f"host {host.name} HA is {seen}, not {state}")
        await asyncio.sleep(0.2)
    return time.monotonic() - start


def overlaps(rig: HaRig) -> list[Overlap]:
    """VMs the ledger shows running on two hosts at once (must be none)."""
    return find_overlaps(read_ledger(rig.ledger))
