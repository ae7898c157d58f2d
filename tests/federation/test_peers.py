"""Region-to-region requests: only ones signed with the federation key, recently, pass.

Each case sends to the real endpoints (``log`` and ``notify``) and checks the refusal and
that a refused ``notify`` woke nothing; a correctly signed request passes, so the
refusals are the signature's doing.
"""

from __future__ import annotations

import time

import httpx
import pytest

from altostratus.federation.log import LOG_PATH, NOTIFY_PATH
from altostratus.federation.peers import MAX_SKEW, PeerClient, PeerError
from altostratus.runtime import Runtime

BASE = "http://testserver"


class Recorder(httpx.AsyncBaseTransport):
    """Keeps the requests a PeerClient would send, so tests can tamper and replay them."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.append(request)
        return httpx.Response(200, json={})


async def _signed(
    key: bytes, method: str, path: str, *, params: dict[str, str] | None = None
) -> httpx.Request:
    recorder = Recorder()
    client = PeerClient(key, 2, http=httpx.AsyncClient(transport=recorder))
    body = {"region": 2} if method == "POST" else None
    await client.request(method, BASE, path, params=params, body=body)
    await client.close()
    return recorder.requests[0]


def _copy(request: httpx.Request, **changes: object) -> httpx.Request:
    fields: dict[str, object] = {
        "method": request.method,
        "url": request.url,
        "headers": request.headers,
        "content": request.content,
    }
    fields.update(changes)
    return httpx.Request(**fields)  # type: ignore[arg-type]


async def _woken(region: Runtime) -> set[int]:
    return await region.deps.signals.wait_for_peers(0)


@pytest.mark.parametrize(("method", "path"), [("GET", LOG_PATH), ("POST", NOTIFY_PATH)])
async def test_signed_request_passes(
    region: Runtime, region_http: httpx.AsyncClient, method: str, path: str
) -> None:
    request = await _signed(region.federation_key, method, path)
    response = await region_http.send(request)
    assert response.status_code == 200, response.text
    assert await _woken(region) == ({2} if method == "POST" else set())


@pytest.mark.parametrize(("method", "path"), [("GET", LOG_PATH), ("POST", NOTIFY_PATH)])
async def test_unsigned_request_is_refused(
    region: Runtime, region_http: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await region_http.request(method, path, json={"region": 2})
    assert response.status_code == 401
    assert "signature" in response.json()["error"]
    assert await _woken(region) == set()


@pytest.mark.parametrize(("method", "path"), [("GET", LOG_PATH), ("POST", NOTIFY_PATH)])
async def test_request_signed_with_another_key_is_refused(
    region: Runtime, region_http: httpx.AsyncClient, method: str, path: str
) -> None:
    request = await _signed(b"k" * 32, method, path)
    response = await region_http.send(request)
    assert response.status_code == 401
    assert response.json()["error"] == "region request signature mismatch"
    assert await _woken(region) == set()


async def test_tampered_body_is_refused(region: Runtime, region_http: httpx.AsyncClient) -> None:
    request = await _signed(region.federation_key, "POST", NOTIFY_PATH)
    response = await region_http.send(_copy(request, content=b'{"region":3}'))
    assert response.status_code == 401
    assert await _woken(region) == set()


async def test_tampered_query_is_refused(region_http: httpx.AsyncClient, region: Runtime) -> None:
    request = await _signed(region.federation_key, "GET", LOG_PATH, params={"after": "1:5"})
    tampered = _copy(request, url=request.url.copy_with(params={"after": "1:0"}))
    response = await region_http.send(tampered)
    assert response.status_code == 401
    assert response.json()["error"] == "region request signature mismatch"


@pytest.mark.parametrize(("method", "path"), [("GET", LOG_PATH), ("POST", NOTIFY_PATH)])
async def test_old_request_replayed_is_refused(
    region: Runtime,
    region_http: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    path: str,
) -> None:
    signed_at = time.time() - MAX_SKEW - 60
    with monkeypatch.context() as patch:
        patch.setattr(time, "time", lambda: signed_at)
        request = await _signed(region.federation_key, method, path)
    response = await region_http.send(request)
    assert response.status_code == 401
    assert response.json()["error"] == "region request too old or from the future"
    assert await _woken(region) == set()


async def test_notify_with_a_bad_body_is_refused_and_wakes_nothing(
    region: Runtime, region_http: httpx.AsyncClient
) -> None:
    client = PeerClient(region.federation_key, 2, http=region_http)
    with pytest.raises(PeerError, match="HTTP 400"):
        await client.request("POST", BASE, NOTIFY_PATH, body={"region": "two"})
    assert await _woken(region) == set()
