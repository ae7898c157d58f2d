"""Surviving a PostgreSQL failover: the multi-host URL, and API requests retried across it.

A real Patroni failover is in ``tests/ha``; here one PostgreSQL plays the demoted primary
(``default_transaction_read_only`` on, every connection cut) and then the new primary.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from starlette.applications import Starlette

from altostratus.api.app import create_app
from altostratus.db.engine import Database, async_url, connect_arguments
from altostratus.settings import Settings
from tests.conftest import test_settings as settings_for
from tests.support.client import ApiClient
from tests.support.postgres import TemporaryPostgres, free_port
from tests.support.world import Identity


def test_a_libpq_multi_host_url_names_every_node() -> None:
    url = (
        "postgresql://alto:p%40ss@db1:5432,db2,db3:6432/alto"
        "?target_session_attrs=read-write&connect_timeout=2"
    )
    parsed = async_url(url)
    assert parsed.drivername == "postgresql+asyncpg"
    assert parsed.query["host"] == ("db1:5432", "db2:5432", "db3:6432")
    assert (parsed.username, parsed.password, parsed.database) == ("alto", "p@ss", "alto")
    assert "target_session_attrs" not in parsed.query
    assert connect_arguments(url) == {"target_session_attrs": "read-write", "timeout": 2.0}
    assert connect_arguments("postgresql://alto@db1/alto") == {}


async def test_the_multi_host_url_skips_a_node_that_is_down(postgres: TemporaryPostgres) -> None:
    dead = free_port()
    url = (
        f"postgresql://alto@127.0.0.1:{dead},127.0.0.1:{postgres.port}/postgres"
        "?target_session_attrs=read-write&connect_timeout=1"
    )
    db = Database(url)
    try:
        async with db.transaction() as session:
            assert await session.scalar(text("SHOW transaction_read_only")) == "off"
    finally:
        await db.close()


@asynccontextmanager
async def _superuser(settings: Settings) -> AsyncIterator[AsyncConnection]:
    assert settings.database_url is not None
    engine = create_async_engine(async_url(settings.database_url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            yield connection
    finally:
        await engine.dispose()


async def _set_read_only(admin: AsyncConnection, database: str, read_only: bool) -> None:
    """Turn the database into a standby's look-alike (or back), cutting every connection
    as a failover does; ``admin`` keeps its session, opened before."""
    value = "on" if read_only else "off"
    await admin.execute(
        text(f"ALTER DATABASE {database} SET default_transaction_read_only = {value}")
    )
    await admin.execute(
        text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = :name AND pid <> pg_backend_pid()"
        ),
        {"name": database},
    )


def _postgres_only(app: Starlette) -> str:
    db: Database = app.state.runtime.db
    if db.is_sqlite:
        pytest.skip("SQLite has no failover")
    assert db.url.database is not None
    return db.url.database


async def test_a_write_caught_by_a_failover_is_retried_on_the_new_primary(
    app: Starlette, api: ApiClient, settings: Settings
) -> None:
    name = _postgres_only(app)
    async with _superuser(settings) as admin:
        await _set_read_only(admin, name, True)
        try:
            request = asyncio.create_task(api.call("createDomain", name="failover-domain"))
            await asyncio.sleep(1.5)
            assert not request.done(), "the request must wait for a writable database"
        finally:
            await _set_read_only(admin, name, False)
        answer = await request
    assert answer.status == 200, answer.body
    listed = await api.ok("listDomains", name="failover-domain", listall=True)
    assert listed["count"] == 1


async def test_a_request_that_outlasts_the_retries_answers_534_and_changes_nothing(
    app: Starlette,
    api: ApiClient,
    settings: Settings,
    identities: dict[str, Identity],
    tmp_path: Path,
) -> None:
    name = _postgres_only(app)
    assert settings.database_url is not None
    assert settings.key_file is not None
    impatient = create_app(
        settings_for(
            tmp_path / "impatient",
            settings.database_url,
            settings.key_file,
            database_retry_seconds=1.0,
            compute_workers=False,
        )
    )
    admin = identities["admin"]
    async with (
        impatient.router.lifespan_context(impatient),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=impatient), base_url="http://testserver"
        ) as http,
        _superuser(settings) as superuser,
    ):
        client = ApiClient(http, admin.api_key, admin.secret_key)
        await _set_read_only(superuser, name, True)
        try:
            text_ = await client.fails("createDomain", 534, name="never-made")
        finally:
            await _set_read_only(superuser, name, False)
    assert "database is unavailable" in text_
    assert "nothing was changed" in text_
    assert (await api.ok("listDomains", name="never-made", listall=True)).get("count", 0) == 0
