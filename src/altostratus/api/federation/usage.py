"""``POST /federation/v1/usage``: this region's usage records for a peer's query.

The peer resolved its caller's rights into the query (an account UUID or a domain
path, the same in every region), so only a request signed with the federation key is
answered.
"""

from __future__ import annotations

import orjson
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from altostratus.api.federation.signed import bad_request, peer_signed
from altostratus.federation.usage import USAGE_PATH
from altostratus.runtime import Runtime
from altostratus.services.usage.records import UsageQuery, find_records

__all__ = ["usage_routes"]


async def _usage(_request: Request, runtime: Runtime, _region: int, body: bytes) -> Response:
    try:
        query = UsageQuery.model_validate_json(body)
    except ValidationError as error:
        return bad_request(f"not a usage query: {error.errors()[0]['msg']}")
    async with runtime.db.transaction(write=False) as session:
        entries = await find_records(session, query, runtime.deps.local_region_id)
    records = [entry.model_dump(mode="json") for entry in entries]
    return Response(orjson.dumps({"records": records}), media_type="application/json")


def usage_routes() -> list[BaseRoute]:
    return [Route(USAGE_PATH, peer_signed(_usage), methods=["POST"])]
