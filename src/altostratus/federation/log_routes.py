"""``GET /federation/v1/log`` and ``POST /federation/v1/notify``: what peers pull and poke.

The log endpoint serves every origin's entries, not only this region's own, so a region
can catch up on a third region's changes from whichever peer it reaches. The caller says
how far it is with its version vector; origins it does not list start from 0.
"""

from __future__ import annotations

from pydantic import BaseModel, ValidationError
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from altostratus.db.models import ReplicationEntry
from altostratus.federation.routing import bad_request, peer_signed
from altostratus.federation.status import read_vector
from altostratus.runtime import Runtime

__all__ = [
    "DEFAULT_LIMIT",
    "LOG_PATH",
    "MAX_LIMIT",
    "NOTIFY_PATH",
    "LogPage",
    "WireEntry",
    "format_vector",
    "log_routes",
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


class _NotifyBody(BaseModel):
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


def _parse_limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise ValueError(f"limit: must be an integer from 1 to {MAX_LIMIT}")
    return int(text)


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


async def _log(request: Request, runtime: Runtime, _region: int, _body: bytes) -> Response:
    try:
        after = parse_vector(request.query_params.get("after", ""))
        limit = _parse_limit(request.query_params.get("limit"))
    except ValueError as error:
        return bad_request(str(error))
    async with runtime.db.transaction(write=False) as session:
        page = await read_log(session, after, limit)
    return Response(page.model_dump_json(), media_type="application/json")


async def _notify(_request: Request, runtime: Runtime, region: int, body: bytes) -> Response:
    try:
        sender = _NotifyBody.model_validate_json(body).region
    except ValidationError:
        return bad_request('body must be {"region": <id>}')
    if sender != region:
        return bad_request(f"the body names region {sender}, the signature region {region}")
    runtime.deps.signals.peer_committed(sender)
    return JSONResponse({"ok": True})


def log_routes() -> list[BaseRoute]:
    return [
        Route(LOG_PATH, peer_signed(_log), methods=["GET"]),
        Route(NOTIFY_PATH, peer_signed(_notify), methods=["POST"]),
    ]
