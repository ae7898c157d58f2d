"""``queryAsyncJobResult`` and ``listAsyncJobs``."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from altostratus.api.declarations import ANYONE, CommandSet
from altostratus.api.params import ListParams, Params, Uuid, page_request
from altostratus.api.results import ListResult, ResponseObject, Single
from altostratus.core.context import ServiceContext
from altostratus.db.models import AsyncJob
from altostratus.services.shared import async_jobs
from altostratus.timeutil import format_timestamp

__all__ = [
    "JobResponse",
    "ListJobsParams",
    "QueryJobParams",
    "commands",
    "job_view",
    "list_async_jobs",
    "query_async_job_result",
]

commands = CommandSet()


class JobResponse(ResponseObject):
    jobid: str
    cmd: str
    userid: str
    accountid: str
    jobstatus: int
    jobprocstatus: int = 0
    jobresultcode: int
    jobresulttype: str = "object"
    jobresult: dict[str, Any] | None = None
    jobinstancetype: str | None = None
    jobinstanceid: str | None = None
    created: str
    completed: str | None = None


def job_view(job: AsyncJob) -> JobResponse:
    return JobResponse(
        jobid=job.uuid,
        cmd=job.command,
        userid=job.user_uuid,
        accountid=job.account_uuid,
        jobstatus=job.status,
        jobresultcode=job.result_code,
        jobresult=async_jobs.result_of(job),
        jobinstancetype=job.instance_type,
        jobinstanceid=job.instance_uuid,
        created=format_timestamp(job.created),
        completed=format_timestamp(job.completed) if job.completed else None,
    )


class QueryJobParams(Params):
    jobid: Uuid = Field(description="The id of the asynchronous job")


@commands.command(
    "queryAsyncJobResult",
    QueryJobParams,
    description="Retrieves the current status of an asynchronous job",
    allowed=ANYONE,
    response=("asyncjobs", JobResponse),
    writes=False,
)
async def query_async_job_result(ctx: ServiceContext, p: QueryJobParams) -> Single:
    return Single("asyncjobs", job_view(await async_jobs.get_job(ctx, p.jobid)), flat=True)


class ListJobsParams(ListParams):
    pass


@commands.command(
    "listAsyncJobs",
    ListJobsParams,
    description="Lists asynchronous jobs",
    allowed=ANYONE,
    response=("asyncjobs", JobResponse),
    writes=False,
)
async def list_async_jobs(ctx: ServiceContext, p: ListJobsParams) -> ListResult:
    page = await async_jobs.list_jobs(
        ctx,
        listall=p.listall,
        page=page_request(ctx, p),
    )
    return ListResult("asyncjobs", [job_view(job) for job in page.items], page.total)
