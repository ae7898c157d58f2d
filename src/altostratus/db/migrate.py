"""Schema migrations (Alembic), run by ``alto db upgrade`` and at server start."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from altostratus.db.engine import Database

__all__ = ["current_revision", "head_revision", "upgrade"]

_SCRIPTS = Path(__file__).parent / "migrations"
# Any fixed number: servers that start together on one PostgreSQL take turns migrating.
_MIGRATION_LOCK = 7_250_001


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "the migrations directory has no revision"
    return head


async def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (the newest by default); safe to run from several
    servers at once."""

    def _upgrade(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        command.upgrade(_config(connection), revision)

    engine = database.engine
    if database.is_sqlite:
        # Take SQLite's write lock at BEGIN, so concurrent starts (``--workers``) wait
        # their turn instead of failing with "database is locked" on their first write.
        engine = engine.execution_options(sqlite_begin="IMMEDIATE")
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


async def current_revision(database: Database) -> str | None:
    def _current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with database.engine.connect() as connection:
        return await connection.run_sync(_current)
