"""``INSERT … ON CONFLICT`` on either backend.

SQLAlchemy offers it per dialect only (PostgreSQL's and SQLite's ``insert`` share the
clauses but not a class), and several servers writing the same row at once need it.
"""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

__all__ = ["insert_for"]


def insert_for(
    session: Session | AsyncSession, model: type[object]
) -> postgresql.Insert | sqlite.Insert:
    """An ``INSERT`` into ``model``'s table that accepts ``on_conflict_do_…``."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)
