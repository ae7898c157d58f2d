"""``GET /federation/v1/log`` and ``POST /federation/v1/notify``: what peers pull and poke.

The log endpoint serves every origin's entries, not only this region's own, so a region
can catch up on a third region's changes from whichever peer it reaches. The caller says
how far it is with its version vector; origins it does not list start from 0.
"""

from __future__ import annotations

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from altostratus.api.federation.signed import bad_request, peer_signed
from altostratus.federation.log import (
    DEFAULT_LIMIT,
    LOG_PATH,
    MAX_LIMIT,
    NOTIFY_PATH,
    NotifyBody,
    parse_vector,
    read_log,
)
from altostratus.runtime import Runtime

__all__ = ["log_routes"]


def _parse_limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise ValueError(f"limit: must be an integer from 1 to {MAX_LIMIT}")
    return int(text)


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
        sender = NotifyBody.model_validate_json(body).region
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
