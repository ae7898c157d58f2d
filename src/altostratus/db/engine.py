"""The database handle: one async engine per process, transactions as context managers.

SQLite is the embedded default and PostgreSQL the multi-server one; both are driven
through SQLAlchemy's async engine so the services never see the difference.

A PostgreSQL URL may name every node of a Patroni cluster in libpq's form
(``postgresql://u:p@db1:5432,db2:5432/alto?target_session_attrs=read-write``): the
server connects to whichever node is the primary, and after a failover to the new one
(``db/failover.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from altostratus.db.failover import CommitOutcomeUnknown, install_failover_handling, is_failover

__all__ = ["AltoSession", "Database", "async_url", "connect_arguments"]

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
#: libpq options that asyncpg takes as connect arguments, not in its URL.
_LIBPQ_OPTIONS = {"target_session_attrs": str, "connect_timeout": float}
_ASYNCPG_NAMES = {"target_session_attrs": "target_session_attrs", "connect_timeout": "timeout"}


def async_url(url: str) -> URL:
    """Map the URL an operator writes (``postgresql://…``, ``sqlite:///…``) to its async driver.

    libpq's multi-host form becomes SQLAlchemy's (``?host=db1:5432&host=db2:5432``);
    the options ``connect_arguments`` takes are left out.
    """
    parsed = _parse(url)
    backend = parsed.get_backend_name()
    if backend not in _ASYNC_DRIVERS:
        raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
    return parsed.set(drivername=_ASYNC_DRIVERS[backend]).difference_update_query(_LIBPQ_OPTIONS)


def connect_arguments(url: str) -> dict[str, Any]:
    """asyncpg's arguments for the libpq options of ``url`` (``connect_timeout=2`` →
    ``timeout=2.0``), so an operator's libpq URL means the same here as in ``psql``."""
    query = _parse(url).query
    arguments: dict[str, Any] = {}
    for option, convert in _LIBPQ_OPTIONS.items():
        if option in query:
            value = query[option]
            arguments[_ASYNCPG_NAMES[option]] = convert(
                value[-1] if isinstance(value, tuple) else value
            )
    return arguments


def _parse(url: str) -> URL:
    """``make_url``, plus libpq's comma-separated host list, which it cannot read."""
    parts = urlsplit(url)
    userinfo, _, hosts = parts.netloc.rpartition("@")
    if "," not in hosts:
        return make_url(url)
    user, _, password = userinfo.partition(":")
    query: dict[str, Any] = {}
    for key, value in parse_qsl(parts.query):
        query.setdefault(key, []).append(value)
    # asyncpg needs every host's port: libpq's default stands in where it is left out.
    query["host"] = [host if ":" in host else f"{host}:5432" for host in hosts.split(",")]
    return URL.create(
        parts.scheme,
        username=unquote(user) or None,
        password=unquote(password) or None,
        database=parts.path.lstrip("/") or None,
        query={key: values[0] if len(values) == 1 else values for key, values in query.items()},
    )


class AltoSession(Session):
    """The sync session behind every ``AsyncSession``: the class flush listeners attach to."""


class Database:
    """Owns the engine; ``transaction()`` is the unit of work of every service call."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = async_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        options: dict[str, Any] = {"echo": echo}
        if not self.is_sqlite:
            options.update(
                pool_size=10,
                max_overflow=20,
                pool_pre_ping=True,
                connect_args=connect_arguments(url),
            )
        self.engine: AsyncEngine = create_async_engine(self.url, **options)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        else:
            install_failover_handling(self.engine)
        #: Copied into every session's ``info`` (the federation outbox lives here).
        self.session_info: dict[str, Any] = {}
        self._sessions = async_sessionmaker(
            self.engine, expire_on_commit=False, sync_session_class=AltoSession
        )
        # On SQLite a writer must take the write lock when it begins (BEGIN IMMEDIATE),
        # or two transactions that both read then write deadlock instead of waiting.
        self._write_sessions = async_sessionmaker(
            self.engine.execution_options(sqlite_begin="IMMEDIATE"),
            expire_on_commit=False,
            sync_session_class=AltoSession,
        )
        # SQLite has one writer at a time. Writers of this process queue here, in order,
        # instead of in SQLite's busy handler, which sleeps between tries and makes the
        # slowest of many concurrent writers wait seconds. Other processes (``workers``)
        # still meet at the database lock.
        self._sqlite_writer = asyncio.Lock() if self.is_sqlite else None

    @asynccontextmanager
    async def transaction(self, *, write: bool = True, **info: Any) -> AsyncIterator[AsyncSession]:
        """Run one transaction: committed when the block ends, rolled back if it raises.

        ``info`` marks the transaction for session listeners (``replicating=True``).
        A write whose connection is lost during COMMIT raises ``CommitOutcomeUnknown``:
        unlike a failure before it, running it again could apply it twice.
        """
        sessions = self._write_sessions if write else self._sessions
        committing = False
        try:
            async with AsyncExitStack() as stack:
                if write and self._sqlite_writer is not None:
                    await stack.enter_async_context(self._sqlite_writer)
                session = await stack.enter_async_context(
                    sessions(info={**self.session_info, **info})
                )
                await stack.enter_async_context(session.begin())
                yield session
                committing = write
        except DBAPIError as error:
            if committing and is_failover(error):
                raise CommitOutcomeUnknown(str(error.orig)) from error
            raise

    async def close(self) -> None:
        await self.engine.dispose()


def _configure_sqlite(engine: AsyncEngine) -> None:
    """Let SQLAlchemy, not the driver, issue BEGIN; turn on WAL and foreign keys."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "")
        connection.exec_driver_sql(f"BEGIN {mode}".strip())
