"""Fixtures for the region-to-region endpoints: one region served in-process.

``serve`` builds the app around an already started Runtime without running its
lifespan, so no puller or notifier runs behind a test's back: tests drive them by hand.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from altostratus.api.app import create_app
from altostratus.api.dispatch import Dispatcher
from altostratus.api.registry import build_registry
from altostratus.runtime import Runtime
from altostratus.settings import Settings


def serve(runtime: Runtime) -> Starlette:
    """The full app (API and federation routes) of ``runtime``, with no background workers."""
    app = create_app(runtime.settings)
    app.state.runtime = runtime
    app.state.registry = build_registry()
    app.state.dispatcher = Dispatcher(runtime.db, runtime.deps, app.state.registry)
    return app


@pytest.fixture
async def region(settings: Settings) -> AsyncIterator[Runtime]:
    """The seeded test database (SQLite and PostgreSQL) as a started region."""
    runtime = await Runtime.start(settings)
    try:
        yield runtime
    finally:
        await runtime.close()


@pytest.fixture
async def region_http(region: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=serve(region))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
