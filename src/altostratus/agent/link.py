"""The agent's connection to the management servers: a list of endpoints, failover.

An agent knows every management server of its region (or a load balancer). It talks to
one; when that one stops answering (connection refused, timeout, 5xx) it moves on to
the next and carries on there. Nothing is lost by switching: commands and answers are
rows in the region's database, which every server reads.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel

__all__ = ["LinkDown", "ManagementLink", "NotRegistered", "base_url"]

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


class LinkDown(Exception):
    """No management server answered in a whole round of the endpoint list."""


class NotRegistered(Exception):
    """The server does not know this agent's key (host deleted or reconnectHost): register."""


def base_url(endpoint: str) -> str:
    """``http://host:port`` from what an operator writes (also ``…/client/api``)."""
    parts = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) endpoint: {endpoint}")
    return f"{parts.scheme}://{parts.netloc}"


class ManagementLink:
    def __init__(
        self,
        endpoints: list[str],
        *,
        client: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
        retry_pause: float = 1.0,
    ) -> None:
        if not endpoints:
            raise ValueError("at least one management server endpoint is needed")
        self.endpoints = [base_url(endpoint) for endpoint in endpoints]
        self._current = 0
        self._client = client or httpx.AsyncClient(timeout=timeout)
        self._owns_client = client is None
        self._retry_pause = retry_pause

    @property
    def current(self) -> str:
        return self.endpoints[self._current]

    async def call(
        self,
        path: str,
        body: BaseModel,
        reply: type[M],
        *,
        headers: dict[str, str] | None = None,
        read_timeout: float | None = None,
    ) -> M:
        """POST ``body`` to ``path`` on the current server, failing over along the list."""
        for _ in range(len(self.endpoints)):
            endpoint = self.current
            try:
                response = await self._client.post(
                    f"{endpoint}{path}",
                    content=body.model_dump_json(),
                    headers={"content-type": "application/json", **(headers or {})},
                    timeout=read_timeout if read_timeout is not None else httpx.USE_CLIENT_DEFAULT,
                )
            except httpx.TransportError as error:
                self._next(endpoint, f"{type(error).__name__}: {error}")
                continue
            if response.status_code >= 500:
                self._next(endpoint, f"HTTP {response.status_code}")
                continue
            if response.status_code == 401:
                raise NotRegistered(response.text)
            response.raise_for_status()
            return reply.model_validate_json(response.content)
        await asyncio.sleep(self._retry_pause)
        raise LinkDown(f"no management server answered: {', '.join(self.endpoints)}")

    def _next(self, failed: str, reason: str) -> None:
        self._current = (self._current + 1) % len(self.endpoints)
        log.warning("management server %s failed (%s); trying %s", failed, reason, self.current)

    async def close(self) -> None:
        if self._owns_client:
            await self._client.aclose()
