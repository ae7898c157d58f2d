"""Helpers for the region-to-region endpoints: signature check and plain JSON errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from altostratus.errors import AuthenticationError
from altostratus.federation.peers import verify_peer_request
from altostratus.runtime import Runtime

__all__ = ["PeerHandler", "bad_request", "peer_signed"]

PeerHandler = Callable[[Request, Runtime, int, bytes], Awaitable[Response]]


def peer_signed(handler: PeerHandler) -> Callable[[Request], Awaitable[Response]]:
    """Run ``handler`` only for a request signed with the federation key; 401 otherwise."""

    async def endpoint(request: Request) -> Response:
        runtime: Runtime = request.app.state.runtime
        try:
            body = await request.body()
            region = verify_peer_request(
                runtime.federation_key,
                method=request.method,
                path=request.url.path,
                query=list(request.query_params.multi_items()),
                headers=request.headers,
                body=body,
            )
        except AuthenticationError as error:
            return JSONResponse({"error": error.text}, status_code=401)
        return await handler(request, runtime, region, body)

    return endpoint


def bad_request(text: str) -> Response:
    return JSONResponse({"error": text}, status_code=400)
