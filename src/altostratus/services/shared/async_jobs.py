"""Asynchronous job rows: the record ``queryAsyncJobResult`` and ``listAsyncJobs`` read.

Most asynchronous commands ``submit`` a job that an executor drives (``jobs.executor``);
the identity commands that finish inside their request ``record_completed`` instead.
"""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from sqlalchemy import select

from altostratus.core.context import ServiceContext
from altostratus.core.paging import Page, PageRequest, paginate
from altostratus.db.models import AsyncJob
from altostratus.errors import InvalidParameter
from altostratus.jobs.kinds import JobKind, JobPayload
from altostratus.jobs.status import JobStatus
from altostratus.services.shared.visibility import owned_rows_filter
from altostratus.timeutil import utcnow

__all__ = ["get_job", "list_jobs", "record_completed", "result_of", "submit"]

P = TypeVar("P", bound=JobPayload)


async def record_completed(
    ctx: ServiceContext,
    *,
    command: str,
    result: dict[str, Any],
    instance_type: str | None,
    instance_uuid: str | None,
) -> AsyncJob:
    caller = ctx.caller
    now = utcnow()
    job = AsyncJob(
        command=command,
        user_uuid=caller.user_uuid,
        account_uuid=caller.account_uuid,
        domain_path=caller.domain_path,
        status=JobStatus.SUCCEEDED,
        result_code=0,
        result=orjson.dumps(result).decode(),
        instance_type=instance_type,
        instance_uuid=instance_uuid,
        created=now,
        completed=now,
    )
    ctx.session.add(job)
    await ctx.session.flush()
    return job


async def submit(
    ctx: ServiceContext,
    kind: JobKind[P, Any],
    payload: P,
    *,
    instance_type: str | None,
    instance_uuid: str | None,
) -> AsyncJob:
    """Record a job for the executor, in the transaction that records its intent.

    The job's command is the one that declares ``kind``, whoever submits it.
    """
    if not isinstance(payload, kind.payload):
        raise TypeError(f"A {kind.name} job takes a {kind.payload.__name__}, not {payload!r}")
    caller = ctx.caller
    job = AsyncJob(
        command=kind.name,
        kind=kind.name,
        payload=payload.model_dump_json(),
        user_uuid=caller.user_uuid,
        account_uuid=caller.account_uuid,
        domain_path=caller.domain_path,
        status=JobStatus.PENDING,
        result_code=0,
        instance_type=instance_type,
        instance_uuid=instance_uuid,
    )
    ctx.session.add(job)
    await ctx.session.flush()
    return job


def result_of(job: AsyncJob) -> dict[str, Any] | None:
    return orjson.loads(job.result) if job.result is not None else None


async def get_job(ctx: ServiceContext, job_uuid: str) -> AsyncJob:
    """The job, if the caller may see it (its own, or within an admin's reach)."""
    visible = owned_rows_filter(
        ctx.caller,
        account_uuid_column=AsyncJob.account_uuid,
        domain_path_column=AsyncJob.domain_path,
        listall=True,
    )
    job = await ctx.session.scalar(select(AsyncJob).where(AsyncJob.uuid == job_uuid, visible))
    if job is None:
        raise InvalidParameter(f"Unable to find a job with jobid {job_uuid}")
    return job


async def list_jobs(ctx: ServiceContext, *, listall: bool, page: PageRequest) -> Page[AsyncJob]:
    visible = owned_rows_filter(
        ctx.caller,
        account_uuid_column=AsyncJob.account_uuid,
        domain_path_column=AsyncJob.domain_path,
        listall=listall,
    )
    query = select(AsyncJob).where(visible).order_by(AsyncJob.id.desc())
    return await paginate(ctx.session, query, page)
