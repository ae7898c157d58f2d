"""One declaration per API command: name, parameters, permission, sync/async, response.

Each area module builds a ``CommandSet`` with the ``@commands.command(...)`` decorator;
the registry gathers the sets. The declaration alone drives dispatch, parameter
validation, permission checks and ``listApis``, and an asynchronous command's
declaration carries its job (``Job``): the executor runs the jobs it submits under the
command's name. The declared response (``("zone", ZoneResponse)``: the object's name on
the wire and its model) is what ``listApis`` describes field by field; the dispatcher and
the job runner hold every answer to it (``Command.checked``), so the description cannot
drift from the answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from altostratus.api.params import Params
from altostratus.api.results import (
    ResponseObject,
    Result,
    Single,
    Submitted,
    Success,
    SuccessResponse,
    payload_of,
    with_job,
)
from altostratus.core.context import ServiceContext
from altostratus.db.models import RoleType
from altostratus.jobs.executor import JobHandler
from altostratus.jobs.kinds import JobKind, JobPayload
from altostratus.jobs.run import JobRun
from altostratus.jobs.status import JobStatus

__all__ = [
    "ADMIN",
    "ADMINS",
    "ANYONE",
    "SUCCESS",
    "Command",
    "CommandSet",
    "Handler",
    "Job",
    "Presenter",
    "Response",
    "answer_success",
]

P = TypeVar("P", bound=Params)
R = TypeVar("R")

Handler = Callable[[ServiceContext, P], Awaitable[Result | Submitted]]
#: Shows what a job body returned (a uuid, …) as the job's result; reads, never decides.
Presenter = Callable[[ServiceContext, R], Awaitable[Result]]
#: What a command answers: the object's name on the wire and its model, ``("zone",
#: ZoneResponse)``; an asynchronous command declares what its job's result holds.
Response = tuple[str, type[ResponseObject]]
#: The answer of commands that only succeed: ``{"success": "true"}``.
SUCCESS: Response = ("success", SuccessResponse)

#: Who may call a command (the role of the caller's account).
ADMIN = frozenset({RoleType.ADMIN})
ADMINS = frozenset({RoleType.ADMIN, RoleType.RESOURCE_ADMIN, RoleType.DOMAIN_ADMIN})
ANYONE = frozenset(RoleType)


async def answer_success(_ctx: ServiceContext, _outcome: object) -> Success:
    """The presenter of jobs that answer ``{"success": "true"}``."""
    return Success()


@dataclass(frozen=True)
class Job(Generic[R]):
    """An asynchronous command's job: the kind a service drives, and how its result shows.

    The kind's body (in the command's service) returns a domain value; ``present`` turns
    it into the ``Result`` that ``queryAsyncJobResult`` shows, as a synchronous command's
    handler would answer.
    """

    kind: JobKind[Any, R]
    present: Presenter[R]

    def handler(self, check: Callable[[Result], Result]) -> JobHandler[Any]:
        """``check``: the command's ``checked``, so a result unlike the declaration fails."""

        async def drive(run: JobRun, payload: JobPayload) -> dict[str, Any]:
            outcome = await self.kind.body(run, payload)
            result = check(await run.read(lambda ctx: self.present(ctx, outcome)))
            # Built while the job is still pending, as CloudStack builds it.
            return payload_of(with_job(result, run.job_uuid, JobStatus.PENDING))

        return JobHandler(self.kind.payload, drive)


@dataclass(frozen=True)
class Command(Generic[P]):
    name: str
    description: str
    params: type[P]
    handler: Handler[P]
    allowed: frozenset[RoleType]
    #: The object name in the answer (``zone`` in ``{"zone": {...}}``), for listApis.
    response_name: str
    #: The model of that object (of the job's result, for an asynchronous command).
    response_model: type[ResponseObject]
    is_async: bool = False
    #: False for commands that only read, so they need no write lock.
    writes: bool = True
    #: ``login`` alone runs without a caller.
    requires_auth: bool = True
    post_only: bool = False
    related: tuple[str, ...] = ()
    #: What the command submits (``None``: it answers in its request, even if asynchronous).
    job: Job[Any] | None = None

    @property
    def reads_replica(self) -> bool:
        """A listing: served by a read replica when one is configured."""
        return not self.writes and self.name.startswith("list")

    def checked(self, result: Result) -> Result:
        """``result``, if it answers what the command declares (else a programming error)."""
        if isinstance(result, Success):
            fields = set(payload_of(result)) - set(self.response_model.model_fields)
            if fields:
                raise TypeError(f"{self.name} answers {sorted(fields)}, undeclared")
            return result
        items = [result.item] if isinstance(result, Single) else list(result.items)
        wrong = [type(i).__name__ for i in items if not isinstance(i, self.response_model)]
        if result.name != self.response_name or wrong:
            raise TypeError(
                f"{self.name} declares {self.response_name} ({self.response_model.__name__}) "
                f"but answers {result.name} ({', '.join(wrong) or 'as declared'})"
            )
        return result


class CommandSet:
    """The commands of one area, declared with ``@commands.command(...)``."""

    def __init__(self) -> None:
        self._commands: list[Command[Any]] = []

    def command(
        self,
        name: str,
        params: type[P],
        *,
        description: str,
        allowed: frozenset[RoleType],
        response: Response,
        is_async: bool = False,
        writes: bool = True,
        requires_auth: bool = True,
        post_only: bool = False,
        related: tuple[str, ...] = (),
        job: Job[Any] | None = None,
    ) -> Callable[[Handler[P]], Handler[P]]:
        """``response``: ``(name, model)`` of the answer, or of the job's result if ``job``.

        ``job``: the command submits it, so it is asynchronous and the job takes its name.
        """

        def register(handler: Handler[P]) -> Handler[P]:
            if job is not None:
                job.kind.bind(name)
            self._commands.append(
                Command(
                    name=name,
                    description=description,
                    params=params,
                    handler=handler,
                    allowed=allowed,
                    response_name=response[0],
                    response_model=response[1],
                    is_async=is_async or job is not None,
                    writes=writes,
                    requires_auth=requires_auth,
                    post_only=post_only,
                    related=related,
                    job=job,
                )
            )
            return handler

        return register

    def __iter__(self) -> Iterator[Command[Any]]:
        return iter(self._commands)
