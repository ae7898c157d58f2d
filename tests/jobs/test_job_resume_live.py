"""A job survives the death of the server driving it: two real servers, one PostgreSQL.

Two ``alto server`` processes share one database and key file (one region). A VM is
deployed onto a simulated host that takes four seconds to answer each command, so the
job is still waiting on the host when the server that claimed it is killed with
SIGKILL: no clean-up, no lease release. The job lease is two seconds, so the surviving
server claims the job once the lease expires and finishes it from its stored progress.
The host's reserved capacity must then equal exactly one VM: a resumed job that
reserved again (or placed the VM twice) would show up there.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from cs import CloudStack

from altostratus.jobs.status import JobStatus
from tests.clients.conftest import (
    admin_client,
    create_database,
    quickstart_catalog,
    quickstart_server,
    unique,
    wait_hosts_up,
)
from tests.support.postgres import TemporaryPostgres
from tests.support.server import LiveServer

pytestmark = pytest.mark.slow

LEASE_SECONDS = 2
#: Long enough that the owner is killed while the host is still working on the start.
HOST_LATENCY_MS = 4000


async def _fetchrow(url: str, query: str, *args: object) -> dict[str, Any] | None:
    connection = await asyncpg.connect(url)
    try:
        row = await connection.fetchrow(query, *args)
    finally:
        await connection.close()
    return dict(row) if row is not None else None


def fetchrow(url: str, query: str, *args: object) -> dict[str, Any] | None:
    """One row straight from the shared database (what no API shows: owners, counters)."""
    return asyncio.run(_fetchrow(url, query, *args))


def wait_for(what: str, probe: Any, within: float) -> Any:
    """Poll ``probe()`` until it returns something truthy; that value."""
    deadline = time.monotonic() + within
    while not (value := probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} after {within}s")
        time.sleep(0.05)
    return value


def add_slow_host(admin: CloudStack) -> dict[str, Any]:
    zone = admin.listZones(name="zone1")["zone"][0]
    pod = admin.listPods(zoneid=zone["id"])["pod"][0]
    cluster = admin.listClusters(podid=pod["id"])["cluster"][0]
    [host] = admin.addHost(
        zoneid=zone["id"],
        podid=pod["id"],
        clusterid=cluster["id"],
        hypervisor="Simulator",
        url=f"sim://{unique('slow')}",
        details=[{"latency": str(HOST_LATENCY_MS)}],
    )["host"]
    [up] = wait_hosts_up(admin, 1, id=host["id"])
    return up


def test_a_job_finishes_after_its_server_is_killed(
    postgres: TemporaryPostgres, tmp_path: Path
) -> None:
    url = create_database(postgres, "resume")
    env = {"ALTO_JOB_LEASE_SECONDS": str(LEASE_SECONDS)}
    with quickstart_server(tmp_path / "a" / "data", database_url=url, extra_env=env) as first:
        # The second server of the region: same database, same key file.
        second_dir = tmp_path / "b" / "data"
        second_dir.mkdir(parents=True)
        shutil.copy(first.data_dir / "secret.key", second_dir / "secret.key")
        with quickstart_server(second_dir, database_url=url, extra_env=env) as second:
            run_and_kill(url, first, second)


def run_and_kill(url: str, first: LiveServer, second: LiveServer) -> None:
    admin = admin_client(first, job_timeout=60)
    catalog = quickstart_catalog(admin)
    host = add_slow_host(admin)
    small = admin.listServiceOfferings(id=catalog.small_offering_id)["serviceoffering"][0]

    submitted = admin.deployVirtualMachine(
        zoneid=catalog.zone_id,
        serviceofferingid=catalog.small_offering_id,
        templateid=catalog.template_id,
        hostid=host["id"],
        name=unique("resumed"),
    )
    job = wait_for(
        "job waiting on its host",
        lambda: fetchrow(
            url,
            "SELECT j.id, j.owner FROM async_jobs j JOIN host_commands c ON c.job_id = j.id"
            " WHERE j.uuid = $1 AND j.status = $2 AND j.owner IS NOT NULL",
            submitted["jobid"],
            JobStatus.PENDING,
        ),
        within=30,
    )
    pid = int(job["owner"].split(":")[-2])  # hostname:pid:random
    servers = {server.process.pid: server for server in (first, second)}
    assert pid in servers, f"job owner {job['owner']} is neither server"
    owner = servers.pop(pid)
    [survivor] = servers.values()

    owner.process.kill()
    owner.process.wait()
    killed = time.monotonic()
    # Only the server that bootstrapped the database wrote admin.json.
    keys = first.admin
    other = CloudStack(endpoint=survivor.endpoint, key=keys["apikey"], secret=keys["secretkey"])
    result = wait_for(
        "job result from the surviving server",
        lambda: (
            answer
            if (answer := other.queryAsyncJobResult(jobid=submitted["jobid"]))["jobstatus"]
            != JobStatus.PENDING
            else None
        ),
        within=60,
    )
    seconds = time.monotonic() - killed
    print(f"job resumed: finished {seconds:.1f}s after its server was killed")

    assert result["jobstatus"] == JobStatus.SUCCEEDED, result.get("jobresult")
    vm = result["jobresult"]["virtualmachine"]
    assert (vm["id"], vm["state"], vm["hostid"]) == (submitted["id"], "Running", host["id"])
    [listed] = other.listVirtualMachines(id=submitted["id"], listall=True)["virtualmachine"]
    assert listed["state"] == "Running"

    allocated = fetchrow(
        url,
        "SELECT cpu_allocated_mhz, memory_allocated_mb FROM hosts WHERE uuid = $1",
        host["id"],
    )
    one_vm = {
        "cpu_allocated_mhz": small["cpunumber"] * small["cpuspeed"],
        "memory_allocated_mb": small["memory"],
    }
    assert allocated == one_vm, "capacity reserved exactly once"
