"""How in-process host agents reach the application under test.

``httpx.ASGITransport`` runs the application in the caller's task, so cancelling an
agent's task (a test "powering off" a host, or a fixture ending) would cancel the
server's handler of its in-flight request, possibly halfway through a database
transaction: a real server never sees that, and on SQLite a connection torn out of its
transaction can keep the write lock until the test times out. Here each request is
handled in a task of its own, which the agent's cancellation leaves to finish.
"""

from __future__ import annotations

import asyncio

import httpx

__all__ = ["ServerTransport"]


class ServerTransport(httpx.ASGITransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await asyncio.shield(super().handle_async_request(request))
