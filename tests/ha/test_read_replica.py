"""Listings served by a streaming replica keep read-your-writes.

``read_database_url`` names a replica of the Patroni cluster. A listing waits until the
replica has replayed what the primary had committed when the listing began, so a caller
always sees what it just wrote; a replica that cannot be reached leaves the listing to
the primary.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
from prometheus_client import REGISTRY

from altostratus.api.app import create_app
from tests.conftest import test_settings as settings_for
from tests.support.client import ApiClient
from tests.support.ha_cluster import PatroniCluster
from tests.support.postgres import free_port

# The timeout covers the module's cluster bootstrap, which the first test's setup runs.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ha_cluster"), pytest.mark.timeout(400)]


#: The root admin's keys, from the test that bootstrapped the cluster's database.
_ADMIN_KEYS: list[str] = []


def _reads(served_by: str) -> float:
    value = REGISTRY.get_sample_value("altostratus_list_reads_total", {"served_by": served_by})
    return value or 0.0


@asynccontextmanager
async def _admin(
    cluster: PatroniCluster, read_url: str, data_dir: Path, key_file: Path
) -> AsyncIterator[ApiClient]:
    """The root admin of an in-process server on the cluster, listing from ``read_url``."""
    settings = settings_for(
        data_dir, cluster.url, key_file, read_database_url=read_url, compute_workers=False
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        admin = app.state.runtime.new_admin
        if admin is not None:  # else an earlier test of the module bootstrapped the database
            _ADMIN_KEYS[:] = [admin.api_key, admin.secret_key]
        yield ApiClient(http, *_ADMIN_KEYS)


async def _in_recovery(url: str) -> bool:
    connection = await asyncpg.connect(url)
    try:
        return bool(await connection.fetchval("SELECT pg_is_in_recovery()"))
    finally:
        await connection.close()


async def test_a_caller_sees_its_writes_in_listings_served_by_the_replica(
    cluster: PatroniCluster, tmp_path: Path, key_file: Path
) -> None:
    leader = cluster.wait_healthy()
    replica = next(node for node in range(len(cluster.nodes)) if node != leader)
    assert await _in_recovery(cluster.node_url(replica))
    before = _reads("replica")
    async with _admin(cluster, cluster.node_url(replica), tmp_path / "data", key_file) as admin:
        for number in range(20):
            name = f"replica-{number}"
            await admin.ok("createDomain", name=name)
            listed = await admin.ok("listDomains", name=name, listall=True)
            assert listed.get("count") == 1, f"{name} missing right after it was created"
    assert _reads("replica") - before >= 20


async def test_an_unreachable_replica_leaves_listings_to_the_primary(
    cluster: PatroniCluster, tmp_path: Path, key_file: Path
) -> None:
    cluster.wait_healthy()
    dead = f"postgresql://alto:{cluster.app_password}@127.0.0.1:{free_port()}/alto"
    before = _reads("primary")
    async with _admin(cluster, dead, tmp_path / "data", key_file) as admin:
        await admin.ok("createDomain", name="primary-read")
        listed = await asyncio.wait_for(
            admin.ok("listDomains", name="primary-read", listall=True), timeout=10
        )
    assert listed.get("count") == 1
    assert _reads("primary") - before >= 1
