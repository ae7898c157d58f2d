"""The replication log as it crosses regions: its paths, wire shapes and one page of it.

The log endpoint serves every origin's entries, not only this region's own, so a region
can catch up on a third region's changes from whichever peer it reaches. The caller says
how far it is with its version vector; origins it does not list start from 0.
"""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.db.models import ReplicationEntry
from altostratus.federation.status import read_vector

__all__ = [
    "DEFAULT_LIMIT",
    "LOG_PATH",
    "MAX_LIMIT",
    "NOTIFY_PATH",
    "LogPage",
    "NotifyBody",
    "WireEntry",
    "format_vector",
    "parse_vector",
    "read_log",
]

LOG_PATH = "/federation/v1/log"
NOTIFY_PATH = "/federation/v1/notify"
DEFAULT_LIMIT = 500
MAX_LIMIT = 5000


class WireEntry(BaseModel):
    """One log entry as it crosses regions (``federation.apply`` stores it)."""

    origin: int
    seq: int
    entity_type: str
    entity_key: str
    version: str
    #: JSON of the entity's replicated state; ``None`` is a tombstone.
    payload: str | None


class LogPage(BaseModel):
    entries: list[WireEntry]
    #: The serving region's vector: per origin, the highest seq it has stored.
    vector: dict[int, int]
    #: More entries follow the last one given; ask again from the new vector.
    more: bool


class NotifyBody(BaseModel):
    region: int


def format_vector(vector: dict[int, int]) -> str:
    """``{1: 5, 2: 9}`` → ``1:5,2:9`` (the ``after`` parameter)."""
    return ",".join(f"{origin}:{seq}" for origin, seq in sorted(vector.items()))


def parse_vector(text: str) -> dict[int, int]:
    """The inverse of ``format_vector``; ``ValueError`` names what is wrong."""
    vector: dict[int, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        origin, sep, seq = item.partition(":")
        if not sep or not origin.isdigit() or not seq.isdigit():
            raise ValueError(f"after: {item!r} is not <origin>:<seq>")
        vector[int(origin)] = int(seq)
    return vector


async def read_log(session: AsyncSession, after: dict[int, int], limit: int) -> LogPage:
    """Up to ``limit`` entries beyond ``after``, ordered by (origin, seq), and our vector."""
    beyond = [
        and_(ReplicationEntry.origin == origin, ReplicationEntry.seq > seq)
        for origin, seq in after.items()
    ]
    beyond.append(ReplicationEntry.origin.not_in(list(after)))
    rows = list(
        await session.scalars(
            select(ReplicationEntry)
            .where(or_(*beyond))
            .order_by(ReplicationEntry.origin, ReplicationEntry.seq)
            .limit(limit + 1)
        )
    )
    vector = await read_vector(session)
    entries = [
        WireEntry(
            origin=row.origin,
            seq=row.seq,
            entity_type=row.entity_type,
            entity_key=row.entity_key,
            version=row.version,
            payload=row.payload,
        )
        for row in rows[:limit]
    ]
    return LogPage(entries=entries, vector=vector, more=len(rows) > limit)
