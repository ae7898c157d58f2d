"""Region-to-region requests, signed with the federation key.

Headers: ``X-Alto-Region`` (the sender's region id), ``X-Alto-Timestamp`` (unix seconds)
and ``X-Alto-Signature``: base64 HMAC-SHA256 of the sender's region id, method, path,
sorted query, timestamp and the body's SHA-256. A request older than ``MAX_SKEW``
seconds, or signed with another key, is refused (401) before it can change anything.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson

from altostratus.errors import AuthenticationError

__all__ = ["MAX_SKEW", "PeerClient", "PeerError", "base_url", "verify_peer_request"]

MAX_SKEW = 300
_REGION, _TIMESTAMP, _SIGNATURE = "X-Alto-Region", "X-Alto-Timestamp", "X-Alto-Signature"


class PeerError(Exception):
    """A peer could not be reached or refused the request."""


def base_url(endpoint: str) -> str:
    """A region's federation base URL from its API endpoint (``…/client/api``)."""
    return endpoint.rstrip("/").removesuffix("/client/api")


def _signature(
    key: bytes, region: int, method: str, path: str, query: str, timestamp: str, body: bytes
) -> str:
    parts = [str(region), method.upper(), path, query, timestamp, hashlib.sha256(body).hexdigest()]
    text = "\n".join(parts)
    return base64.b64encode(hmac.new(key, text.encode(), hashlib.sha256).digest()).decode()


def _canonical_query(pairs: list[tuple[str, str]]) -> str:
    return urlencode(sorted(pairs))


def verify_peer_request(
    federation_key: bytes,
    *,
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
) -> int:
    """The sending region's id, or 401 for anything unsigned or forged.

    Takes the request's parts rather than a framework's request, so the check that
    protects every federation endpoint is the same code the client signs with.
    """
    try:
        region = int(headers[_REGION])
        timestamp = headers[_TIMESTAMP]
        signature = headers[_SIGNATURE]
        age = abs(time.time() - int(timestamp))
    except (KeyError, ValueError):
        raise AuthenticationError("region request without a valid signature") from None
    if age > MAX_SKEW:
        raise AuthenticationError("region request too old or from the future")
    expected = _signature(
        federation_key, region, method, path, _canonical_query(query), timestamp, body
    )
    if not hmac.compare_digest(expected, signature):
        raise AuthenticationError("region request signature mismatch")
    return region


class PeerClient:
    """Signs and sends requests to other regions; one per server process."""

    def __init__(
        self,
        federation_key: bytes,
        local_region_id: int,
        *,
        timeout: float = 10.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._key = federation_key
        self._region = local_region_id
        self._http = http or httpx.AsyncClient(timeout=timeout)

    async def close(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        base: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
    ) -> Any:
        """Send a signed request to the region at ``base``; answer its JSON body."""
        content = b"" if body is None else orjson.dumps(body)
        query = _canonical_query(sorted((params or {}).items()))
        timestamp = str(int(time.time()))
        signature = _signature(self._key, self._region, method, path, query, timestamp, content)
        headers = {
            _REGION: str(self._region),
            _TIMESTAMP: timestamp,
            _SIGNATURE: signature,
            "Content-Type": "application/json",
        }
        try:
            response = await self._http.request(
                method,
                f"{base}{path}?{query}" if query else base + path,
                content=content,
                headers=headers,
            )
        except httpx.HTTPError as exc:
            raise PeerError(f"{base}: {exc!r}") from exc
        if response.status_code != 200:
            raise PeerError(f"{base}{path}: HTTP {response.status_code} {response.text[:200]}")
        return orjson.loads(response.content) if response.content else None
