"""One declaration per API command: name, parameters, permission, sync/async, response.

Each area module builds a ``CommandSet`` with the ``@commands.command(...)`` decorator;
the registry gathers the sets. The declaration alone drives dispatch, parameter
validation, permission checks and ``listApis``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from altostratus.api.params import Params
from altostratus.api.results import Result, Submitted, payload_of
from altostratus.core.context import ServiceContext
from altostratus.db.models import RoleType
from altostratus.jobs.executor import JobHandler
from altostratus.jobs.run import JobRun

__all__ = [
    "ADMIN",
    "ADMINS",
    "ANYONE",
    "Command",
    "CommandSet",
    "Handler",
    "JobBody",
]

P = TypeVar("P", bound=Params)

Handler = Callable[[ServiceContext, P], Awaitable[Result | Submitted]]
#: Drives a submitted job to its result (``CommandSet.job``).
JobBody = Callable[[JobRun], Awaitable[Result]]

#: Who may call a command (the role of the caller's account).
ADMIN = frozenset({RoleType.ADMIN})
ADMINS = frozenset({RoleType.ADMIN, RoleType.DOMAIN_ADMIN})
ANYONE = frozenset(RoleType)


@dataclass(frozen=True)
class Command(Generic[P]):
    name: str
    description: str
    params: type[P]
    handler: Handler[P]
    allowed: frozenset[RoleType]
    #: The object name in the answer (``zone`` in ``{"zone": {...}}``), for listApis.
    response_name: str
    is_async: bool = False
    #: False for commands that only read, so they need no write lock.
    writes: bool = True
    #: ``login`` alone runs without a caller.
    requires_auth: bool = True
    post_only: bool = False
    related: tuple[str, ...] = ()

    @property
    def reads_replica(self) -> bool:
        """A listing: served by a read replica when one is configured."""
        return not self.writes and self.name.startswith("list")


class CommandSet:
    """The commands of one area, declared with ``@commands.command(...)``."""

    def __init__(self) -> None:
        self._commands: list[Command[Any]] = []
        self.job_handlers: dict[str, JobHandler] = {}

    def command(
        self,
        name: str,
        params: type[P],
        *,
        description: str,
        allowed: frozenset[RoleType],
        response: str,
        is_async: bool = False,
        writes: bool = True,
        requires_auth: bool = True,
        post_only: bool = False,
        related: tuple[str, ...] = (),
    ) -> Callable[[Handler[P]], Handler[P]]:
        def register(handler: Handler[P]) -> Handler[P]:
            self._commands.append(
                Command(
                    name=name,
                    description=description,
                    params=params,
                    handler=handler,
                    allowed=allowed,
                    response_name=response,
                    is_async=is_async,
                    writes=writes,
                    requires_auth=requires_auth,
                    post_only=post_only,
                    related=related,
                )
            )
            return handler

        return register

    def job(self, kind: str) -> Callable[[JobBody], JobBody]:
        """Declare the handler of the jobs of ``kind`` (usually the async command's name)."""

        def register(body: JobBody) -> JobBody:
            async def handler(run: JobRun) -> dict[str, Any]:
                return payload_of(await body(run))

            if kind in self.job_handlers:
                raise ValueError(f"job kind {kind} declared twice")
            self.job_handlers[kind] = handler
            return body

        return register

    def __iter__(self) -> Iterator[Command[Any]]:
        return iter(self._commands)
