"""The migrations build exactly the schema the models declare, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from altostratus.db import migrate
from altostratus.db.engine import Database, async_url
from altostratus.db.models import Base, RoleType
from altostratus.services.identity.roles import DEFAULT_ROLES
from tests.conftest import BACKENDS
from tests.support.postgres import TemporaryPostgres

_created = iter(range(1_000_000))


async def _empty_postgres(postgres: TemporaryPostgres) -> str:
    name = f"alto_migrate_{os.getpid()}_{next(_created)}"
    engine = create_async_engine(async_url(postgres.url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(f"CREATE DATABASE {name}"))
    finally:
        await engine.dispose()
    return postgres.url_for(name)


@pytest.fixture(params=BACKENDS)
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of a database with no tables at all."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        yield await _empty_postgres(request.getfixturevalue("postgres"))


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_upgraded_schema_matches_the_models(empty_database: str) -> None:
    db = Database(empty_database)
    try:
        assert await migrate.current_revision(db) is None
        await migrate.upgrade(db)
        assert await migrate.current_revision(db) == migrate.head_revision()
        async with db.engine.connect() as connection:
            differences = await connection.run_sync(_differences)
        assert differences == [], "the migration and the models disagree"
    finally:
        await db.close()


async def test_upgrade_is_idempotent(empty_database: str) -> None:
    db = Database(empty_database)
    try:
        await migrate.upgrade(db)
        await migrate.upgrade(db)
        assert await migrate.current_revision(db) == migrate.head_revision()
    finally:
        await db.close()


async def test_a_region_bootstrapped_before_resource_admins_gets_the_default_role(
    empty_database: str,
) -> None:
    """Its three roles keep their UUIDs (accounts and playbooks name them); the fourth
    default role arrives with the UUID every new region has."""
    db = Database(empty_database)
    old = {"Root Admin": "Admin", "Domain Admin": "DomainAdmin", "User": "User"}
    try:
        await migrate.upgrade(db, "0013")
        async with db.engine.begin() as connection:
            for number, (name, kind) in enumerate(old.items(), start=1):
                await connection.execute(
                    text(
                        "INSERT INTO roles (uuid, name, type, description, created) "
                        "VALUES (:uuid, :name, :type, '', CURRENT_TIMESTAMP)"
                    ),
                    {"uuid": f"old-{number}", "name": name, "type": kind},
                )
        await migrate.upgrade(db)
        async with db.engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT uuid, name, type, is_default FROM roles ORDER BY name")
            )
            roles = {name: (uuid, kind, bool(default)) for uuid, name, kind, default in rows}
    finally:
        await db.close()
    resource_admin = next(role for role in DEFAULT_ROLES if role.type == RoleType.RESOURCE_ADMIN)
    assert roles == {
        "Domain Admin": ("old-2", "DomainAdmin", True),
        "Resource Admin": (resource_admin.uuid, "ResourceAdmin", True),
        "Root Admin": ("old-1", "Admin", True),
        "User": ("old-3", "User", True),
    }


@pytest.mark.slow
async def test_servers_starting_together_take_turns(empty_database: str, tmp_path: Path) -> None:
    """``alto server --workers N`` on a new installation: every process creates the key
    file and migrates at once; all must succeed (SQLite and PostgreSQL alike)."""
    alto = Path(sys.executable).parent / "alto"
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALTO_")}
    command = [
        str(alto),
        "db",
        "upgrade",
        "--data-dir",
        str(data_dir),
        "--database-url",
        empty_database,
    ]
    processes = [
        await asyncio.create_subprocess_exec(
            *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        for _ in range(4)
    ]
    outputs = [(await process.communicate())[0].decode() for process in processes]
    assert [process.returncode for process in processes] == [0] * 4, outputs
    db = Database(empty_database)
    try:
        assert await migrate.current_revision(db) == migrate.head_revision()
    finally:
        await db.close()
