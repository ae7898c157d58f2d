"""A bare database per test (schema from the models, one zone of hosts), on each backend."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from altostratus.db.engine import Database
from tests.conftest import BACKENDS
from tests.scheduler.fleet import Fleet, create_fleet
from tests.support.postgres import TemporaryPostgres

_created = iter(range(1_000_000))


@dataclass(frozen=True)
class FleetDb:
    db: Database
    fleet: Fleet
    backend: str


@pytest.fixture(params=BACKENDS)
async def fleet_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[FleetDb]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'fleet.db'}"
    else:
        postgres: TemporaryPostgres = request.getfixturevalue("postgres")
        url = postgres.create_database(f"alto_fleet_{os.getpid()}_{next(_created)}")
    db = Database(url)
    try:
        yield FleetDb(db, await create_fleet(db), request.param)
    finally:
        await db.close()
