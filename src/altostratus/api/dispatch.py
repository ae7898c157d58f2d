"""From a parsed request to a result: authenticate, look up, authorise, validate, run.

One request is one database transaction, so a command's changes, its event rows and
(for asynchronous commands) its job row commit together or not at all. That is also what
makes a request safe to run again when the database fails over before its commit: the
whole request is retried on the new primary. A request caught in the commit itself is
answered with 530 saying the outcome is unknown, never reported as done or not done.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.api.auth import authenticate
from altostratus.api.declarations import Command
from altostratus.api.params import NothingMatches, parse_params, string_values
from altostratus.api.registry import Registry
from altostratus.api.results import Result, Single, Submitted, payload_of
from altostratus.core.configuration import service_context
from altostratus.core.context import Caller, Dependencies, ServiceContext
from altostratus.db.engine import Database
from altostratus.db.failover import CommitOutcomeUnknown, DatabaseUnavailable, retry_on_failover
from altostratus.errors import (
    CloudError,
    InvalidParameter,
    MethodNotAllowed,
    PermissionDenied,
    ResourceUnavailable,
    UnknownCommand,
)
from altostratus.services.identity import role_rules
from altostratus.services.shared import api_limits, async_jobs

__all__ = ["ApiRequest", "Dispatcher", "Outcome"]


@dataclass(frozen=True)
class ApiRequest:
    method: str
    #: Parameters exactly as sent, for the signature.
    signed_params: Mapping[str, str]
    #: Lowercase names, maps folded (``params.collect_params``).
    params: Mapping[str, Any]
    #: The client's address, which failed logins are counted by.
    client_address: str = ""


@dataclass(frozen=True)
class Outcome:
    payload: dict[str, Any]
    cookies: dict[str, str | None]


@dataclass
class _Attempt:
    """What a request's runs share when a database failover makes it run again."""

    #: The request was counted against its account's API limit (once, however many runs).
    counted: bool = False


_UNKNOWN = "The given command does not exist or it is not available for user"
_OUTCOME_UNKNOWN = (
    "The database connection was lost while committing this request (a database failover?): "
    "it may or may not have been applied. Check with the matching list command before "
    "trying again"
)


class Dispatcher:
    def __init__(self, db: Database, deps: Dependencies, registry: Registry) -> None:
        self._db = db
        self._deps = deps
        self._registry = registry

    async def dispatch(self, request: ApiRequest) -> Outcome:
        name = str(request.params.get("command") or "")
        command = self._registry.get(name)
        if command is not None and command.post_only and request.method != "POST":
            raise MethodNotAllowed(f"Please use HTTP POST to call the {command.name} command")
        attempt = _Attempt()
        try:
            return await retry_on_failover(
                lambda: self._run(name, command, request, attempt),
                seconds=self._deps.settings.database_retry_seconds,
            )
        except DatabaseUnavailable as error:
            raise ResourceUnavailable(
                f"The database is unavailable ({error}); nothing was changed, try again later"
            ) from None
        except CommitOutcomeUnknown:
            raise CloudError(_OUTCOME_UNKNOWN) from None
        except IntegrityError:
            # A service checked for a clash, but a concurrent request committed the same
            # name or id first: the database's unique constraint is the final word.
            raise InvalidParameter(
                "The request conflicts with a concurrent change (an object with the same name "
                "or id was created at the same time); nothing was changed"
            ) from None

    async def _run(
        self, name: str, command: Command[Any] | None, request: ApiRequest, attempt: _Attempt
    ) -> Outcome:
        if command is not None and command.reads_replica:
            transaction = self._db.read_transaction()
        else:
            transaction = self._db.transaction(write=command.writes if command else False)
        kept_error: CloudError | None = None
        async with transaction as session:
            caller: Caller | None = None
            if command is None or command.requires_auth:
                caller = await authenticate(
                    session,
                    self._deps,
                    request.signed_params,
                    string_values(request.params),
                )
            if command is None:
                raise UnknownCommand(f"{_UNKNOWN}: {name}" if name else _UNKNOWN)
            _authorise(command, caller)
            ctx = await service_context(
                session, caller or Caller.anonymous(), self._deps, request.client_address
            )
            if caller is not None:
                await _apply_role_rules(session, command, caller)
                if not attempt.counted:
                    api_limits.admit(ctx)
                    attempt.counted = True
            try:
                params = parse_params(command.name, command.params, request.params)
            except NothingMatches:
                return Outcome({}, {})  # CloudStack's empty list
            try:
                result = await command.handler(ctx, params)
                outcome = await self._outcome(ctx, command, result)
            except CloudError as error:
                if not error.keeps_changes:
                    raise
                kept_error = error
        if kept_error is not None:
            raise kept_error
        if isinstance(result, Submitted):
            self._deps.signals.jobs_submitted()
        return outcome

    async def _outcome(
        self, ctx: ServiceContext, command: Command[Any], result: Result | Submitted
    ) -> Outcome:
        if isinstance(result, Submitted):
            if command.job is None:
                raise TypeError(f"{command.name} submitted a job but declares none")
            job = await async_jobs.submit(
                ctx,
                command.job.kind,
                result.payload,
                instance_type=result.instance_type,
                instance_uuid=result.instance_uuid,
            )
            return Outcome(_job_answer(job.uuid, result.instance_uuid), {})
        cookies = getattr(result, "cookies", {})
        payload = payload_of(command.checked(result))
        if not command.is_async:
            return Outcome(payload, cookies)
        # The command ran to completion inside this request; its job row records the
        # result for queryAsyncJobResult, as clients of async commands poll for it.
        instance_uuid = None
        if isinstance(result, Single):
            instance_uuid = result.item.to_wire().get("id")
        job = await async_jobs.record_completed(
            ctx,
            command=command.name,
            result=payload,
            instance_type=command.response_name if instance_uuid else None,
            instance_uuid=instance_uuid,
        )
        return Outcome(_job_answer(job.uuid, instance_uuid), cookies)


def _job_answer(job_uuid: str, instance_uuid: str | None) -> dict[str, Any]:
    answer: dict[str, Any] = {"jobid": job_uuid}
    if instance_uuid is not None:
        answer["id"] = instance_uuid
    return answer


async def _apply_role_rules(session: AsyncSession, command: Command[Any], caller: Caller) -> None:
    """A custom role's rules narrow what its type allows (``services/identity/role_rules``)."""
    if (await role_rules.rules_of(session, caller.role_id)).denies(command.name):
        raise PermissionDenied(
            f"The API {command.name} is not available for account {caller.account_name}: "
            "its role's permission rules deny it"
        )


def _authorise(command: Command[Any], caller: Caller | None) -> None:
    if caller is not None and caller.role_type not in command.allowed:
        raise PermissionDenied(
            f"Account {caller.account_name} is not allowed to call {command.name}: "
            f"it needs the role {' or '.join(sorted(r.value for r in command.allowed))}"
        )
