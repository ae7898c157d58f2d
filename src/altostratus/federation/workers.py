"""The federation's background work, started and stopped with the application."""

from __future__ import annotations

import asyncio

from altostratus.federation.audit import start_auditor
from altostratus.federation.gc import start_collector
from altostratus.federation.notifier import start_notifier
from altostratus.federation.puller import start_puller
from altostratus.runtime import Runtime

__all__ = ["start_workers"]


def start_workers(runtime: Runtime) -> list[asyncio.Task[None]]:
    """Start the background tasks of this server; the app cancels them at shutdown.

    A server with ``background_workers`` off only answers the API: it contacts no peer.
    """
    if not runtime.settings.background_workers:
        return []
    return [
        start_puller(runtime),
        start_notifier(runtime),
        start_auditor(runtime),
        start_collector(runtime),
    ]
