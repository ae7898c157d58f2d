"""Snapshots and the join endpoint in one process: region A answers, a fresh B installs.

A serves only its join route (an ASGI app around A's Runtime), so each test sees exactly
what the join does; the API calls go through A's and B's real dispatchers.
"""

from __future__ import annotations

import asyncio
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette

from altostratus.api.dispatch import ApiRequest, Dispatcher
from altostratus.api.federation.join import join_routes
from altostratus.api.registry import build_registry
from altostratus.core.worker import running
from altostratus.db.models import AsyncJob, EntityVersion, Region, ReplicationEntry
from altostratus.federation.apply import store_entries
from altostratus.federation.join import JOIN_PATH, JoinError, JoinRequest, join_region, request_join
from altostratus.federation.snapshot import DEPENDENCY_ORDER, read_snapshot
from altostratus.jobs.executor import Executor
from altostratus.jobs.status import JobStatus
from altostratus.runtime import Runtime
from altostratus.security.signatures import sign
from altostratus.settings import Settings
from tests.federation.support import dump, log_entries, region_settings, vector
from tests.support.world import Identity

PEER = "http://region-a/client/api"
#: Nothing listens here: the joining region is not serving (a closed loopback port).
B_ENDPOINT = "http://127.0.0.1:9/client/api"


@dataclass(frozen=True)
class Keys:
    api_key: str
    secret_key: str


async def call(runtime: Runtime, keys: Keys | None, command: str, **params: str) -> dict[str, Any]:
    """One API call through ``runtime``'s dispatcher, signed unless ``keys`` is None."""
    signed = {**params, "command": command, "response": "json"}
    if keys is not None:
        signed["apikey"] = keys.api_key
        signed["signature"] = sign(signed, keys.secret_key)
    request = ApiRequest("POST", signed, {k.lower(): v for k, v in signed.items()})
    outcome = await Dispatcher(runtime.db, runtime.deps, build_registry()).dispatch(request)
    return outcome.payload


@dataclass
class RegionA:
    runtime: Runtime
    admin: Keys
    http: httpx.AsyncClient

    def request(self, keys: Keys | None = None, **identity: Any) -> JoinRequest:
        who = keys or self.admin
        return JoinRequest(PEER, who.api_key, who.secret_key, **identity)


@pytest.fixture
async def region_a(tmp_path: Path) -> AsyncIterator[RegionA]:
    runtime = await Runtime.start(region_settings(tmp_path / "a", 1))
    assert runtime.new_admin is not None
    app = Starlette(routes=join_routes())
    app.state.runtime = runtime
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://region-a") as http:
        yield RegionA(runtime, Keys(runtime.new_admin.api_key, runtime.new_admin.secret_key), http)
    await runtime.close()


async def fresh_region(tmp_path: Path, region_id: int = 2) -> Settings:
    """A region's data directory after its server's first start (and stop)."""
    settings = region_settings(tmp_path / f"r{region_id}", region_id)
    await (await Runtime.start(settings)).close()
    return settings


async def add_user(a: RegionA, name: str, **params: str) -> tuple[dict[str, Any], Keys]:
    """An account with one user on A, and the user's new key pair."""
    account = (
        await call(
            a.runtime,
            a.admin,
            "createAccount",
            username=name,
            password="s3cret-pass",
            email=f"{name}@example.org",
            firstname=name,
            lastname="Test",
            **params,
        )
    )["account"]
    user_id = account["user"][0]["id"]
    keys = (await call(a.runtime, a.admin, "registerUserKeys", id=user_id))["userkeys"]
    return account, Keys(keys["apikey"], keys["secretkey"])


async def finish_jobs(runtime: Runtime, *, within: float = 20.0) -> None:
    """Run the submitted jobs to their end with an executor, as a server's lifespan would."""
    executor = Executor(runtime.db, runtime.deps, build_registry().job_handlers)
    deadline = asyncio.get_running_loop().time() + within
    try:
        async with running([executor, executor.renewal]):
            while True:
                async with runtime.db.transaction(write=False) as session:
                    pending = await session.scalar(
                        select(func.count()).where(AsyncJob.status == JobStatus.PENDING)
                    )
                if not pending:
                    return
                assert asyncio.get_running_loop().time() < deadline, "jobs still pending"
                await asyncio.sleep(0.05)
    finally:
        await executor.stop()


async def populate(a: RegionA) -> None:
    """Logged changes of every kind on A: a domain tree, accounts, users, a deletion."""
    assert a.runtime.new_admin is not None
    emea = (await call(a.runtime, a.admin, "createDomain", name="emea"))["domain"]
    await call(a.runtime, a.admin, "createDomain", name="paris", parentdomainid=emea["id"])
    await add_user(a, "alice", domainid=emea["id"], accounttype="0")
    doomed, _ = await add_user(a, "doomed", accounttype="0")
    await call(a.runtime, a.admin, "deleteAccount", id=doomed["id"])
    await finish_jobs(a.runtime)
    login = await call(
        a.runtime, a.admin, "login", username="admin", password=a.runtime.new_admin.password
    )
    await call(a.runtime, None, "logout", sessionkey=login["sessionkey"])


async def versions(runtime: Runtime) -> dict[tuple[str, str], tuple[str, bool]]:
    async with runtime.db.transaction(write=False) as session:
        rows = await session.scalars(select(EntityVersion))
        return {(r.entity_type, r.entity_key): (r.version, r.deleted) for r in rows}


async def region_names(runtime: Runtime) -> dict[int, str]:
    async with runtime.db.transaction(write=False) as session:
        return {r.id: r.name for r in await session.scalars(select(Region))}


async def test_a_joined_region_holds_the_same_global_state(
    region_a: RegionA, tmp_path: Path
) -> None:
    await populate(region_a)
    settings_b = await fresh_region(tmp_path)
    joined = await join_region(
        settings_b,
        region_a.request(region_name="R2", endpoint=B_ENDPOINT),
        http=region_a.http,
    )
    assert (joined.region_id, joined.region_name, joined.endpoint) == (2, "R2", B_ENDPOINT)
    b = await Runtime.start(settings_b)
    try:
        assert b.new_admin is None, "B must keep the installed state, not bootstrap again"
        assert b.deps.local_region_id == 2
        assert await dump(b) == await dump(region_a.runtime)
        assert await versions(b) == await versions(region_a.runtime)
        assert await vector(b) == {**await vector(region_a.runtime), 2: 0}
        assert b.federation_key == region_a.runtime.federation_key
        # The region was added on A as a logged change, so every region learns it.
        assert [e["entity_key"] for e in await log_entries(region_a.runtime)].count("2") == 1
        assert (await region_names(b))[2] == "R2"
        # A's root admin keys and sessions work on B (the same key file and session key).
        listed = await call(b, region_a.admin, "listRegions")
        assert {r["id"]: r["endpoint"] for r in listed["region"]} == {
            1: region_a.runtime.settings.endpoint,
            2: B_ENDPOINT,
        }
        assert region_a.runtime.new_admin is not None
        login = await call(
            region_a.runtime,
            region_a.admin,
            "login",
            username="admin",
            password=region_a.runtime.new_admin.password,
        )
        assert (await call(b, None, "listZones", sessionkey=login["sessionkey"])) == {}
    finally:
        await b.close()
    assert settings_b.resolved_key_file.read_bytes().strip() == (
        region_a.runtime.settings.resolved_key_file.read_bytes().strip()
    )
    admin_file = settings_b.data_dir / "admin.json"
    assert stat.S_IMODE(admin_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(settings_b.resolved_key_file.stat().st_mode) == 0o600
    assert orjson.loads(admin_file.read_bytes()) == {
        "endpoint": B_ENDPOINT,
        "username": "admin",
        "password": None,
        "apikey": region_a.admin.api_key,
        "secretkey": region_a.admin.secret_key,
    }


async def test_joining_again_with_the_same_identity_is_idempotent(region_a: RegionA) -> None:
    request = region_a.request()
    first = await request_join(
        request, region_id=2, name="R2", endpoint=B_ENDPOINT, http=region_a.http
    )
    again = await request_join(
        request, region_id=2, name="R2", endpoint=B_ENDPOINT, http=region_a.http
    )
    assert first["keys"] == again["keys"]
    assert first["snapshot"] == again["snapshot"]
    assert await region_names(region_a.runtime) == {1: "R1", 2: "R2"}


@pytest.mark.parametrize(
    ("identity", "why"),
    [
        ({"region_id": 2, "name": "Other", "endpoint": B_ENDPOINT}, "already exists"),
        ({"region_id": 3, "name": "R2", "endpoint": B_ENDPOINT}, "already exists"),
        ({"region_id": 1, "name": "R9", "endpoint": B_ENDPOINT}, "id of the region joined"),
        ({"region_id": 0, "name": "R9", "endpoint": B_ENDPOINT}, "regionid"),
        ({"region_id": 4, "name": "R4", "endpoint": "ftp://r4/"}, "endpoint"),
    ],
)
async def test_conflicting_or_bad_identities_are_refused_with_431(
    region_a: RegionA, identity: dict[str, Any], why: str
) -> None:
    request = region_a.request()
    await request_join(request, region_id=2, name="R2", endpoint=B_ENDPOINT, http=region_a.http)
    with pytest.raises(JoinError, match=r"\(431\)") as refused:
        await request_join(request, http=region_a.http, **identity)
    assert why in str(refused.value)
    assert await region_names(region_a.runtime) == {1: "R1", 2: "R2"}


async def test_only_a_root_admin_may_join(region_a: RegionA) -> None:
    _, user = await add_user(region_a, "alice", accounttype="0")
    _, domain_admin = await add_user(region_a, "dadmin", accounttype="2")
    for keys in (user, domain_admin):
        with pytest.raises(JoinError, match=r"\(531\)"):
            await request_join(
                region_a.request(keys), region_id=2, name="R2", endpoint=B_ENDPOINT,
                http=region_a.http,
            )  # fmt: skip
    assert await region_names(region_a.runtime) == {1: "R1"}


async def test_unsigned_forged_or_replayable_joins_are_refused_with_401(
    region_a: RegionA,
) -> None:
    forged = Keys(region_a.admin.api_key, "not-the-secret")
    with pytest.raises(JoinError, match=r"\(401\)"):
        await request_join(
            region_a.request(forged), region_id=2, name="R2", endpoint=B_ENDPOINT,
            http=region_a.http,
        )  # fmt: skip
    params = {"regionid": "2", "regionname": "R2", "endpoint": B_ENDPOINT}
    no_expiry = {**params, "apikey": region_a.admin.api_key}
    no_expiry["signature"] = sign(no_expiry, region_a.admin.secret_key)
    expired = {**no_expiry, "signatureversion": "3", "expires": "2020-01-01T00:00:00+0000"}
    expired["signature"] = sign(expired, region_a.admin.secret_key)
    for body in (params, no_expiry, expired):
        answer = await region_a.http.post(JOIN_PATH, data=body)
        assert answer.status_code == 401
        assert answer.json()["joinresponse"]["errorcode"] == 401
    assert await region_names(region_a.runtime) == {1: "R1"}


async def test_a_database_with_its_own_identities_is_not_joined(
    region_a: RegionA, tmp_path: Path
) -> None:
    settings_b = region_settings(tmp_path / "r2", 2)
    b = await Runtime.start(settings_b)
    try:
        assert b.new_admin is not None
        b_admin = Keys(b.new_admin.api_key, b.new_admin.secret_key)
        await call(b, b_admin, "createDomain", name="local-only")
    finally:
        await b.close()
    key_before = settings_b.resolved_key_file.read_bytes()
    with pytest.raises(JoinError, match="holds domains created here"):
        await join_region(settings_b, region_a.request(endpoint=B_ENDPOINT), http=region_a.http)
    assert settings_b.resolved_key_file.read_bytes() == key_before
    assert await region_names(region_a.runtime) == {1: "R1"}, "the peer was never asked"


async def test_a_joined_region_cannot_join_again_or_change_its_id(
    region_a: RegionA, tmp_path: Path
) -> None:
    settings_b = await fresh_region(tmp_path)
    with pytest.raises(JoinError, match="started as region 2, not 3"):
        await join_region(settings_b, region_a.request(region_id=3), http=region_a.http)
    request = region_a.request(endpoint=B_ENDPOINT)
    await join_region(settings_b, request, http=region_a.http)
    with pytest.raises(JoinError, match=r"already belongs to a federation \(it knows regions"):
        await join_region(settings_b, request, http=region_a.http)


async def test_entries_waiting_for_a_reference_travel_with_the_snapshot(
    region_a: RegionA, tmp_path: Path
) -> None:
    waiting = {
        "origin": 3,
        "seq": 1,
        "entity_type": "user",
        "entity_key": "00000000-0000-4000-8000-000000000001",
        "version": "9999999999999.00000.00003.000000000001",
        "payload": orjson.dumps({"account": "00000000-0000-4000-8000-00000000000a"}).decode(),
    }
    async with region_a.runtime.db.transaction(replicating=True) as session:
        await session.run_sync(lambda s: store_entries(s, [waiting]))
    settings_b = await fresh_region(tmp_path)
    await join_region(settings_b, region_a.request(endpoint=B_ENDPOINT), http=region_a.http)
    b = await Runtime.start(settings_b)
    try:
        assert (await vector(b))[3] == 1
        async with b.db.transaction(write=False) as session:
            entry = await session.get(ReplicationEntry, (3, 1))
        assert entry is not None
        assert not entry.applied
        assert entry.payload == waiting["payload"]
    finally:
        await b.close()


async def test_snapshot_lists_entities_in_dependency_order(
    settings: Settings, identities: dict[str, Identity]
) -> None:
    """On both backends (PostgreSQL reads it under repeatable read)."""
    runtime = await Runtime.start(settings)
    try:
        snapshot = await read_snapshot(runtime.db)
    finally:
        await runtime.close()
    kinds = [e["entity_type"] for e in snapshot["entities"]]
    assert kinds == sorted(kinds, key=DEPENDENCY_ORDER.index)
    seen: set[str | None] = {None}
    for entity in snapshot["entities"]:
        if entity["entity_type"] == "domain":
            payload = orjson.loads(entity["payload"] or "null")
            assert payload["parent"] in seen, "a parent comes before its children"
            seen.add(entity["entity_key"])
    users = {e["entity_key"] for e in snapshot["entities"] if e["entity_type"] == "user"}
    assert {who.user_id for who in identities.values()} <= users
    assert all(not e["deleted"] for e in snapshot["entities"])
