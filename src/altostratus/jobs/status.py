"""The states of a job, as CloudStack numbers them: clients poll ``jobstatus`` for them."""

from __future__ import annotations

import enum

__all__ = ["JobStatus"]


class JobStatus(enum.IntEnum):
    """``async_jobs.status`` and ``queryAsyncJobResult``'s ``jobstatus``."""

    PENDING = 0
    SUCCEEDED = 1
    FAILED = 2
