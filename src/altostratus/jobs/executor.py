"""The job executor: claims submitted jobs under a lease and drives them to an end.

Every management server runs one. A job belongs to the server whose id is in its
``owner`` column until ``lease_expires``; the owner renews the lease while it works, so
a job whose server died is claimed by another once the lease runs out, and resumed
from its recorded progress (``jobs.run``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar

import orjson
from pydantic import ValidationError
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.core.context import Caller, Dependencies
from altostratus.core.leases import uninterrupted
from altostratus.core.worker import Tick
from altostratus.db.clock import database_now
from altostratus.db.engine import Database
from altostratus.db.failover import DATABASE_ERRORS, resumable
from altostratus.db.models import Account, AsyncJob, User
from altostratus.db.rows import rowcount
from altostratus.errors import CloudError
from altostratus.jobs.kinds import JobPayload
from altostratus.jobs.run import JobRun, LeaseLost
from altostratus.jobs.status import JobStatus
from altostratus.timeutil import utcnow

__all__ = [
    "MAX_ATTEMPTS",
    "Executor",
    "JobHandler",
    "caller_for",
]

log = logging.getLogger(__name__)

P = TypeVar("P", bound=JobPayload)


@dataclass(frozen=True)
class JobHandler(Generic[P]):
    """How the executor runs the jobs of one kind.

    ``drive`` returns the body of the job's result (``{"virtualmachine": {...}}``); the
    payload is checked against ``payload`` before, so a body gets a valid ``P``.
    """

    payload: type[P]
    drive: Callable[[JobRun, P], Awaitable[dict[str, Any]]]


_INTERNAL = "Internal error executing the job, please contact your system administrator"

#: Claims after which a job that keeps being interrupted is failed instead of retried.
MAX_ATTEMPTS = 20


@dataclass(frozen=True)
class _Claimed:
    id: int
    uuid: str
    #: This claim's number: steps and the result are recorded only under it.
    attempt: int
    kind: str
    user_uuid: str
    payload: dict[str, Any]
    progress: dict[str, Any]


class Executor:
    """Two workers (``core.worker``): the executor claims jobs, woken as they are
    submitted here and polling for the others; ``renewal`` renews the leases of the jobs
    it drives. ``stop()`` once the runner stopped both."""

    name = "job-executor"
    lease = None
    run_at_start = True

    def __init__(
        self, db: Database, deps: Dependencies, handlers: Mapping[str, JobHandler[Any]]
    ) -> None:
        self._db = db
        self._deps = deps
        self._handlers = handlers
        self._running: dict[int, asyncio.Task[None]] = {}
        settings = deps.settings
        self._lease = timedelta(seconds=settings.job_lease_seconds)
        self._concurrency = settings.job_concurrency
        self.interval = settings.job_poll_interval
        self.wake_up = deps.signals.wait_for_jobs
        self.renewal = _LeaseRenewal(self, interval=settings.job_lease_seconds / 3)

    @property
    def owner(self) -> str:
        return self._deps.server_id

    async def tick(self) -> Tick:
        """Claim jobs for the free slots and start driving them."""
        free = self._concurrency - len(self._running)
        if free <= 0:
            return Tick(f"all {self._concurrency} job slots are busy")
        claimed = await self._claim(free)
        for job in claimed:
            self._start(job)
        return Tick(f"claimed {len(claimed)} jobs", changed=bool(claimed))

    async def stop(self) -> None:
        """Hand the jobs still running back, so that another server resumes them at once."""
        unfinished = list(self._running)
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._release(unfinished)

    def _start(self, job: _Claimed) -> None:
        task = asyncio.create_task(self._drive(job), name=f"job {job.uuid}")
        self._running[job.id] = task
        task.add_done_callback(lambda _task: self._running.pop(job.id, None))

    async def _claim(self, limit: int) -> list[_Claimed]:
        claimed: list[_Claimed] = []
        async with self._db.transaction() as session:
            now = await database_now(session)
            claimable = (
                AsyncJob.status == JobStatus.PENDING,
                AsyncJob.kind.is_not(None),
                or_(AsyncJob.owner.is_(None), AsyncJob.lease_expires < now),
                # Not one this server still drives: a lease that lapsed while the database
                # was unreachable must not start the same job a second time here.
                AsyncJob.id.not_in(list(self._running)),
            )
            candidates = list(
                await session.scalars(
                    select(AsyncJob.id).where(*claimable).order_by(AsyncJob.id).limit(limit)
                )
            )
            for job_id in candidates:
                taken = await session.execute(
                    update(AsyncJob)
                    .where(AsyncJob.id == job_id, *claimable)
                    .values(
                        owner=self.owner,
                        lease_expires=now + self._lease,
                        attempts=AsyncJob.attempts + 1,
                    )
                )
                if rowcount(taken):
                    job = await session.get_one(AsyncJob, job_id)
                    claimed.append(
                        _Claimed(
                            id=job.id,
                            uuid=job.uuid,
                            attempt=job.attempts,
                            kind=job.kind or "",
                            user_uuid=job.user_uuid,
                            payload=orjson.loads(job.payload or "{}"),
                            progress=orjson.loads(job.progress or "{}"),
                        )
                    )
        return claimed

    async def _drive(self, job: _Claimed) -> None:
        try:
            handler = self._handlers.get(job.kind)
            if handler is None:
                raise CloudError(f"No handler for jobs of kind {job.kind}")
            if job.attempt > MAX_ATTEMPTS:
                raise CloudError(f"The job was given up after {MAX_ATTEMPTS} attempts")
            payload = _payload(handler, job)
            caller = await self._caller(job.user_uuid)
            run = JobRun(
                self._db,
                self._deps,
                job_id=job.id,
                job_uuid=job.uuid,
                attempt=job.attempt,
                caller=caller,
                progress=job.progress,
            )
            result = await handler.drive(run, payload)
        except LeaseLost:
            log.warning("job %s was taken over by another server", job.uuid)
        except CloudError as error:
            await uninterrupted(self._fail(job, error))
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if resumable(error):
                # A deadlock, or the database went away mid-step: a step commits with its
                # recorded result or not at all. Hand the job back to be resumed from its
                # last step; if the database cannot even take that, the lease runs out.
                log.warning("job %s interrupted by a database error", job.uuid, exc_info=True)
                await uninterrupted(self._release([job.id]))
                return
            log.exception("job %s (%s) failed", job.uuid, job.kind)
            await uninterrupted(self._fail(job, CloudError(_INTERNAL)))
        else:
            await uninterrupted(self._finish(job, JobStatus.SUCCEEDED, 0, result))

    async def _caller(self, user_uuid: str) -> Caller:
        async with self._db.transaction(write=False) as session:
            return await caller_for(session, user_uuid)

    async def _fail(self, job: _Claimed, error: CloudError) -> None:
        """Record ``error`` as the result: ``jobresultcode`` 530, the error's own code inside."""
        body = {"errorcode": error.code, "cserrorcode": error.cs_code, "errortext": str(error)}
        await self._finish(job, JobStatus.FAILED, 530, body)

    async def _finish(
        self, job: _Claimed, status: JobStatus, code: int, body: dict[str, Any]
    ) -> None:
        try:
            async with self._db.transaction() as session:
                await session.execute(
                    update(AsyncJob)
                    .where(
                        AsyncJob.id == job.id,
                        AsyncJob.owner == self.owner,
                        AsyncJob.attempts == job.attempt,
                        AsyncJob.status == JobStatus.PENDING,
                    )
                    .values(
                        status=status,
                        result_code=code,
                        result=orjson.dumps(body).decode(),
                        completed=utcnow(),
                        owner=None,
                        lease_expires=None,
                    )
                )
        except DATABASE_ERRORS:
            log.warning("cannot record the end of job %s; it will be resumed", job.uuid)

    async def renew_leases(self) -> Tick:
        running = list(self._running)
        if not running:
            return Tick("no jobs to renew")
        await self._extend(running)
        return Tick(f"renewed the leases of {len(running)} jobs")

    async def _extend(self, running: list[int]) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                update(AsyncJob)
                .where(
                    AsyncJob.id.in_(running),
                    AsyncJob.owner == self.owner,
                    AsyncJob.status == JobStatus.PENDING,
                )
                .values(lease_expires=await database_now(session) + self._lease)
            )

    async def _release(self, job_ids: list[int]) -> None:
        """Hand unfinished jobs back at shutdown, so another server resumes them at once."""
        if not job_ids:
            return
        try:
            async with self._db.transaction() as session:
                await session.execute(
                    update(AsyncJob)
                    .where(AsyncJob.id.in_(job_ids), AsyncJob.owner == self.owner)
                    .values(owner=None, lease_expires=None)
                )
        except DATABASE_ERRORS:
            log.warning("cannot release %d jobs; their leases will expire", len(job_ids))


def _payload(handler: JobHandler[P], job: _Claimed) -> P:
    """The stored payload as the handler's model; a CloudError naming what does not fit."""
    try:
        return handler.payload.model_validate(job.payload)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, problem['loc'])) or 'payload'}: {problem['msg']}"
            for problem in error.errors()
        )
        raise CloudError(f"The job's payload does not fit a {job.kind} job ({problems})") from None


class _LeaseRenewal:
    """Renews the leases of the jobs its executor drives, well before they run out."""

    name = "job-leases"
    lease = None
    wake_up = None
    run_at_start = False

    def __init__(self, executor: Executor, *, interval: float) -> None:
        self._executor = executor
        self.interval = interval

    async def tick(self) -> Tick:
        return await self._executor.renew_leases()


async def caller_for(session: AsyncSession, user_uuid: str) -> Caller:
    """The caller a job runs as: the user who submitted it."""
    user = await session.scalar(select(User).where(User.uuid == user_uuid))
    if user is None:
        raise CloudError(f"The user {user_uuid} who submitted the job no longer exists")
    account = await session.get_one(Account, user.account_id)
    return Caller.of(user, account)
