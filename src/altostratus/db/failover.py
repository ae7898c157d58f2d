"""Surviving a PostgreSQL failover: which errors mean "the primary went away", and retries.

Under Patroni a failover shows up in the application as a lost connection, a refused
connection while no node is primary yet, or a connection to a node that was demoted and
now refuses writes. Each of these means: throw the connection away and run the whole
transaction again on a fresh one, which the multi-host URL
(``target_session_attrs=read-write``) points at the new primary.

One case is not safe to retry: the connection was lost while COMMIT was in flight. The
commit may have reached the synchronous standby that is now the primary, or not; the
server answers that the outcome is unknown rather than run the change twice or call it
undone (``CommitOutcomeUnknown``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from asyncpg.exceptions import InternalClientError, TargetServerAttributeNotMatched
from sqlalchemy import event
from sqlalchemy.engine import Dialect, ExceptionContext
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = [
    "DATABASE_ERRORS",
    "CommitOutcomeUnknown",
    "DatabaseUnavailable",
    "install_failover_handling",
    "is_failover",
    "is_transient",
    "resumable",
    "retry_on_failover",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The server shut down, crashed, is still starting, or is a standby refusing writes.
_FAILOVER_STATES = frozenset({"57P01", "57P02", "57P03", "25006"})
#: Serialization failure and deadlock: the same transaction may simply run again.
_CONFLICT_STATES = frozenset({"40001", "40P01"})
#: What asyncpg raises when no node of the URL accepts a connection as primary.
_UNREACHABLE = (OSError, TimeoutError, TargetServerAttributeNotMatched)
#: The first pause between tries, and the longest.
_FIRST_DELAY = 0.1
_MAX_DELAY = 2.0


class CommitOutcomeUnknown(Exception):
    """The connection was lost while COMMIT was in flight: the change may or may not be in."""


#: What a background loop treats as "the database is unavailable this time round".
DATABASE_ERRORS = (DBAPIError, CommitOutcomeUnknown)


class DatabaseUnavailable(Exception):
    """No writable database was reachable for as long as a request may wait."""


def _sqlstate(error: DBAPIError) -> str | None:
    state = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    return str(state) if state else None


def is_failover(error: BaseException) -> bool:
    """Whether ``error`` says the primary went away, so a fresh connection may succeed.

    SQLite never fails over; its errors (a locked file, a broken statement) are not this.
    """
    if not isinstance(error, DBAPIError) or error.orig is None:
        return False
    if error.connection_invalidated:
        return True
    if isinstance(error.orig.__cause__, _UNREACHABLE):
        return True  # no node accepted the connection (see ``install_failover_handling``)
    state = _sqlstate(error)
    return state is not None and (state.startswith("08") or state in _FAILOVER_STATES)


def is_transient(error: DBAPIError) -> bool:
    """Whether ``error`` says "try again" (failover, deadlock, SQLite's busy lock), not
    "this is wrong"."""
    if is_failover(error) or _sqlstate(error) in _CONFLICT_STATES:
        return True
    return isinstance(error, OperationalError) and "database is locked" in str(error.orig)


def resumable(error: BaseException) -> bool:
    """Whether work that records its progress step by step may resume after ``error``.

    A step either committed with its recorded result or did not, so after a transient
    error, or a commit of unknown outcome, replaying from the last recorded step is safe.
    """
    if isinstance(error, CommitOutcomeUnknown):
        return True
    return isinstance(error, DBAPIError) and is_transient(error)


def install_failover_handling(engine: AsyncEngine) -> None:
    """Make every sign of a failover a disconnect SQLAlchemy understands.

    - A refused or timed-out connection (every node down, or none primary yet) is raised
      by asyncpg as ``OSError`` or its own client error; it becomes the driver's
      ``OperationalError``, so callers see one kind of database error.
    - A demoted primary still answers queries but refuses writes (25006), a server
      shutting down says 57P01, and a server that died mid-answer can leave asyncpg's
      protocol in a state it refuses to leave: the connection is invalidated, with the
      rest of the pool, so the next transaction connects afresh and finds the new primary.
    """

    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(dialect: Dialect, _record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except _UNREACHABLE as error:
            dbapi: Any = dialect.loaded_dbapi
            raise dbapi.OperationalError(f"no writable database reachable: {error}") from error

    @event.listens_for(engine.sync_engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        error = context.sqlalchemy_exception
        if not isinstance(error, DBAPIError):
            return
        # asyncpg's protocol can be left mid-answer by a server that died ("cannot switch
        # to state 12"): that connection is as gone as a closed one.
        broken = isinstance(context.original_exception.__cause__, InternalClientError)
        if broken or _sqlstate(error) in _FAILOVER_STATES:
            context.is_disconnect = True
            context.invalidate_pool_on_disconnect = True


async def retry_on_failover(operation: Callable[[], Awaitable[T]], *, seconds: float) -> T:
    """Run ``operation`` (one whole transaction) until it gets past a failover.

    Tries again with capped exponential backoff for ``seconds``, longer than a failover
    takes; then raises ``DatabaseUnavailable``. ``CommitOutcomeUnknown`` is never retried.
    """
    deadline = time.monotonic() + seconds
    delay = _FIRST_DELAY
    tries = 1
    while True:
        try:
            return await operation()
        except DBAPIError as error:
            if not is_failover(error):
                raise
            if time.monotonic() + delay > deadline:
                raise DatabaseUnavailable(
                    f"no writable database for {seconds:g} s ({tries} tries)"
                ) from error
            log.warning(
                "database failover? try %d failed (%s); again in %.1f s", tries, error.orig, delay
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, _MAX_DELAY)
        tries += 1
