"""A small signing client for API tests (the real clients are tested in ``tests/clients``).

It signs with the canonical algorithm and hands back status and body, so tests can
assert on error codes and texts as well as on results.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from altostratus.security.signatures import sign

__all__ = ["Answer", "ApiClient"]


@dataclass(frozen=True)
class Answer:
    status: int
    #: The object under the single ``<command>response`` key.
    body: dict[str, Any]
    headers: httpx.Headers

    @property
    def error_text(self) -> str:
        return str(self.body.get("errortext", ""))


def _wire(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(item) for item in value)
    return str(value)


class ApiClient:
    def __init__(self, http: httpx.AsyncClient, api_key: str, secret_key: str) -> None:
        self.http = http
        self.api_key = api_key
        self.secret_key = secret_key

    def with_keys(self, api_key: str, secret_key: str) -> ApiClient:
        return ApiClient(self.http, api_key, secret_key)

    async def call(self, command: str, **params: Any) -> Answer:
        """Send a signed GET; ``None`` values are left out, maps given as ``name[0].key``."""
        query = {name: _wire(value) for name, value in params.items() if value is not None}
        query.update(command=command, response="json", apikey=self.api_key)
        query["signature"] = sign(query, self.secret_key)
        response = await self.http.get("/client/api", params=query)
        return _answer(response)

    async def ok(self, command: str, **params: Any) -> dict[str, Any]:
        answer = await self.call(command, **params)
        assert answer.status == 200, f"{command} answered {answer.status}: {answer.body}"
        return answer.body

    async def fails(self, command: str, code: int, **params: Any) -> str:
        """Assert that ``command`` fails with ``code``; return the error text."""
        answer = await self.call(command, **params)
        assert answer.status == code, (
            f"{command}: expected {code}, got {answer.status}: {answer.body}"
        )
        assert answer.body["errorcode"] == code
        return answer.error_text


def _answer(response: httpx.Response) -> Answer:
    data = response.json()
    assert len(data) == 1, f"answer must have one top-level key: {data}"
    (body,) = data.values()
    return Answer(response.status_code, body, response.headers)
