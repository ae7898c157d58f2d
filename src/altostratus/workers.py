"""Every background worker of a management server, built from the runtime in one place.

The application's lifespan runs them with the one runner (``core.worker``); no worker
module imports the runtime, so the packages below (federation, ha, jobs, services) stay
free of what builds them. What a worker holds beyond its rounds (HTTP clients, jobs and
commands in progress, the outbox's hook) is let go here, after the runner stopped it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from altostratus.core.counter_flush import CounterFlusher
from altostratus.core.worker import Worker, run_round, running
from altostratus.federation.audit import Auditor
from altostratus.federation.gc import Collector
from altostratus.federation.notifier import NOTIFY_TIMEOUT, Notifier
from altostratus.federation.peers import PeerClient
from altostratus.federation.puller import Puller
from altostratus.ha.hosts.monitor import HostHaMonitor
from altostratus.ha.membership import MembershipMonitor
from altostratus.jobs.executor import Executor, JobHandler
from altostratus.runtime import Runtime
from altostratus.services.agents.simulator_fleet import SimulatorFleet
from altostratus.services.events.bus import EventBusPublisher, broker_urls
from altostratus.services.events.dispatch import WebhookWorker
from altostratus.services.images.downloads import TemplateDownloader
from altostratus.services.infrastructure.host_monitor import HostMonitor
from altostratus.services.storage.snapshot_scheduler import SnapshotScheduler
from altostratus.services.usage.worker import UsageMeter

__all__ = [
    "background_workers",
    "compute_workers",
    "event_workers",
    "federation_workers",
    "region_membership",
    "singleton_workers",
]


@asynccontextmanager
async def region_membership(runtime: Runtime) -> AsyncIterator[None]:
    """Be one of the region's management servers while the block runs.

    Joins with a first heartbeat (so a server is listed as soon as it serves; if the
    database cannot take it, the server does not start), keeps heartbeating, and at the
    end leaves: Down at once, so peers need not wait for ``server_down_after``.
    Membership always runs: an API-only server is one too.
    """
    monitor = MembershipMonitor(runtime.db, runtime.deps)
    await run_round(monitor)
    try:
        async with running([monitor]):
            yield
    finally:
        await monitor.leave()


@asynccontextmanager
async def background_workers(
    runtime: Runtime, job_handlers: Mapping[str, JobHandler[Any]]
) -> AsyncIterator[None]:
    """Run the count flusher, and the federation, singleton, compute and event workers
    the settings ask for, while the block runs."""
    async with AsyncExitStack() as stack:
        workers: list[Worker] = [
            # Every server shares its API and failed-login counts, API-only ones included.
            CounterFlusher(
                runtime.db, runtime.deps.counts, runtime.settings.counter_flush_interval
            ),
            *await stack.enter_async_context(federation_workers(runtime)),
            *singleton_workers(runtime),
            *await stack.enter_async_context(compute_workers(runtime, job_handlers)),
            *await stack.enter_async_context(event_workers(runtime)),
        ]
        async with running(workers):
            yield


@asynccontextmanager
async def federation_workers(runtime: Runtime) -> AsyncIterator[list[Worker]]:
    """The puller, notifier, audit and garbage collection.

    A server with ``background_workers`` off only answers the API: it contacts no peer.
    """
    if not runtime.settings.background_workers:
        yield []
        return
    federation = runtime.federation
    key, region = federation.federation_key, federation.deps.local_region_id
    peers = PeerClient(key, region)
    hints = PeerClient(key, region, timeout=NOTIFY_TIMEOUT)
    notifier = Notifier(federation, hints)
    federation.outbox.on_commit = notifier.committed
    try:
        yield [
            Puller(federation, peers),
            notifier,
            Auditor(federation, peers),
            Collector(federation),
        ]
    finally:
        federation.outbox.on_commit = None
        await peers.close()
        await hints.close()


def singleton_workers(runtime: Runtime) -> list[Worker]:
    """The region's singleton work, each under its lease: the usage meter
    (``docs/usage.md``) and the snapshot policy scheduler; none with
    ``background_workers`` off."""
    if not runtime.settings.background_workers:
        return []
    return [UsageMeter(runtime.db, runtime.deps), SnapshotScheduler(runtime.db, runtime.deps)]


@asynccontextmanager
async def compute_workers(
    runtime: Runtime, job_handlers: Mapping[str, JobHandler[Any]]
) -> AsyncIterator[list[Worker]]:
    """The job executor, the simulator fleet, the host monitor, host HA and the template
    downloader; none with ``compute_workers`` off (an API-only server)."""
    if not runtime.settings.compute_workers:
        yield []
        return
    executor = Executor(runtime.db, runtime.deps, job_handlers)
    fleet = SimulatorFleet(runtime.db, runtime.deps)
    downloader = TemplateDownloader(runtime.db, runtime.deps)
    try:
        yield [
            executor,
            executor.renewal,
            *fleet.workers(),
            HostMonitor(runtime.db, runtime.deps),
            HostHaMonitor(runtime.db, runtime.deps),
            downloader,
        ]
    finally:
        await executor.stop()
        await fleet.stop()
        await downloader.stop()


@asynccontextmanager
async def event_workers(runtime: Runtime) -> AsyncIterator[list[Worker]]:
    """The webhook worker, and the event bus publisher when ``event_bus_url`` names a
    broker; none with ``background_workers`` off."""
    if not runtime.settings.background_workers:
        yield []
        return
    urls = broker_urls(runtime.deps)
    publisher = EventBusPublisher(runtime.db, runtime.deps, urls) if urls else None
    hooks = WebhookWorker(runtime.db, runtime.deps)
    try:
        yield [hooks, *([publisher] if publisher else [])]
    finally:
        await hooks.close()
        if publisher is not None:
            await publisher.close()
