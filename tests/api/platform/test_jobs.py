"""``queryAsyncJobResult`` and ``listAsyncJobs``: who may read which job.

Job rows are written through the model here, so these tests do not depend on any
asynchronous command existing.
"""

from __future__ import annotations

import uuid

import orjson
import pytest
from starlette.applications import Starlette

from altostratus.db.models import AsyncJob
from altostratus.timeutil import utcnow
from tests.api.compute.vm_support import deploy_args, hosts_up
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld
from tests.support.jobs import wait_job
from tests.support.world import Identity


async def _job(app: Starlette, owner: Identity, *, status: int = 1) -> str:
    now = utcnow()
    async with app.state.runtime.db.transaction() as session:
        job = AsyncJob(
            command="deployVirtualMachine",
            user_uuid=owner.user_id,
            account_uuid=owner.account_id,
            domain_path=owner.domain_path,
            status=status,
            result_code=0,
            result=orjson.dumps({"virtualmachine": {"id": "vm-1"}}).decode() if status else None,
            instance_type="VirtualMachine",
            instance_uuid=str(uuid.uuid4()),
            created=now,
            completed=now if status else None,
        )
        session.add(job)
        await session.flush()
        return job.uuid


async def test_query_own_job(
    app: Starlette, clients: Clients, identities: dict[str, Identity]
) -> None:
    alice = identities["alice"]
    job_id = await _job(app, alice)
    answer = await clients.alice.ok("queryAsyncJobResult", jobid=job_id)
    assert answer["jobid"] == job_id
    assert (answer["jobstatus"], answer["jobresultcode"], answer["jobresulttype"]) == (
        1,
        0,
        "object",
    )
    assert answer["jobresult"] == {"virtualmachine": {"id": "vm-1"}}
    assert (answer["userid"], answer["accountid"]) == (alice.user_id, alice.account_id)
    assert answer["cmd"] == "deployVirtualMachine"
    assert answer["jobinstancetype"] == "VirtualMachine"
    assert answer["created"].endswith("+0000")
    assert answer["completed"].endswith("+0000")


async def test_pending_job_has_no_result_yet(
    app: Starlette, clients: Clients, identities: dict[str, Identity]
) -> None:
    job_id = await _job(app, identities["alice"], status=0)
    answer = await clients.alice.ok("queryAsyncJobResult", jobid=job_id.upper())
    assert answer["jobstatus"] == 0
    assert "jobresult" not in answer
    assert "completed" not in answer


async def test_unknown_or_malformed_jobid_is_431(clients: Clients) -> None:
    for jobid in (str(uuid.uuid4()), "not-a-uuid", ""):
        text = await clients.alice.fails("queryAsyncJobResult", 431, jobid=jobid)
        assert "jobid" in text


@pytest.mark.parametrize(
    ("reader", "owner", "visible"),
    [
        ("bob", "alice", False),
        ("carol", "alice", False),
        ("alice", "d1admin", False),
        ("d1admin", "alice", True),
        ("d1admin", "carol", True),
        ("d1admin", "bob", False),
        ("admin", "bob", True),
    ],
)
async def test_who_may_read_a_job(
    app: Starlette,
    clients: Clients,
    identities: dict[str, Identity],
    reader: str,
    owner: str,
    visible: bool,
) -> None:
    job_id = await _job(app, identities[owner])
    client: ApiClient = getattr(clients, reader)
    if visible:
        assert (await client.ok("queryAsyncJobResult", jobid=job_id))["jobid"] == job_id
    else:
        # Another account's job looks like no job at all: its existence is not revealed.
        text = await client.fails("queryAsyncJobResult", 431, jobid=job_id)
        assert "vm-1" not in text


async def test_list_async_jobs(
    app: Starlette, clients: Clients, identities: dict[str, Identity]
) -> None:
    alice_jobs = [await _job(app, identities["alice"]) for _ in range(3)]
    bob_job = await _job(app, identities["bob"])
    mine = await clients.alice.ok("listAsyncJobs")
    assert [j["jobid"] for j in mine["asyncjobs"]] == alice_jobs[::-1], "newest first"
    assert await clients.bob.ok("listAsyncJobs", listall=True) == {
        "count": 1,
        "asyncjobs": [await clients.bob.ok("queryAsyncJobResult", jobid=bob_job)],
    }
    assert await clients.admin.ok("listAsyncJobs") == {}, "the admin's own jobs: none"
    everything = await clients.admin.ok("listAsyncJobs", listall=True)
    assert everything["count"] == 4
    d1 = await clients.d1admin.ok("listAsyncJobs", listall=True)
    assert {j["jobid"] for j in d1["asyncjobs"]} == set(alice_jobs)
    page = await clients.alice.ok("listAsyncJobs", page=2, pagesize=2)
    assert (page["count"], [j["jobid"] for j in page["asyncjobs"]]) == (3, alice_jobs[:1])


async def test_a_job_s_result_carries_its_jobid_and_jobstatus(
    app: Starlette, clients: Clients, compute: ComputeWorld
) -> None:
    """As CloudStack's: the object in ``jobresult`` names the job, pending as it was built."""
    world = await hosts_up(app, compute)
    answer = await clients.alice.ok("deployVirtualMachine", **deploy_args(world))
    job = await wait_job(clients.alice, answer["jobid"])
    vm = job["jobresult"]["virtualmachine"]
    assert (vm["id"], vm["jobid"], vm["jobstatus"]) == (answer["id"], answer["jobid"], 0)
    listed = (await clients.alice.ok("listVirtualMachines", id=vm["id"]))["virtualmachine"][0]
    assert "jobid" not in listed  # no job acts on it any more
