"""What a command handler returns, and the response objects it is built from.

The handler says *what* to answer (one object, a page, plain success); ``render``
decides how (JSON or XML, under ``<command>response``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from altostratus.jobs.kinds import JobPayload

__all__ = [
    "ListResult",
    "ResponseObject",
    "Result",
    "Single",
    "Submitted",
    "Success",
    "SuccessResponse",
    "payload_of",
    "with_job",
]


class ResponseObject(BaseModel):
    """A CloudStack response object; ``None`` fields are left out of the answer.

    ``jobid`` and ``jobstatus`` are CloudStack's fields of every response: the job still
    acting on the object. The result of an asynchronous job carries them (its own job,
    pending while it builds the result: ``with_job``), as CloudStack's answers do.
    """

    model_config = ConfigDict(frozen=True)

    jobid: str | None = Field(
        None,
        description="the id of the asynchronous job acting on the object; "
        "queryAsyncJobResult answers the other fields under jobresult",
    )
    jobstatus: int | None = Field(
        None, description="the status of that job: 0 pending, 1 succeeded, 2 failed"
    )

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


@dataclass(frozen=True)
class Single:
    """``{"<name>": {...}}``; ``flat`` puts the fields at the top level (``loginresponse``)."""

    name: str
    item: ResponseObject
    flat: bool = False
    #: Cookies to set with the answer (``None`` clears one): login and logout only.
    cookies: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class ListResult:
    """``{"count": total, "<name>": [...]}``; ``count`` is every match, not the page."""

    name: str
    items: Sequence[ResponseObject]
    count: int
    #: Further lists beside the items, under their own names: the regions a cross-region
    #: listing could not reach (``missingregion``), never left out silently.
    extra: Mapping[str, Sequence[ResponseObject]] = field(default_factory=dict)


@dataclass(frozen=True)
class Success:
    """``{"success": "true"}``: a string, as CloudStack sends and libcloud compares."""

    display_text: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    cookies: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Submitted:
    """An asynchronous command's intent: the executor runs the command's job with ``payload``.

    The answer is ``{"jobid": ..., "id": instance_uuid}``; the job declared with the
    command (``declarations.Job``) produces the result ``queryAsyncJobResult`` shows.
    """

    payload: JobPayload
    #: The object the job creates or acts on (``VirtualMachine`` and its uuid).
    instance_type: str | None = None
    instance_uuid: str | None = None


class SuccessResponse(ResponseObject):
    """What a ``Success`` answers, described for ``listApis`` (never built: ``Success`` is)."""

    success: bool = Field(description="true if the operation succeeded")
    displaytext: str | None = Field(None, description="any text associated with the success")


Result = Single | ListResult | Success


def with_job(result: Result, job_uuid: str, status: int) -> Result:
    """``result`` with ``jobid`` and ``jobstatus`` set on the objects it answers."""
    job = {"jobid": job_uuid, "jobstatus": int(status)}
    if isinstance(result, Single):
        return replace(result, item=result.item.model_copy(update=job))
    if isinstance(result, ListResult):
        return replace(result, items=[item.model_copy(update=job) for item in result.items])
    return result


def payload_of(result: Result) -> dict[str, Any]:
    """The body under ``<command>response``."""
    if isinstance(result, Single):
        wire = result.item.to_wire()
        return wire if result.flat else {result.name: wire}
    if isinstance(result, ListResult):
        extra = {name: [item.to_wire() for item in items] for name, items in result.extra.items()}
        if not result.items:
            return extra
        return {
            "count": result.count,
            result.name: [item.to_wire() for item in result.items],
            **extra,
        }
    body: dict[str, Any] = {"success": "true", **result.extra}
    if result.display_text is not None:
        body["displaytext"] = result.display_text
    return body
