"""``POST /federation/v1/join``: an existing region takes in a new one.

The new region has no federation key yet, so the request is authorised like an API call:
form-encoded CloudStack parameters signed with a root admin's key pair. Because the answer
carries the federation's keys, the request must also carry ``expires`` (signature version
3): a captured request cannot be replayed later to obtain them.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qsl

import orjson
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from altostratus.api.auth import authenticate
from altostratus.api.params import (
    HttpEndpoint,
    Params,
    collect_params,
    parse_params,
    string_values,
)
from altostratus.api.render import error_response
from altostratus.core.context import ServiceContext
from altostratus.db.models import SystemValue
from altostratus.errors import AuthenticationError, CloudError, InvalidParameter
from altostratus.federation.join import JOIN_PATH
from altostratus.federation.snapshot import read_snapshot
from altostratus.runtime import Runtime
from altostratus.services.identity import regions
from altostratus.services.identity.bootstrap import FEDERATION_KEY, SESSION_KEY

__all__ = ["join_routes"]


class _JoinParams(Params):
    regionid: int = Field(ge=1, description="Id of the joining region; the same everywhere")
    regionname: str = Field(min_length=1, max_length=255, description="Name of the region")
    endpoint: HttpEndpoint = Field(description="API endpoint URL of the joining region")


def join_routes() -> list[BaseRoute]:
    return [Route(JOIN_PATH, _join_endpoint, methods=["POST"])]


async def _join_endpoint(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    try:
        answer = await _join(runtime, await request.body())
    except CloudError as error:
        return error_response("joinresponse", error, as_json=True)
    return Response(orjson.dumps(answer), media_type="application/json")


async def _join(runtime: Runtime, body: bytes) -> dict[str, Any]:
    pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    params = collect_params(pairs)
    if not params.get("apikey") or not params.get("expires"):
        raise AuthenticationError(
            "a join must be signed with a root admin's API key and carry expires "
            "(signatureversion 3)"
        )
    try:
        async with runtime.db.transaction() as session:
            caller = await authenticate(session, runtime.deps, dict(pairs), string_values(params))
            join = parse_params("join", _JoinParams, params)
            await regions.admit_region(
                ServiceContext(session, caller, runtime.deps),
                region_id=join.regionid,
                name=join.regionname,
                endpoint=join.endpoint,
            )
    except IntegrityError:
        raise InvalidParameter(
            "A region with the same id or name was added at the same time; nothing was changed"
        ) from None
    snapshot = await read_snapshot(runtime.db)
    async with runtime.db.transaction(write=False) as session:
        values = {
            row.name: runtime.deps.keyring.decrypt(row.value)
            for row in await session.scalars(
                select(SystemValue).where(SystemValue.name.in_((SESSION_KEY, FEDERATION_KEY)))
            )
        }
    keyfile = await asyncio.to_thread(runtime.settings.resolved_key_file.read_text)
    return {
        "keys": {
            "keyfile": keyfile.strip(),
            "session": values[SESSION_KEY],
            "federation": values[FEDERATION_KEY],
        },
        "snapshot": snapshot,
    }
