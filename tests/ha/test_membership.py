"""Management-server membership: rows, heartbeats, peers declared Down, listManagementServers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette

from altostratus.api.app import create_app
from altostratus.db.engine import Database
from altostratus.db.models import AsyncJob, Event, ManagementServer
from altostratus.ha.membership import MembershipMonitor, ServerIdentity
from altostratus.jobs.status import JobStatus
from altostratus.runtime import Runtime
from altostratus.settings import Settings
from altostratus.timeutil import utcnow
from tests.conftest import Clients
from tests.support.client import ApiClient

pytestmark = pytest.mark.usefixtures("app")

PEER_ID = "peer-host:4242:abcdef"


async def _add_silent_peer(runtime: Runtime, silent_for: float) -> str:
    """A peer server whose last heartbeat is ``silent_for`` seconds old, owning a job."""
    then = utcnow() - timedelta(seconds=silent_for)
    peer = ServerIdentity.of_this_process(PEER_ID, "http://10.0.0.9:8080")
    async with runtime.db.transaction() as session:
        server = ManagementServer(**peer.__dict__, state="Up", last_heartbeat=then, started=then)
        session.add(server)
        session.add(
            AsyncJob(
                command="deployVirtualMachine",
                user_uuid="u",
                account_uuid="a",
                domain_path="ROOT/",
                kind="deploy",
                payload="{}",
                owner=peer.server_id,
                lease_expires=utcnow() + timedelta(seconds=300),
                attempts=1,
            )
        )
        await session.flush()
        return server.uuid


async def test_a_running_server_lists_itself_up(api: ApiClient, app: Starlette) -> None:
    runtime: Runtime = app.state.runtime
    await MembershipMonitor(runtime.db, runtime.deps).run_once()
    body = await api.ok("listManagementServers")
    assert body["count"] == 1
    (server,) = body["managementserver"]
    assert server["state"] == "Up"
    assert server["version"]
    assert server["lastserverstart"]
    assert server["lastheartbeat"]
    assert "lastserverstop" not in server
    assert (await api.ok("listManagementServers", state="Down")).get("count", 0) == 0


async def test_a_silent_peer_is_declared_down_and_its_jobs_handed_back(
    api: ApiClient, app: Starlette, settings: Settings
) -> None:
    runtime: Runtime = app.state.runtime
    peer_uuid = await _add_silent_peer(runtime, settings.server_down_after + 1)
    # This server's own monitor may get there first: either way, the peer is Down once.
    await MembershipMonitor(runtime.db, runtime.deps).run_once()

    body = await api.ok("listManagementServers", id=peer_uuid)
    assert body["managementserver"][0]["state"] == "Down"
    assert body["managementserver"][0]["lastserverstop"]
    async with runtime.db.transaction(write=False) as session:
        job = await session.scalar(select(AsyncJob).where(AsyncJob.kind == "deploy"))
        events = list(
            await session.scalars(select(Event).where(Event.type == "MANAGEMENT.SERVER.DOWN"))
        )
    assert job is not None
    # Handed back: due at once, unless this server's executor already took it over.
    if job.owner == PEER_ID:
        assert job.status == JobStatus.PENDING
        assert job.lease_expires is not None
        assert job.lease_expires <= utcnow()
    assert len(events) == 1
    assert peer_uuid in events[0].description
    # Declared once: the next round finds nothing more to do.
    assert await MembershipMonitor(runtime.db, runtime.deps).run_once() == []


async def test_a_recent_peer_stays_up(api: ApiClient, app: Starlette, settings: Settings) -> None:
    runtime: Runtime = app.state.runtime
    peer_uuid = await _add_silent_peer(runtime, settings.server_down_after - 5)
    assert await MembershipMonitor(runtime.db, runtime.deps).run_once() == []
    body = await api.ok("listManagementServers", id=peer_uuid)
    assert body["managementserver"][0]["state"] == "Up"


async def test_a_server_declared_down_comes_back_up_at_its_next_heartbeat(
    api: ApiClient, app: Starlette
) -> None:
    runtime: Runtime = app.state.runtime
    monitor = MembershipMonitor(runtime.db, runtime.deps)
    await monitor.run_once()
    async with runtime.db.transaction() as session:
        await session.execute(
            update(ManagementServer)
            .where(ManagementServer.server_id == runtime.deps.server_id)
            .values(state="Down", stopped=utcnow())
        )
    await monitor.run_once()
    (server,) = (await api.ok("listManagementServers"))["managementserver"]
    assert server["state"] == "Up"
    assert "lastserverstop" not in server


async def test_a_clean_stop_marks_the_server_down_at_once(settings: Settings) -> None:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        runtime: Runtime = application.state.runtime
        server_id = runtime.deps.server_id
    assert settings.database_url is not None
    db = Database(settings.database_url)
    try:
        async with db.transaction(write=False) as session:
            row = await session.scalar(
                select(ManagementServer).where(ManagementServer.server_id == server_id)
            )
    finally:
        await db.close()
    assert row is not None
    assert row.state == "Down"
    assert row.stopped is not None


async def test_only_root_admins_list_servers_and_bad_filters_are_refused(
    clients: Clients,
) -> None:
    await clients.alice.fails("listManagementServers", 531)
    await clients.d1admin.fails("listManagementServers", 531)
    text = await clients.admin.fails("listManagementServers", 431, state="Sideways")
    assert "state" in text
    text = await clients.admin.fails("listManagementServers", 431, id="not-a-uuid")
    assert "id" in text
