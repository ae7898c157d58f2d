"""HTTP connections that cannot be held open for nothing: the timeouts uvicorn lacks.

uvicorn (0.54, h11) times out only the idle time *after* a response: a connection that
never sends a byte, or sends half a request and stops, stays open for ever, so a few
hundred slow clients use up a server's connections. This protocol adds the two
missing deadlines:

- a new connection must begin a request within ``http_idle_timeout`` (uvicorn's own
  keep-alive timeout, the same limit between requests);
- once begun, a request (its headers and its body) must arrive in full within
  ``http_request_timeout``.

Either way the server closes the connection; a request already handed to the
application sees a disconnect. The size of a request line and headers stays bounded by
h11 (16 KiB), the body by ``request_max_bytes`` (``api.app``).
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from altostratus.settings import Settings

__all__ = ["TimedH11Protocol", "timed_protocol"]

log = logging.getLogger(__name__)


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for a connection's first request and for
    receiving each request in full."""

    def __init__(self, *args: Any, request_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_timeout = request_timeout
        self._request_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # uvicorn arms its keep-alive timer only after a response; a silent new
        # connection gets the same limit.
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_request_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._request_deadline is None and self.conn.their_state is h11.IDLE:
            self._request_deadline = self.loop.call_later(
                self.request_timeout, self._request_too_slow
            )
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE and self.conn.their_state is not h11.SEND_BODY:
            self._cancel_request_deadline()  # received in full (or the connection failed)

    def on_response_complete(self) -> None:
        self._cancel_request_deadline()
        super().on_response_complete()

    def _cancel_request_deadline(self) -> None:
        if self._request_deadline is not None:
            self._request_deadline.cancel()
            self._request_deadline = None

    def _request_too_slow(self) -> None:
        self._request_deadline = None
        if self.transport.is_closing():
            return
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
        log.info(
            "closed the connection of %s: no complete request within %g s",
            client,
            self.request_timeout,
        )
        self.transport.close()


def timed_protocol(settings: Settings) -> Any:
    """The protocol class uvicorn's ``Config(http=…)`` takes, with the settings' request
    timeout (a ``partial``: uvicorn only calls it, and it pickles into worker processes)."""
    return partial(TimedH11Protocol, request_timeout=settings.http_request_timeout)
