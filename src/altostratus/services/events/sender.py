"""One HTTP attempt of a webhook delivery, as CloudStack's ``WebhookDeliveryThread``
makes it.

A POST of the payload (JSON) with CloudStack's headers: ``X-CS-Event-ID`` (the event's
UUID), ``X-CS-Event`` (its type), ``User-Agent: CS-Hookshot/<account UUID>`` and, when
the webhook has a secret key, ``X-CS-Signature``: base64 of the HMAC-SHA256 of the exact
payload bytes under the key. A receiver checks it by computing the same over the body.
An answer in 2xx is a success. The whole attempt (connect, send, answer) is bounded by
``webhook_timeout`` (``seconds``); only the start of the answer is kept.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import datetime

import httpx

from altostratus.timeutil import utcnow

__all__ = [
    "HEADER_EVENT",
    "HEADER_EVENT_ID",
    "HEADER_SIGNATURE",
    "RESPONSE_EXCERPT",
    "Attempt",
    "Outgoing",
    "send",
    "signature",
]

HEADER_EVENT_ID = "X-CS-Event-ID"
HEADER_EVENT = "X-CS-Event"
HEADER_SIGNATURE = "X-CS-Signature"
USER_AGENT_PREFIX = "CS-Hookshot/"
#: Characters of a receiver's answer kept in the delivery record.
RESPONSE_EXCERPT = 1000


def signature(payload: str, secret: str) -> str:
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@dataclass(frozen=True)
class Outgoing:
    """What one attempt sends, read from the delivery and its webhook."""

    delivery_id: int
    url: str
    payload: str
    event_uuid: str | None
    event_type: str
    account_uuid: str | None
    secret: str | None
    verify_tls: bool

    def headers(self) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            HEADER_EVENT_ID: self.event_uuid or "",
            HEADER_EVENT: self.event_type,
            "User-Agent": f"{USER_AGENT_PREFIX}{self.account_uuid or ''}",
        }
        if self.secret:
            headers[HEADER_SIGNATURE] = signature(self.payload, self.secret)
        return headers


@dataclass(frozen=True)
class Attempt:
    delivery_id: int
    headers: str
    success: bool
    response_code: int | None
    response: str
    start: datetime
    end: datetime
    duration_ms: int


async def send(client: httpx.AsyncClient, outgoing: Outgoing, seconds: float) -> Attempt:
    """POST ``outgoing``; never raises for what the receiver or the network does."""
    headers = outgoing.headers()
    start, started = utcnow(), time.monotonic()
    code: int | None = None
    try:
        async with asyncio.timeout(seconds):
            code, text = await _post(client, outgoing, headers)
    except TimeoutError:
        text = f"Failed due to : no answer within {seconds:g} s"
    except (httpx.HTTPError, httpx.InvalidURL, OSError) as error:
        text = f"Failed due to : {type(error).__name__}: {error}"
    return Attempt(
        delivery_id=outgoing.delivery_id,
        headers="\n".join(f"{name}: {value}" for name, value in headers.items()),
        success=code is not None and 200 <= code < 300,
        response_code=code,
        response=text,
        start=start,
        end=utcnow(),
        duration_ms=round((time.monotonic() - started) * 1000),
    )


async def _post(
    client: httpx.AsyncClient, outgoing: Outgoing, headers: dict[str, str]
) -> tuple[int, str]:
    """The status and the start of the body; the rest of a long body is not read."""
    request = client.build_request("POST", outgoing.url, content=outgoing.payload, headers=headers)
    response = await client.send(request, stream=True)
    try:
        received = b""
        async for chunk in response.aiter_bytes():
            received += chunk
            if len(received) >= RESPONSE_EXCERPT * 4:  # enough for the excerpt in UTF-8
                break
        return response.status_code, received.decode(errors="replace")[:RESPONSE_EXCERPT]
    finally:
        await response.aclose()
