"""The ASGI application: ``/client/api``, the console under ``/client/``, ``/health``,
``/health/ready`` and ``/metrics``.

The lifespan starts the runtime (database, migrations, bootstrap) and keeps it, with
its dispatcher, on ``app.state``; each uvicorn worker process builds its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from altostratus.api.agent_routes import agent_routes
from altostratus.api.console import ConsoleFiles
from altostratus.api.dispatch import ApiRequest, Dispatcher
from altostratus.api.federation import federation_routes
from altostratus.api.health import health, ready
from altostratus.api.params import collect_params
from altostratus.api.registry import build_registry
from altostratus.api.render import error_response, render
from altostratus.errors import CloudError, InvalidParameter, Throttled
from altostratus.runtime import Runtime, write_admin_file
from altostratus.settings import Settings
from altostratus.workers import background_workers, region_membership

__all__ = ["create_app"]

log = logging.getLogger(__name__)

API_REQUESTS = Counter(
    "altostratus_api_requests_total", "API requests by command and answer code", ["command", "code"]
)
API_LATENCY = Histogram("altostratus_api_request_seconds", "API request latency", ["command"])
#: Form bodies longer than this are decoded off the event loop.
_INLINE_PARSE_MAX = 64 * 1024
_INTERNAL = "Internal error executing command, please contact your system administrator"


def _too_large(settings: Settings) -> InvalidParameter:
    return InvalidParameter(
        f"The request is larger than this server accepts ({settings.request_max_bytes} bytes "
        f"or {settings.request_max_params} parameters, request_max_bytes and "
        "request_max_params); nothing was done"
    )


async def _read_pairs(request: Request, settings: Settings) -> list[tuple[str, str]]:
    """Query and url-encoded form parameters (the only body CloudStack clients send),
    refused past ``request_max_bytes`` before the body is read in full."""
    room = settings.request_max_bytes - len(request.scope["query_string"])
    pairs = list(request.query_params.multi_items())
    if room < 0 or len(pairs) > settings.request_max_params:
        raise _too_large(settings)
    if request.method == "POST":
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > room:
            raise _too_large(settings)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > room:
                raise _too_large(settings)
        if body.count(b"&") + len(pairs) >= settings.request_max_params:
            raise _too_large(settings)
        text = body.decode("utf-8", "replace")
        if len(text) <= _INLINE_PARSE_MAX:
            pairs += parse_qsl(text, keep_blank_values=True)
        else:  # a large body takes a while to decode: not on the event loop
            pairs += await asyncio.to_thread(parse_qsl, text, keep_blank_values=True)
    return pairs


def _client_address(request: Request, *, behind_proxy: bool) -> str:
    """Who sent ``request``: the peer, or behind a proxy the last hop it forwarded for.

    Only the last ``X-Forwarded-For`` entry is the proxy's own word; earlier ones are
    whatever the client wrote.
    """
    if behind_proxy:
        forwarded = request.headers.get("x-forwarded-for", "").rsplit(",", 1)[-1].strip()
        if forwarded:
            return forwarded
    return request.client.host if request.client is not None else ""


def _set_cookies(request: Request, response: Response, cookies: dict[str, str | None]) -> None:
    """Session cookies: script-proof (HttpOnly), and Secure whenever TLS carried the request."""
    settings: Settings = request.app.state.runtime.settings
    secure = request.url.scheme == "https" or settings.behind_proxy
    for cookie, value in cookies.items():
        if value is None:
            response.delete_cookie(cookie, path="/client", secure=secure, httponly=True)
        else:
            response.set_cookie(cookie, value, path="/client", httponly=True, secure=secure)


async def _api(request: Request) -> Response:
    settings: Settings = request.app.state.runtime.settings
    try:
        pairs = await _read_pairs(request, settings)
    except InvalidParameter as error:
        as_json = request.query_params.get("response", "").lower() == "json"
        response = error_response("errorresponse", error, as_json=as_json)
        response.headers["Connection"] = "close"  # the rest of the body is not wanted
        return response
    params = collect_params(pairs)
    as_json = str(params.get("response", "")).lower() == "json"
    name = str(params.get("command") or "").lower()
    root = f"{name}response" if name else "errorresponse"
    api_request = ApiRequest(
        method=request.method,
        signed_params=dict(pairs),
        params=params,
        client_address=_client_address(
            request, behind_proxy=request.app.state.runtime.settings.behind_proxy
        ),
    )
    dispatcher: Dispatcher = request.app.state.dispatcher
    with API_LATENCY.labels(name or "-").time():
        try:
            outcome = await dispatcher.dispatch(api_request)
        except CloudError as error:
            API_REQUESTS.labels(name or "-", str(error.code)).inc()
            response = error_response(
                "errorresponse" if error.code == 432 else root, error, as_json=as_json
            )
            if isinstance(error, Throttled):
                response.headers["Retry-After"] = str(error.retry_after)
            return response
        except Exception:
            log.exception("command %s failed", name)
            API_REQUESTS.labels(name or "-", "530").inc()
            return error_response(root, CloudError(_INTERNAL), as_json=as_json)
    API_REQUESTS.labels(name, "200").inc()
    response = render(root, outcome.payload, as_json=as_json)
    _set_cookies(request, response, outcome.cookies)
    return response


async def _metrics(_request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def create_app(settings: Settings) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        runtime = await Runtime.start(settings)
        if runtime.new_admin is not None:
            _announce_admin(settings, runtime)
        registry = build_registry()
        app.state.runtime = runtime
        app.state.registry = registry
        app.state.dispatcher = Dispatcher(runtime.db, runtime.deps, registry)
        try:
            async with (
                region_membership(runtime),
                background_workers(runtime, registry.job_handlers),
            ):
                yield
        finally:
            await runtime.close()

    routes = [
        Route("/client/api", _api, methods=["GET", "POST"]),
        Route("/client/api/", _api, methods=["GET", "POST"]),
        Route("/health", health),
        Route("/health/ready", ready),
        Route("/metrics", _metrics),
        *federation_routes(),
        *agent_routes(),
        # After the API routes, so /client/api is never a file.
        Mount("/client", app=ConsoleFiles(), name="console"),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def _announce_admin(settings: Settings, runtime: Runtime) -> None:
    """Write the new root admin's credentials and say once where they are."""
    assert runtime.new_admin is not None
    path = settings.data_dir / "admin.json"
    write_admin_file(path, settings.endpoint, runtime.new_admin)
    log.warning(
        "created the root admin: username admin, password %s; API keys in %s (mode 0600)",
        runtime.new_admin.password,
        path.resolve(),
    )
