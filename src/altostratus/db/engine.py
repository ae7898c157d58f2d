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
import contextlib
import os
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from prometheus_client import Counter
from sqlalchemy import event, text
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

#: How long a listing waits for the replica to catch up before reading on the primary.
REPLICA_WAIT_SECONDS = 0.5
REPLICA_READS = Counter(
    "altostratus_list_reads_total", "Listings by the database that served them", ["served_by"]
)

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
#: libpq options that asyncpg takes as connect arguments, not in its URL: the argument's
#: name and type.
_LIBPQ_OPTIONS: dict[str, tuple[str, type]] = {
    "target_session_attrs": ("target_session_attrs", str),
    "connect_timeout": ("timeout", float),
}


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
    for option, (argument, convert) in _LIBPQ_OPTIONS.items():
        if option in query:
            value = query[option]
            arguments[argument] = convert(value[-1] if isinstance(value, tuple) else value)
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

    def __init__(self, url: str, *, read_url: str | None = None, echo: bool = False) -> None:
        self.url = async_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.engine = _engine(url, echo=echo)
        if self.is_sqlite:
            _private_sqlite_files(self.url.database)
            _configure_sqlite(self.engine)
        if read_url is not None and self.is_sqlite:
            raise ValueError("a read replica needs PostgreSQL (read_database_url)")
        #: Serves listings (``read_transaction``); None without a replica.
        self.replica = _engine(read_url, echo=echo) if read_url else None
        self._replica_sessions = (
            async_sessionmaker(self.replica, expire_on_commit=False, sync_session_class=AltoSession)
            if self.replica is not None
            else None
        )
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

    @asynccontextmanager
    async def read_transaction(self) -> AsyncIterator[AsyncSession]:
        """A read-only transaction for a listing, on the replica when there is one.

        The replica serves it once it has replayed everything the primary had committed
        when this began: read-your-writes for every caller, whichever server took their
        writes. A replica that lags more than ``REPLICA_WAIT_SECONDS`` or cannot be
        reached leaves the read to the primary.
        """
        session = await self._caught_up_replica_session()
        if session is None:
            REPLICA_READS.labels(served_by="primary").inc()
            async with self.transaction(write=False) as primary_session:
                yield primary_session
            return
        REPLICA_READS.labels(served_by="replica").inc()
        async with session, session.begin():
            yield session

    async def _caught_up_replica_session(self) -> AsyncSession | None:
        if self._replica_sessions is None:
            return None
        async with self.engine.connect() as primary:
            target = await primary.scalar(text("SELECT pg_current_wal_lsn()"))
        session = self._replica_sessions(info=dict(self.session_info))
        deadline = time.monotonic() + REPLICA_WAIT_SECONDS
        try:
            # NULL on a node that is not replaying (a primary): it has everything.
            while not await session.scalar(
                text("SELECT coalesce(pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn), true)"),
                {"lsn": target},
            ):
                if time.monotonic() > deadline:
                    await session.close()
                    return None
                await asyncio.sleep(0.002)
            await session.rollback()  # the listing starts its own transaction
        except DBAPIError:
            await session.close()
            return None
        return session

    async def close(self) -> None:
        await self.engine.dispose()
        if self.replica is not None:
            await self.replica.dispose()


def _engine(url: str, *, echo: bool) -> AsyncEngine:
    """An engine for ``url``; for PostgreSQL a pool that finds the primary after failover."""
    if async_url(url).get_backend_name() == "sqlite":
        return create_async_engine(async_url(url), echo=echo)
    engine = create_async_engine(
        async_url(url),
        echo=echo,
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=True,
        connect_args=connect_arguments(url),
    )
    install_failover_handling(engine)
    return engine


def _private_sqlite_files(database: str | None) -> None:
    """The database file, created 0600 before SQLite opens it, and its companions 0600.

    SQLite gives the WAL, shared-memory and journal files it creates the database file's
    own mode, so creating the file private keeps all of them private; files an older
    version left readable are fixed here too.
    """
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    if not os.path.isdir(os.path.dirname(database) or "."):
        return  # SQLite itself reports the missing directory, with the path
    os.close(os.open(database, os.O_WRONLY | os.O_CREAT, 0o600))
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(database + suffix, 0o600)


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
