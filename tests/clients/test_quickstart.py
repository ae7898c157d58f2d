"""The README's promise: ``bash scripts/run`` gives a cloud where a VM deploys at once.

``scripts/run`` starts ``alto server --data-dir data --quickstart``; a newcomer reads the
admin's credentials from ``admin.json`` and deploys with ``cs``. The server here runs
with the default timings (no faster heartbeats or job polling), as a newcomer's would.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from cs import CloudStack

from tests.clients.conftest import QUICKSTART_HOSTS, quickstart_catalog, wait_hosts_up
from tests.support.server import LiveServer

pytestmark = pytest.mark.slow

#: From starting the server to a Running VM.
WITHIN_SECONDS = 60


def test_a_vm_deploys_within_a_minute_of_the_first_start(tmp_path: Path) -> None:
    started = time.monotonic()
    with LiveServer(tmp_path / "data", args=("--quickstart",)) as server:
        admin = server.admin
        cs = CloudStack(
            endpoint=admin["endpoint"],
            key=admin["apikey"],
            secret=admin["secretkey"],
            fetch_result=True,
            job_timeout=WITHIN_SECONDS,
        )
        hosts = wait_hosts_up(cs, QUICKSTART_HOSTS, within=WITHIN_SECONDS)
        assert {host["hypervisor"] for host in hosts} == {"Simulator"}
        catalog = quickstart_catalog(cs)

        vm = cs.deployVirtualMachine(
            zoneid=catalog.zone_id,
            serviceofferingid=catalog.small_offering_id,
            templateid=catalog.template_id,
            name="first-vm",
        )["virtualmachine"]
        elapsed = time.monotonic() - started

        assert vm["state"] == "Running"
        assert vm["name"] == "first-vm"
        assert cs.listVirtualMachines(id=vm["id"])["virtualmachine"][0]["state"] == "Running"
        assert elapsed < WITHIN_SECONDS, f"first VM Running after {elapsed:.1f}s"
        print(f"quick start: first VM Running {elapsed:.1f}s after the server started")


def test_a_second_start_keeps_the_region_as_it_is(tmp_path: Path) -> None:
    """The quick start seeds only an empty region: a restart adds nothing."""
    data = tmp_path / "data"
    with LiveServer(data, args=("--quickstart",)) as first:
        admin = first.admin
        cs = CloudStack(endpoint=first.endpoint, key=admin["apikey"], secret=admin["secretkey"])
        before = cs.listHosts()["count"], cs.listServiceOfferings()["count"]
    with LiveServer(data, args=("--quickstart",)) as second:
        cs = CloudStack(endpoint=second.endpoint, key=admin["apikey"], secret=admin["secretkey"])
        assert [zone["name"] for zone in cs.listZones()["zone"]] == ["zone1"]
        assert (cs.listHosts()["count"], cs.listServiceOfferings()["count"]) == before
