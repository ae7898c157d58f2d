"""The endpoint real host agents use: ``/agent/v1/{register,heartbeat,commands}``.

JSON over HTTP (``agent.protocol`` models). An agent registers with its zone's token
and gets a key; later calls carry ``X-Alto-Host`` (the host id) and ``X-Alto-Key``.
``commands`` is a long poll: it stores the answers the agent brings, then waits up to
``wait`` seconds for commands to hand out. Any management server answers any agent,
because commands and answers are database rows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from altostratus.agent.protocol import (
    Delivery,
    Exchange,
    ExchangeReply,
    Heartbeat,
    HeartbeatReply,
    Registered,
    Registration,
)
from altostratus.db.failover import DATABASE_ERRORS
from altostratus.db.models import Host
from altostratus.errors import CloudError
from altostratus.runtime import Runtime
from altostratus.services.agents import link as agent_link
from altostratus.services.agents.link import AgentHost

__all__ = ["agent_routes"]

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

#: The longest a ``commands`` call waits; agents ask for less.
_LONGEST_WAIT = 30.0


async def _body(request: Request, model: type[M]) -> M:
    return model.model_validate_json(await request.body())


def _endpoint(
    handler: Callable[[Request, Runtime], Awaitable[BaseModel]],
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        runtime: Runtime = request.app.state.runtime
        try:
            reply = await handler(request, runtime)
        except ValidationError as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        except CloudError as error:
            status = error.code if error.code < 500 else 409
            return JSONResponse({"error": error.text, "errorcode": error.code}, status_code=status)
        except DATABASE_ERRORS:
            # A database failover: the agent tries its next endpoint, then this one again.
            log.warning("agent %s: database unavailable", request.url.path)
            return JSONResponse({"error": "database unavailable"}, status_code=503)
        return Response(reply.model_dump_json(), media_type="application/json")

    return endpoint


async def _host(request: Request, session: AsyncSession) -> AgentHost:
    return await agent_link.authenticate(
        session, request.headers.get("x-alto-host", ""), request.headers.get("x-alto-key", "")
    )


async def _register(request: Request, runtime: Runtime) -> Registered:
    registration = await _body(request, Registration)
    async with runtime.db.transaction() as session:
        peer = request.client.host if request.client else None
        host, key = await agent_link.register(session, runtime.deps, registration, peer)
    log.info("agent of host %s registered", host.name)
    return Registered(
        host_id=host.uuid, key=key, heartbeat_interval=runtime.settings.heartbeat_interval
    )


async def _heartbeat(request: Request, runtime: Runtime) -> HeartbeatReply:
    report = await _body(request, Heartbeat)
    async with runtime.db.transaction() as session:
        host = await _host(request, session)
        await agent_link.heartbeat(
            session, runtime.deps, Host.id == host.id, {host.id: report.power_states}
        )
        # The state as stored once the heartbeat is recorded, not an assumed Up: the
        # agent acts on what the database says.
        row = (
            await session.execute(select(Host.state, Host.resource_state).where(Host.id == host.id))
        ).one()
        return HeartbeatReply(state=row.state, resource_state=row.resource_state)


async def _commands(request: Request, runtime: Runtime) -> ExchangeReply:
    exchange = await _body(request, Exchange)
    async with runtime.db.transaction(write=False) as session:
        host = await _host(request, session)
    if exchange.answers:
        async with runtime.db.transaction() as session:
            finished = await agent_link.record_answers(
                session, exchange.answers, Host.id == host.id
            )
        runtime.deps.signals.commands_finished(finished)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(max(exchange.wait, 0.0), _LONGEST_WAIT)
    while True:
        taken = await _take(runtime, host)
        remaining = deadline - loop.time()
        if taken or remaining <= 0:
            return ExchangeReply(commands=taken)
        await runtime.deps.signals.wait_for_commands(min(remaining, 1.0))


async def _take(runtime: Runtime, host: AgentHost) -> list[Delivery]:
    mine = Host.id == host.id
    async with runtime.db.transaction(write=False) as session:
        if not await agent_link.has_deliverable(session, runtime.settings, mine):
            return []
    async with runtime.db.transaction() as session:
        taken = await agent_link.take_commands(session, runtime.settings, mine)
    return [delivery for _, delivery in taken]


def agent_routes() -> list[BaseRoute]:
    return [
        Route("/agent/v1/register", _endpoint(_register), methods=["POST"]),
        Route("/agent/v1/heartbeat", _endpoint(_heartbeat), methods=["POST"]),
        Route("/agent/v1/commands", _endpoint(_commands), methods=["POST"]),
    ]
