"""The federation's background work, started and stopped with the application."""

from __future__ import annotations

import asyncio

from altostratus.runtime import Runtime

__all__ = ["start_workers"]


def start_workers(runtime: Runtime) -> list[asyncio.Task[None]]:
    """Start the background tasks of this server; the app cancels them at shutdown."""
    return []
