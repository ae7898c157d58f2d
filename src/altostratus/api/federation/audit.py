"""``GET /federation/v1/digest`` and ``GET /federation/v1/entities``: what an auditing peer reads.

Both answer only requests signed with the federation key. ``entities`` answers every
entity of one type at once (also the tombstones); the auditor asks for it only for the
types whose digests differ.
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from altostratus.api.federation.signed import peer_signed
from altostratus.federation.audit import DIGEST_PATH, ENTITIES_PATH, digests, entity_states
from altostratus.federation.entities import SPECS, spec_named
from altostratus.runtime import Runtime

__all__ = ["audit_routes"]

_TYPES = ", ".join(spec.name for spec in SPECS)


def _json(body: object) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


async def _digest(_request: Request, runtime: Runtime, _region: int, _body: bytes) -> Response:
    async with runtime.db.transaction(write=False) as session:
        return _json({"types": await session.run_sync(digests)})


async def _entities(request: Request, runtime: Runtime, _region: int, _body: bytes) -> Response:
    try:
        spec = spec_named(request.query_params.get("type", ""))
    except KeyError:
        return JSONResponse({"error": f"type: must be one of {_TYPES}"}, status_code=400)
    async with runtime.db.transaction(write=False) as session:
        states = await session.run_sync(lambda s: entity_states(s, spec))
    return _json({"entities": [states[key].to_wire() for key in sorted(states)]})


def audit_routes() -> list[BaseRoute]:
    return [
        Route(DIGEST_PATH, peer_signed(_digest), methods=["GET"]),
        Route(ENTITIES_PATH, peer_signed(_entities), methods=["GET"]),
    ]
