"""Throttling holds per region: two ``alto server`` processes on one PostgreSQL behind
HAProxy count an account's requests, and an address's failed logins, together.

One region (two servers, HAProxy round-robin) serves the module. Without the shared
counts each server would allow the whole limit: twice it in total.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import Template
from tests.support.client import ApiClient
from tests.support.haproxy import Backend, Frontend, HAProxy
from tests.support.postgres import TemporaryPostgres
from tests.support.server import LiveServer
from tests.support.world import PASSWORD, Identity

# One region per module: `--dist loadgroup` keeps its tests on one xdist worker.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("throttle_region"),
    pytest.mark.timeout(300),
]

LIMIT = 200
LOGIN_FAILURES = 6
SERVER_ENV = {
    "ALTO_COMPUTE_WORKERS": "0",
    "ALTO_COUNTER_FLUSH_INTERVAL": "0.02",
    "ALTO_LOGIN_SOURCE_FAILURES": str(LOGIN_FAILURES),
}


@dataclass(frozen=True)
class Region:
    base_url: str
    identities: dict[str, Identity]

    def client(self, http: httpx.AsyncClient, name: str) -> ApiClient:
        who = self.identities[name]
        return ApiClient(http, who.api_key, who.secret_key)


@pytest.fixture(scope="module")
def region(
    postgres: TemporaryPostgres,
    templates: dict[str, Template],
    key_file: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Region]:
    """Two servers on a copy of the seeded template (already migrated: both start at once)."""
    if "postgresql" not in templates:
        pytest.skip("needs PostgreSQL")
    template = templates["postgresql"]
    root = tmp_path_factory.mktemp("throttle-region")
    url = postgres.create_database("alto_throttle_region", template=template.source)
    env = SERVER_ENV | {"ALTO_KEY_FILE": str(key_file)}
    with ExitStack() as stack:
        servers = [LiveServer(root / f"s{n}", database_url=url, extra_env=env) for n in (0, 1)]
        for server in servers:
            stack.enter_context(server)
        haproxy = stack.enter_context(
            HAProxy(
                root / "haproxy",
                [Frontend("alto_api", [Backend("127.0.0.1", s.port) for s in servers])],
            )
        )
        haproxy.wait_up("alto_api", {0, 1})
        yield Region(f"http://127.0.0.1:{haproxy.frontends['alto_api'].port}", template.identities)


async def _through_both(region: Region) -> tuple[int, int]:
    """Twice the limit of listZones by one account, from 8 clients at once:
    (served, refused); another account is served meanwhile and after."""
    async with httpx.AsyncClient(base_url=region.base_url, timeout=60) as http:
        admin = region.client(http, "admin")
        for name, value in (
            ("api.throttling.interval", 100_000),
            ("api.throttling.max", LIMIT),
            ("api.throttling.enabled", "true"),
        ):
            await admin.ok("updateConfiguration", name=name, value=value)
        busy, other = region.client(http, "alice"), region.client(http, "bob")
        answers: list[int] = []

        async def send(count: int) -> None:
            for _ in range(count):
                answer = await busy.call("listZones")
                if answer.status == 429:
                    assert int(answer.headers["Retry-After"]) >= 1
                answers.append(answer.status)

        await asyncio.gather(*(send(2 * LIMIT // 8) for _ in range(8)))
        for _ in range(4):  # both servers, twice
            await other.ok("listZones")
        print(f"served {answers.count(200)} of {len(answers)} for a limit of {LIMIT}")
        return answers.count(200), answers.count(429)


async def test_an_accounts_requests_through_two_servers_are_limited_once(region: Region) -> None:
    served, refused = await _through_both(region)
    assert served + refused == 2 * LIMIT
    assert LIMIT * 0.97 <= served <= LIMIT * 1.03, f"{served} served for a limit of {LIMIT}"


async def _login(http: httpx.AsyncClient, username: str, password: str) -> int:
    params = {"command": "login", "response": "json", "username": username, "domain": "/d1"}
    answer = await http.post("/client/api", params=params | {"password": password})
    return answer.status_code


async def test_failed_logins_through_two_servers_are_counted_together(region: Region) -> None:
    """The limit's failures, half on each server, refuse the address on both: even a
    correct password is answered 429 by every server, once the counts are flushed (a
    served login does not count, so only the other server's failures can refuse it)."""
    async with httpx.AsyncClient(base_url=region.base_url, timeout=30) as http:
        for attempt in range(LOGIN_FAILURES):
            assert await _login(http, f"nobody{attempt}", "guess") == 531
        deadline = time.monotonic() + 30
        answers: list[int] = []
        while answers[-2:] != [429, 429]:
            assert time.monotonic() < deadline, f"not refused by both servers: {answers}"
            answers.append(await _login(http, "alice", PASSWORD))
