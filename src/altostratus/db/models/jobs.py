"""Asynchronous jobs: what ``queryAsyncJobResult`` answers from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from altostratus.db.models.base import PublicEntity

__all__ = ["AsyncJob"]


class AsyncJob(PublicEntity):
    __tablename__ = "async_jobs"

    command: Mapped[str] = mapped_column(String(128))
    user_uuid: Mapped[str] = mapped_column(String(36))
    account_uuid: Mapped[str] = mapped_column(String(36), index=True)
    domain_path: Mapped[str] = mapped_column(String(1024))
    #: ``jobs.status.JobStatus``: 0 pending, 1 succeeded, 2 failed (CloudStack's ``jobstatus``).
    status: Mapped[int] = mapped_column(Integer, default=0, index=True)
    result_code: Mapped[int] = mapped_column(Integer, default=0)
    #: The JSON result object (``{"account": {...}}`` or an error body).
    result: Mapped[str | None] = mapped_column(Text)
    instance_type: Mapped[str | None] = mapped_column(String(64))
    instance_uuid: Mapped[str | None] = mapped_column(String(36))
    completed: Mapped[datetime | None]
    #: The job's kind (``jobs.kinds``): its command's name; ``None`` for a job finished at
    #: submit.
    kind: Mapped[str | None] = mapped_column(String(64))
    #: The JSON of the kind's payload model, fixed at submit.
    payload: Mapped[str | None] = mapped_column(Text)
    #: JSON results of the steps done so far: a resumed job skips them.
    progress: Mapped[str | None] = mapped_column(Text)
    #: The management server driving the job, until ``lease_expires``.
    owner: Mapped[str | None] = mapped_column(String(255))
    lease_expires: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
