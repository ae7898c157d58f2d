"""What a job handler is given: idempotent steps, host commands, and its caller.

A job body is written as straight-line code, but every side effect goes through
``step`` or ``host_command``. Each step commits its changes together with its recorded
result, and only while this server still holds the job's lease; a server that resumes
the job after a crash calls the body again from the top and gets the recorded results
back instead of doing the steps a second time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeAlias, TypeVar, overload

import orjson
from pydantic import TypeAdapter
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.core.configuration import service_context
from altostratus.core.context import Caller, Dependencies, ServiceContext
from altostratus.core.leases import uninterrupted
from altostratus.db.clock import database_now
from altostratus.db.engine import Database
from altostratus.db.models import AsyncJob, HostCommand
from altostratus.db.models.hosts import CommandState
from altostratus.db.rows import rowcount
from altostratus.errors import CloudError, ResourceUnavailable
from altostratus.jobs.status import JobStatus
from altostratus.timeutil import utcnow

__all__ = ["AgentCommandFailed", "JobRun", "LeaseLost"]

#: What a step may return as it is: recorded in the job's progress unchanged.
Json: TypeAlias = str | int | float | bool | Sequence["Json"] | Mapping[str, "Json"] | None
J = TypeVar("J", bound=Json)
T = TypeVar("T")

#: How often a waiting job looks at its command when no in-process signal comes.
_COMMAND_POLL_SECONDS = 1.0


class LeaseLost(Exception):
    """Another server took the job over; this one must stop driving it at once."""


class AgentCommandFailed(CloudError):
    """The host's agent answered a command with an error."""

    code = 530
    cs_code = 4250


class JobRun:
    def __init__(
        self,
        db: Database,
        deps: Dependencies,
        *,
        job_id: int,
        job_uuid: str,
        attempt: int,
        caller: Caller,
        progress: dict[str, Any],
    ) -> None:
        self.db = db
        self.deps = deps
        self.job_id = job_id
        self.job_uuid = job_uuid
        self._attempt = attempt
        self.caller = caller
        self._progress = progress

    @overload
    async def step(self, name: str, action: Callable[[ServiceContext], Awaitable[J]]) -> J: ...

    @overload
    async def step(
        self, name: str, action: Callable[[ServiceContext], Awaitable[T]], result_type: type[Any]
    ) -> T: ...

    async def step(
        self,
        name: str,
        action: Callable[[ServiceContext], Awaitable[Any]],
        result_type: type[Any] | None = None,
    ) -> Any:
        """Run ``action`` once in its own transaction and record its result.

        The recorded result is returned when the step already ran (a resumed job).
        Without ``result_type`` the result is recorded as it is, so it must be JSON; with
        one (a dataclass or a pydantic model: what ``action`` returns) it is recorded as
        that type's JSON and given back as an instance, so a body reads
        ``placed.host_id`` whether the step ran now or before a restart. ``None`` (a step
        that found nothing to do) is recorded as null either way.
        """
        if name in self._progress:
            recorded = self._progress[name]
            if result_type is None or recorded is None:
                return recorded
            return TypeAdapter(result_type).validate_python(recorded)

        async def run_step() -> Any:
            async with self.db.transaction() as session:
                result = await action(await service_context(session, self.caller, self.deps))
                recorded = result
                if result_type is not None and result is not None:
                    if not isinstance(result, result_type):
                        raise TypeError(f"Step {name} returned {result!r}, not a {result_type}")
                    recorded = TypeAdapter(result_type).dump_python(result, mode="json")
                progress = {**self._progress, name: recorded}
                await self._record(session, progress)
            self._progress = progress
            return result

        # A shutdown stops the job between steps, never half-way through one.
        return await uninterrupted(run_step())

    async def read(self, action: Callable[[ServiceContext], Awaitable[T]]) -> T:
        """Run ``action`` in a read-only transaction; nothing is recorded."""
        async with self.db.transaction(write=False) as session:
            return await action(await service_context(session, self.caller, self.deps))

    async def host_command(
        self,
        name: str,
        host_id: int,
        kind: str,
        payload: dict[str, Any],
        *,
        answer_within: float | None = None,
    ) -> dict[str, Any]:
        """Queue a command for a host's agent (once) and wait for its answer.

        Raises ``AgentCommandFailed`` with the agent's error text, or
        ``ResourceUnavailable`` (534) when no answer came within ``answer_within`` seconds (the
        command is then cancelled, so a late agent does not run it).
        """
        (outcome,) = await self.host_commands(
            name, [(host_id, kind, payload)], answer_within=answer_within
        )
        if isinstance(outcome, CloudError):
            raise outcome
        return outcome

    async def host_commands(
        self,
        name: str,
        commands: Sequence[tuple[int, str, dict[str, Any]]],
        *,
        answer_within: float | None = None,
    ) -> list[dict[str, Any] | CloudError]:
        """Queue ``(host id, kind, payload)`` commands in one step; wait for every answer.

        For asking several hosts at once (an HA investigation's neighbours): each
        outcome is the answer, or the ``AgentCommandFailed``/``ResourceUnavailable``
        that ``host_command`` would have raised, in the order of ``commands``.
        """

        async def queue(ctx: ServiceContext) -> list[str]:
            # The answers' deadline counts from here, possibly on another server.
            now = await database_now(ctx.session)
            queued = [
                HostCommand(
                    host_id=host_id,
                    job_id=self.job_id,
                    kind=kind,
                    payload=orjson.dumps(payload).decode(),
                    created=now,
                )
                for host_id, kind, payload in commands
            ]
            ctx.session.add_all(queued)
            await ctx.session.flush()
            return [command.uuid for command in queued]

        recorded: list[str] | str = await self.step(name, queue)
        # A job queued by a server before batches recorded a single command's uuid.
        command_uuids = [recorded] if isinstance(recorded, str) else recorded
        self.deps.signals.commands_queued()
        limit = (
            answer_within if answer_within is not None else self.deps.settings.agent_command_timeout
        )
        outcomes: list[dict[str, Any] | CloudError] = []
        for command_uuid in command_uuids:
            try:
                outcomes.append(await self._answer(command_uuid, limit))
            except (AgentCommandFailed, ResourceUnavailable) as error:
                outcomes.append(error)
        return outcomes

    async def _answer(self, command_uuid: str, limit: float) -> dict[str, Any]:
        while True:
            command, now = await uninterrupted(self._command(command_uuid))
            if command.state in (CommandState.DONE, CommandState.FAILED):
                return _outcome(command)
            remaining = (command.created + timedelta(seconds=limit) - now).total_seconds()
            if remaining <= 0:
                return await self._cancel(command_uuid)
            await self.deps.signals.wait_for_command(
                command_uuid, min(remaining, _COMMAND_POLL_SECONDS)
            )

    async def _command(self, command_uuid: str) -> tuple[HostCommand, datetime]:
        """The command as it stands, and the database's time to judge its deadline by."""
        async with self.db.transaction(write=False) as session:
            command = await session.scalar(
                select(HostCommand).where(HostCommand.uuid == command_uuid)
            )
            assert command is not None, f"host command {command_uuid} vanished"
            return command, await database_now(session)

    async def _cancel(self, command_uuid: str) -> dict[str, Any]:
        async with self.db.transaction() as session:
            cancelled = await session.execute(
                update(HostCommand)
                .where(
                    HostCommand.uuid == command_uuid,
                    HostCommand.state.in_([CommandState.PENDING, CommandState.SENT]),
                )
                .values(
                    state=CommandState.FAILED,
                    result=orjson.dumps({"error": "no answer from the host's agent"}).decode(),
                    completed=utcnow(),
                )
            )
            command = await session.scalar(
                select(HostCommand).where(HostCommand.uuid == command_uuid)
            )
        assert command is not None
        if rowcount(cancelled):
            raise ResourceUnavailable(
                f"The host did not answer the {command.kind} command in time; "
                "its agent may be disconnected"
            )
        return _outcome(command)

    async def _record(self, session: AsyncSession, progress: dict[str, Any]) -> None:
        lease = timedelta(seconds=self.deps.settings.job_lease_seconds)
        recorded = await session.execute(
            update(AsyncJob)
            .where(
                AsyncJob.id == self.job_id,
                AsyncJob.owner == self.deps.server_id,
                AsyncJob.attempts == self._attempt,
                AsyncJob.status == JobStatus.PENDING,
            )
            .values(
                progress=orjson.dumps(progress).decode(),
                lease_expires=await database_now(session) + lease,
            )
        )
        if not rowcount(recorded):
            raise LeaseLost(self.job_uuid)


def _outcome(command: HostCommand) -> dict[str, Any]:
    answer: dict[str, Any] = orjson.loads(command.result) if command.result else {}
    if command.state == CommandState.FAILED:
        raise AgentCommandFailed(str(answer.get("error") or f"{command.kind} failed on the host"))
    return answer
