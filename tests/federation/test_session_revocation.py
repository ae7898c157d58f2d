"""A password changed in one region ends the user's sessions in every region.

Sessions are signed tokens every region accepts, so ending them is a replicated
revocation row; this follows one from region 1 to region 2 as the puller carries it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from altostratus.runtime import Runtime
from altostratus.services.identity.users import update_user
from tests.federation.conftest import serve
from tests.federation.support import as_admin, exchange, federated_runtimes, new_account


@pytest.fixture
async def regions(tmp_path: Path) -> AsyncIterator[list[Runtime]]:
    runtimes = await federated_runtimes(tmp_path, 2)
    try:
        yield runtimes
    finally:
        for runtime in runtimes:
            await runtime.close()


def _client(runtime: Runtime) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=serve(runtime))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def _login(http: httpx.AsyncClient, password: str) -> httpx.Response:
    return await http.post(
        "/client/api",
        params={"command": "login", "response": "json", "username": "dora"}
        | {"password": password},
    )


async def _call(http: httpx.AsyncClient, token: str) -> int:
    response = await http.get(
        "/client/api", params={"command": "listRegions", "response": "json", "sessionkey": token}
    )
    return response.status_code


async def test_a_password_reset_in_one_region_ends_the_sessions_in_another(
    regions: list[Runtime],
) -> None:
    first, second = regions
    async with as_admin(first) as ctx:
        created = await new_account(ctx, "ops", ctx.caller.domain_uuid, "dora")
    user_uuid = created.users[0].uuid
    await exchange(first, second)
    async with _client(first) as one, _client(second) as two:
        login = await _login(two, "pw-dora")
        assert login.status_code == 200, login.text
        token = login.json()["loginresponse"]["sessionkey"]
        assert await _call(one, token) == 200, "a session is good in every region"

        async with as_admin(first) as ctx:
            await update_user(
                ctx,
                user_uuid=user_uuid,
                username=None,
                email=None,
                firstname=None,
                lastname=None,
                timezone=None,
                password="pw-new",
                current_password=None,
            )
        assert await _call(one, token) == 401
        await exchange(first, second)
        assert await _call(two, token) == 401
        again = await _login(two, "pw-new")
        assert again.status_code == 200, again.text
        assert await _call(two, again.json()["loginresponse"]["sessionkey"]) == 200
