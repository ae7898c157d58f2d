"""The job executor: leases, recorded steps, results and errors, host command waits.

The executor is driven with job kinds written for the test, so these tests do not depend
on any command's job; the database is the seeded test database on each backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import select, update

from altostratus.core.context import ServiceContext
from altostratus.core.worker import running
from altostratus.db.models import AsyncJob, Host, HostCommand, Lease
from altostratus.db.models.hosts import CommandState
from altostratus.errors import InsufficientCapacity
from altostratus.jobs.executor import MAX_ATTEMPTS, Executor, JobHandler, caller_for
from altostratus.jobs.kinds import JobKind, JobPayload
from altostratus.jobs.run import JobRun
from altostratus.jobs.status import JobStatus
from altostratus.runtime import Runtime
from altostratus.services.shared import async_jobs
from altostratus.settings import Settings
from altostratus.timeutil import utcnow
from tests.support.compute_world import seed_compute
from tests.support.world import Identity


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    fast = settings.model_copy(update={"job_lease_seconds": 1.0, "job_poll_interval": 0.05})
    started = await Runtime.start(fast)
    try:
        yield started
    finally:
        await started.close()


def _server(runtime: Runtime, name: str) -> Runtime:
    """The same database seen by another management server (its own id and signals)."""
    deps = dataclasses.replace(runtime.deps, server_id=name)
    deps = dataclasses.replace(deps, signals=type(runtime.deps.signals)())
    return dataclasses.replace(runtime, deps=deps)


Body = Callable[[JobRun, Any], Awaitable[dict[str, Any]]]


class Echo(JobPayload):
    echo: int


def _kind(name: str, body: Body, payload: type[JobPayload] = JobPayload) -> JobKind[Any, Any]:
    """A kind of job for the test, named as a command declaring it would name it."""
    kind: JobKind[Any, Any] = JobKind(payload, body)
    kind.bind(name)
    return kind


def _executor(runtime: Runtime, *kinds: JobKind[Any, Any]) -> Executor:
    handlers = {kind.name: JobHandler(kind.payload, kind.body) for kind in kinds}
    return Executor(runtime.db, runtime.deps, handlers)


@contextlib.asynccontextmanager
async def _executing(runtime: Runtime, *kinds: JobKind[Any, Any]) -> AsyncIterator[None]:
    """The executor's workers run while the block runs, as the server's lifespan runs them."""
    executor = _executor(runtime, *kinds)
    try:
        async with running([executor, executor.renewal]):
            yield
    finally:
        await executor.stop()


async def _submit(
    runtime: Runtime, owner: Identity, kind: JobKind[Any, Any], payload: JobPayload | None = None
) -> str:
    async with runtime.db.transaction() as session:
        caller = await caller_for(session, owner.user_id)
        job = await async_jobs.submit(
            ServiceContext(session, caller, runtime.deps),
            kind,
            payload or kind.payload(),
            instance_type=None,
            instance_uuid=None,
        )
    runtime.deps.signals.jobs_submitted()
    return job.uuid


async def _finished(runtime: Runtime, job_uuid: str, *, within: float = 10.0) -> AsyncJob:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        async with runtime.db.transaction(write=False) as session:
            job = await session.scalar(select(AsyncJob).where(AsyncJob.uuid == job_uuid))
        assert job is not None
        if job.status != JobStatus.PENDING:
            return job
        assert asyncio.get_running_loop().time() < deadline, f"job {job_uuid} still pending"
        await asyncio.sleep(0.05)


async def test_a_job_runs_as_its_submitter_and_records_its_result(
    runtime: Runtime, identities: dict[str, Identity]
) -> None:
    async def whoami(run: JobRun, payload: Echo) -> dict[str, Any]:
        return {"user": {"name": run.caller.username, "echo": payload.echo}}

    kind = _kind("whoami", whoami, Echo)
    async with _executing(runtime, kind):
        job_uuid = await _submit(runtime, identities["alice"], kind, Echo(echo=7))
        job = await _finished(runtime, job_uuid)
    assert (job.status, job.result_code) == (JobStatus.SUCCEEDED, 0)
    assert orjson.loads(job.result or "") == {"user": {"name": "alice", "echo": 7}}
    assert job.owner is None
    assert job.completed is not None


async def test_a_cloud_error_fails_the_job_with_its_code(
    runtime: Runtime, identities: dict[str, Identity]
) -> None:
    async def full(run: JobRun, payload: JobPayload) -> dict[str, Any]:
        raise InsufficientCapacity("Unable to create a deployment: no host has room")

    kind = _kind("full", full)
    async with _executing(runtime, kind):
        job = await _finished(runtime, await _submit(runtime, identities["alice"], kind))
    assert (job.status, job.result_code) == (JobStatus.FAILED, 530)
    body = orjson.loads(job.result or "")
    assert body["errorcode"] == 533
    assert "no host has room" in body["errortext"]


async def test_an_unexpected_exception_fails_the_job_without_leaking_it(
    runtime: Runtime, identities: dict[str, Identity]
) -> None:
    async def broken(run: JobRun, payload: JobPayload) -> dict[str, Any]:
        raise RuntimeError("secret internals")

    kind = _kind("broken", broken)
    async with _executing(runtime, kind):
        job = await _finished(runtime, await _submit(runtime, identities["alice"], kind))
    body = orjson.loads(job.result or "")
    assert (job.status, body["errorcode"]) == (JobStatus.FAILED, 530)
    assert "secret internals" not in body["errortext"]


async def test_a_job_of_a_dead_server_is_resumed_after_its_lease_without_redoing_steps(
    runtime: Runtime, identities: dict[str, Identity]
) -> None:
    """Server A records step one and stalls (as if killed); B resumes at step two."""
    calls: list[tuple[str, str]] = []
    stalled = asyncio.Event()

    def two(stall: bool) -> JobKind[Any, Any]:
        async def two_steps(run: JobRun, payload: JobPayload) -> dict[str, Any]:
            async def first(ctx: ServiceContext) -> int:
                calls.append((run.deps.server_id, "first"))
                return 41

            value = await run.step("first", first)
            if stall:
                stalled.set()
                await asyncio.sleep(3600)

            async def second(ctx: ServiceContext) -> int:
                calls.append((run.deps.server_id, "second"))
                return value + 1

            return {"answer": await run.step("second", second)}

        return _kind("two", two_steps)

    server_a, server_b = _server(runtime, "server-a"), _server(runtime, "server-b")
    job_uuid = await _submit(runtime, identities["alice"], two(stall=True))
    async with _executing(server_a, two(stall=True)):
        await asyncio.wait_for(stalled.wait(), 10)
        async with runtime.db.transaction() as session:
            job = await session.scalar(select(AsyncJob).where(AsyncJob.uuid == job_uuid))
            assert job is not None
            assert job.owner == "server-a"
    # Stopping A hands the job back; a crash would not: put A's stale lease back.
    async with runtime.db.transaction() as session:
        await session.execute(
            update(AsyncJob)
            .where(AsyncJob.uuid == job_uuid)
            .values(owner="server-a", lease_expires=utcnow() + timedelta(seconds=1))
        )

    async with _executing(server_b, two(stall=False)):
        job = await _finished(runtime, job_uuid, within=15)
    assert orjson.loads(job.result or "") == {"answer": 42}
    assert calls == [("server-a", "first"), ("server-b", "second")]
    assert job.attempts == 2


async def test_a_server_that_lost_the_lease_cannot_record_a_step(
    runtime: Runtime, identities: dict[str, Identity]
) -> None:
    written = asyncio.Event()
    outcome: list[str] = []

    async def slow(run: JobRun, payload: JobPayload) -> dict[str, Any]:
        async def mark(ctx: ServiceContext) -> bool:
            # Another server takes the job over while this step is open.
            await ctx.session.execute(
                update(AsyncJob).where(AsyncJob.id == run.job_id).values(owner="thief")
            )
            return True

        try:
            await run.step("mark", mark)
        except Exception as error:
            outcome.append(type(error).__name__)
            raise
        finally:
            written.set()
        return {}

    kind = _kind("slow", slow)
    async with _executing(runtime, kind):
        job_uuid = await _submit(runtime, identities["alice"], kind)
        await asyncio.wait_for(written.wait(), 10)
        await asyncio.sleep(0.2)
    assert outcome == ["LeaseLost"]
    async with runtime.db.transaction(write=False) as session:
        job = await session.scalar(select(AsyncJob).where(AsyncJob.uuid == job_uuid))
    assert job is not None
    assert job.status == JobStatus.PENDING
    assert job.progress is None


async def test_a_host_command_is_queued_once_and_its_answer_returned(
    runtime: Runtime, identities: dict[str, Identity]
) -> None:
    world = await seed_compute(runtime, hosts=1)

    async def ping(run: JobRun, payload: JobPayload) -> dict[str, Any]:
        async def host(ctx: ServiceContext) -> int:
            row = await ctx.session.scalar(select(Host.id).where(Host.uuid == world.host_ids[0]))
            assert row is not None
            return row

        host_id = await run.step("host", host)
        answer = await run.host_command("ping", host_id, "Ping", {"n": 1}, answer_within=10)
        return {"pong": answer}

    async def agent() -> None:
        """Answers the first command it finds, as an agent link would."""
        while True:
            async with runtime.db.transaction() as session:
                command = await session.scalar(select(HostCommand))
                if command is not None:
                    command.state = CommandState.DONE
                    command.result = orjson.dumps({"n": 2}).decode()
                    command.completed = utcnow()
                    uuid = command.uuid
            if command is not None:
                runtime.deps.signals.commands_finished([uuid])
                return
            await asyncio.sleep(0.05)

    kind = _kind("ping", ping)
    async with _executing(runtime, kind):
        job_uuid = await _submit(runtime, identities["alice"], kind)
        await asyncio.wait_for(agent(), 10)
        job = await _finished(runtime, job_uuid)
    assert orjson.loads(job.result or "") == {"pong": {"n": 2}}
    async with runtime.db.transaction(write=False) as session:
        commands = list(await session.scalars(select(HostCommand)))
    assert [(c.kind, orjson.loads(c.payload)) for c in commands] == [("Ping", {"n": 1})]


async def test_an_unanswered_host_command_is_cancelled_and_fails_the_job_with_534(
    runtime: Runtime, identities: dict[str, Identity]
) -> None:
    world = await seed_compute(runtime, hosts=1)

    async def ping(run: JobRun, payload: JobPayload) -> dict[str, Any]:
        async def host(ctx: ServiceContext) -> int:
            row = await ctx.session.scalar(select(Host.id).where(Host.uuid == world.host_ids[0]))
            assert row is not None
            return row

        await run.host_command("ping", await run.step("host", host), "Ping", {}, answer_within=0.3)
        return {}

    kind = _kind("ping", ping)
    async with _executing(runtime, kind):
        job = await _finished(runtime, await _submit(runtime, identities["alice"], kind))
    assert orjson.loads(job.result or "")["errorcode"] == 534
    async with runtime.db.transaction(write=False) as session:
        command = await session.scalar(select(HostCommand))
    assert command is not None
    assert command.state == CommandState.FAILED


async def test_a_permanent_database_error_fails_the_job_instead_of_retrying_it(
    runtime: Runtime, identities: dict[str, Identity]
) -> None:
    calls: list[int] = []

    async def duplicate(run: JobRun, payload: JobPayload) -> dict[str, Any]:
        async def insert_twice(ctx: ServiceContext) -> None:
            calls.append(1)
            for _ in range(2):
                ctx.session.add(Lease(name="same", owner="x", expires=utcnow()))
                await ctx.session.flush()

        await run.step("insert", insert_twice)
        return {}

    kind = _kind("duplicate", duplicate)
    async with _executing(runtime, kind):
        job = await _finished(runtime, await _submit(runtime, identities["alice"], kind))
    assert (job.status, orjson.loads(job.result or "")["errorcode"]) == (JobStatus.FAILED, 530)
    assert calls == [1]


async def test_a_job_interrupted_too_often_is_given_up(
    runtime: Runtime, identities: dict[str, Identity]
) -> None:
    async def never(run: JobRun, payload: JobPayload) -> dict[str, Any]:
        raise AssertionError("a job past its last attempt must not run")

    kind = _kind("never", never)
    job_uuid = await _submit(runtime, identities["alice"], kind)
    async with runtime.db.transaction() as session:
        await session.execute(
            update(AsyncJob).where(AsyncJob.uuid == job_uuid).values(attempts=MAX_ATTEMPTS)
        )
    async with _executing(runtime, kind):
        job = await _finished(runtime, job_uuid)
    body = orjson.loads(job.result or "")
    assert job.status == JobStatus.FAILED
    assert f"after {MAX_ATTEMPTS} attempts" in body["errortext"]


async def test_a_job_whose_payload_does_not_fit_fails_naming_the_field(
    runtime: Runtime, identities: dict[str, Identity]
) -> None:
    """A payload stored before a field was renamed fails at once, not half-way through."""
    ran: list[int] = []

    async def echo(run: JobRun, payload: Echo) -> dict[str, Any]:
        ran.append(payload.echo)
        return {}

    kind = _kind("echo", echo, Echo)
    job_uuid = await _submit(runtime, identities["alice"], kind, Echo(echo=1))
    async with runtime.db.transaction() as session:
        await session.execute(
            update(AsyncJob).where(AsyncJob.uuid == job_uuid).values(payload='{"echoed": 1}')
        )
    async with _executing(runtime, kind):
        job = await _finished(runtime, job_uuid)
    body = orjson.loads(job.result or "")
    assert (job.status, body["errorcode"]) == (JobStatus.FAILED, 530)
    assert "echo: Field required" in body["errortext"]
    assert "echoed: Extra inputs are not permitted" in body["errortext"]
    assert ran == []


async def test_a_job_of_an_unknown_kind_fails(
    runtime: Runtime, identities: dict[str, Identity]
) -> None:
    async def unused(run: JobRun, payload: JobPayload) -> dict[str, Any]:
        raise AssertionError("no server knows this kind")

    job_uuid = await _submit(runtime, identities["alice"], _kind("retired", unused))
    async with _executing(runtime):
        job = await _finished(runtime, job_uuid)
    body = orjson.loads(job.result or "")
    assert job.status == JobStatus.FAILED
    assert "No handler for jobs of kind retired" in body["errortext"]


@dataclasses.dataclass(frozen=True)
class Placement:
    host_id: int
    tags: tuple[str, ...]


async def test_a_typed_step_result_is_recorded_as_json_and_restored_as_its_type(
    runtime: Runtime, identities: dict[str, Identity]
) -> None:
    """``earlier`` stands for a step recorded before a restart, in the stored format."""

    async def placing(run: JobRun, payload: JobPayload) -> dict[str, Any]:
        async def place(ctx: ServiceContext) -> Placement:
            return Placement(7, ("ssd",))

        async def not_again(ctx: ServiceContext) -> Placement:
            raise AssertionError("a recorded step must not run again")

        async def nothing(ctx: ServiceContext) -> Placement | None:
            return None

        now = await run.step("now", place, result_type=Placement)
        earlier = await run.step("earlier", not_again, result_type=Placement)
        none = await run.step("none", nothing, result_type=Placement)
        return {
            "types": [type(now).__name__, type(earlier).__name__, repr(none)],
            "ids": [now.host_id, earlier.host_id],
        }

    kind = _kind("placing", placing)
    job_uuid = await _submit(runtime, identities["alice"], kind)
    recorded = {"earlier": {"host_id": 3, "tags": ["hdd"]}}
    async with runtime.db.transaction() as session:
        await session.execute(
            update(AsyncJob)
            .where(AsyncJob.uuid == job_uuid)
            .values(progress=orjson.dumps(recorded).decode())
        )
    async with _executing(runtime, kind):
        job = await _finished(runtime, job_uuid)
    assert orjson.loads(job.result or "") == {
        "types": ["Placement", "Placement", "None"],
        "ids": [7, 3],
    }
    assert orjson.loads(job.progress or "") == {
        **recorded,
        "now": {"host_id": 7, "tags": ["ssd"]},
        "none": None,
    }
