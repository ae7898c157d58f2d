"""The embedded default survives ``kill -9`` in the middle of a burst of writes and deploys.

One quick-start ``alto server`` on SQLite takes domain creations (a global entity: the
row and its replication-log entry) and VM deployments (a job each) from several clients
at once, and is killed with SIGKILL while they are still sending. After a restart on the
same data directory: every creation that was answered 2xx is there, every job that was
answered a ``jobid`` finishes (none stays pending, whichever server step it died in),
and SQLite's ``integrity_check`` finds nothing wrong.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from altostratus.jobs.status import JobStatus
from altostratus.security.signatures import sign
from tests.clients.conftest import admin_client, quickstart_catalog, quickstart_server, unique
from tests.federation.support import call_ok
from tests.support.server import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

#: Jobs the killed server held come free this soon after the restart.
LEASE_SECONDS = 2
#: Acknowledged writes before the kill: enough that commits are in flight when it lands.
DOMAINS_BEFORE_KILL = 30
DEPLOYS_BEFORE_KILL = 6


@dataclass
class Acknowledged:
    """What the server answered 2xx to, collected by the client threads."""

    domains: list[str] = field(default_factory=list)
    jobs: dict[str, str] = field(default_factory=dict)  # job id → VM id
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _signed(
    http: httpx.Client, keys: dict[str, str], command: str, **params: str
) -> httpx.Response:
    query = {**params, "command": command, "response": "json", "apikey": keys["apikey"]}
    query["signature"] = sign(query, keys["secretkey"])
    return http.get("", params=query)


def _create_domains(
    server: LiveServer, keys: dict[str, str], acked: Acknowledged, stop: threading.Event
) -> None:
    http = httpx.Client(base_url=server.endpoint, timeout=30)
    while not stop.is_set():
        try:
            response = _signed(http, keys, "createDomain", name=unique("crash"))
        except httpx.HTTPError:
            continue  # the server is gone: the answer never came, nothing was acknowledged
        with acked.lock:
            if response.is_success:
                acked.domains.append(response.json()["createdomainresponse"]["domain"]["id"])
            else:
                acked.refused += 1


def _deploy(
    server: LiveServer,
    keys: dict[str, str],
    placement: dict[str, str],
    acked: Acknowledged,
    stop: threading.Event,
) -> None:
    http = httpx.Client(base_url=server.endpoint, timeout=30)
    while not stop.is_set():
        try:
            response = _signed(http, keys, "deployVirtualMachine", name=unique("vm"), **placement)
        except httpx.HTTPError:
            continue
        with acked.lock:
            if response.is_success:
                answer = response.json()["deployvirtualmachineresponse"]
                acked.jobs[answer["jobid"]] = answer["id"]
            else:
                acked.refused += 1


def _burst_then_kill(server: LiveServer, placement: dict[str, str]) -> Acknowledged:
    keys = server.admin
    acked = Acknowledged()
    stop = threading.Event()
    threads = [
        threading.Thread(target=_create_domains, args=(server, keys, acked, stop)),
        threading.Thread(target=_create_domains, args=(server, keys, acked, stop)),
        threading.Thread(target=_deploy, args=(server, keys, placement, acked, stop)),
    ]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 120
        while len(acked.domains) < DOMAINS_BEFORE_KILL or len(acked.jobs) < DEPLOYS_BEFORE_KILL:
            assert time.monotonic() < deadline, (
                f"burst too slow: {len(acked.domains)} domains, {len(acked.jobs)} deploys"
            )
            time.sleep(0.01)
        server.process.kill()  # SIGKILL: no shutdown, no checkpoint, leases held
        server.process.wait()
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        server.stop()
    return acked


def _job_status(server: LiveServer, keys: dict[str, str], job_id: str) -> int:
    answer = call_ok(server.endpoint, keys, "queryAsyncJobResult", jobid=job_id)
    return int(answer["jobstatus"])


def _integrity(db_file: Path) -> str:
    connection = sqlite3.connect(db_file)
    try:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        connection.close()


def test_kill_9_mid_burst_loses_no_acknowledged_write(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {"ALTO_JOB_LEASE_SECONDS": str(LEASE_SECONDS)}
    with quickstart_server(data_dir, extra_env=env) as first:
        catalog = quickstart_catalog(admin_client(first))
        placement = {
            "zoneid": catalog.zone_id,
            "serviceofferingid": catalog.small_offering_id,
            "templateid": catalog.template_id,
        }
        keys = first.admin
        acked = _burst_then_kill(first, placement)
    print(
        f"killed after {len(acked.domains)} domains and {len(acked.jobs)} deploys acknowledged "
        f"({acked.refused} refused)"
    )

    with quickstart_server(data_dir, extra_env=env) as second:
        listed = call_ok(second.endpoint, keys, "listDomains", listall="true")
        present = {domain["id"] for domain in listed["domain"]}
        missing = [domain for domain in acked.domains if domain not in present]
        assert not missing, f"{len(missing)} acknowledged domains lost"

        deadline = time.monotonic() + 90
        pending = set(acked.jobs)
        while pending:
            pending = {j for j in pending if _job_status(second, keys, j) == JobStatus.PENDING}
            assert time.monotonic() < deadline or not pending, f"jobs still pending: {pending}"
            time.sleep(0.2)
        for job, vm in acked.jobs.items():
            if _job_status(second, keys, job) == JobStatus.SUCCEEDED:
                vms = call_ok(second.endpoint, keys, "listVirtualMachines", id=vm, listall="true")
                assert vms["virtualmachine"][0]["state"] == "Running", vms

    assert _integrity(data_dir / "altostratus.db") == "ok"
