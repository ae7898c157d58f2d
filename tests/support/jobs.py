"""Waiting for asynchronous jobs in API tests, as ``cs``'s ``fetch_result`` does.

Jobs run in the server's executor, not in the request, so a test polls
``queryAsyncJobResult`` until the job leaves the pending state.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from altostratus.jobs.status import JobStatus
from tests.support.client import ApiClient

__all__ = ["run_job", "wait_job"]

_POLL_INTERVAL = 0.05


async def wait_job(client: ApiClient, jobid: str, *, within: float = 30) -> dict[str, Any]:
    """The ``queryAsyncJobResult`` body once the job is finished (succeeded or failed)."""
    deadline = time.monotonic() + within
    while True:
        body = await client.ok("queryAsyncJobResult", jobid=jobid)
        if body["jobstatus"] != JobStatus.PENDING:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"job {jobid} still pending after {within}s: {body}")
        await asyncio.sleep(_POLL_INTERVAL)


async def run_job(client: ApiClient, command: str, **params: Any) -> dict[str, Any]:
    """Call an asynchronous command, wait for its job and return its ``jobresult``.

    Asserts that the job succeeded, so a failure shows the job's error text.
    """
    answer = await client.ok(command, **params)
    body = await wait_job(client, answer["jobid"])
    failed = f"{command} job failed: {body.get('jobresult')}"
    assert body["jobstatus"] == JobStatus.SUCCEEDED, failed
    result: dict[str, Any] = body["jobresult"]
    return result
