"""Federations for tests: several regions in one process, or as real server processes.

Region 1 is bootstrapped as usual. Before it is copied, region 1 itself registers the
other regions (``add_region``, a logged change, as a join would do), so every copy
starts with the same regions, the same log and the same versions: what a joining
region gets from its snapshot. Each copy (database file and key file) then only gets
its own ``local-region-id``; a Runtime reads its identity from there on start.

Nothing here talks HTTP: ``exchange`` moves log entries from one region's database to
another's exactly as the puller does (``store_entries`` + ``apply_pending`` in one
replicating transaction), so tests choose which entries arrive where, and when.

``live_federation`` builds the real thing the documented way (``alto region join``, then
``alto server``), for the slow tests and the replication benchmark.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from altostratus.core.context import Caller, ServiceContext
from altostratus.db.engine import Database
from altostratus.db.models import AccountType, Domain, ReplicationEntry, ReplicationVector, User
from altostratus.federation.apply import WireEntry, apply_pending, store_entries
from altostratus.federation.entities import SPECS
from altostratus.runtime import Runtime
from altostratus.security.signatures import sign
from altostratus.services.identity.accounts import AccountWithUsers, create_account
from altostratus.services.identity.regions import add_region
from altostratus.services.identity.users import NewUser
from altostratus.settings import Settings
from tests.support.postgres import free_port
from tests.support.server import LiveServer

__all__ = [
    "Dump",
    "Exchanged",
    "LiveRegion",
    "admin_keys",
    "as_admin",
    "build_federation",
    "call_ok",
    "copy_federation",
    "dump",
    "dump_database",
    "eventually",
    "exchange",
    "federated_runtimes",
    "live_dumps",
    "live_federation",
    "log_entries",
    "region_settings",
    "signed_call",
    "start_all",
    "stop_all",
    "vector",
]

#: ``{entity type: {entity key: state}}``; the state is the replicated payload plus what
#: each region derives locally (a domain's path and level, a user's domain), no local ids.
Dump = dict[str, dict[str, dict[str, Any]]]
Exchanged = tuple[int, int, int]
T = TypeVar("T")


def region_settings(data_dir: Path, region_id: int) -> Settings:
    """An SQLite region in ``data_dir`` (database and key file inside); cheap hashing."""
    return Settings(
        data_dir=data_dir,
        region_id=region_id,
        region_name=f"R{region_id}",
        password_time_cost=1,
        password_memory_kib=64,
    )


def new_user(username: str) -> NewUser:
    """A user's creation fields, derived from its name (password ``pw-<name>``)."""
    return NewUser(
        username=username,
        password="pw-" + username,
        email=f"{username}@example.org",
        firstname=username,
        lastname="Fed",
        timezone=None,
        user_uuid=None,
    )


async def new_account(
    ctx: ServiceContext, name: str, domain_uuid: str, first_user: str
) -> AccountWithUsers:
    """A user account ``name`` in ``domain_uuid`` whose first user is ``first_user``."""
    return await create_account(
        ctx,
        user=new_user(first_user),
        account_type=AccountType.USER,
        role_uuid=None,
        name=name,
        domain_uuid=domain_uuid,
        network_domain=None,
        account_uuid=None,
        details={},
    )


@asynccontextmanager
async def as_admin(runtime: Runtime) -> AsyncIterator[ServiceContext]:
    """One transaction as the root admin, for calling services directly."""
    async with runtime.db.transaction() as session:
        admin = await session.scalar(select(User).where(User.username == "admin"))
        assert admin is not None
        yield ServiceContext(session, Caller.of(admin, admin.account), runtime.deps)


async def build_federation(
    tmp_path: Path,
    n: int,
    prepare: Callable[[Runtime], Awaitable[None]] | None = None,
) -> list[Settings]:
    """Create ``n`` region directories under ``tmp_path`` (nothing left running).

    ``prepare`` runs in region 1 after the other regions are registered and before the
    copies are taken: what it creates every region starts with, as after a join.
    """
    first = region_settings(tmp_path / "r1", 1)
    runtime = await Runtime.start(first)
    try:
        async with as_admin(runtime) as ctx:
            for region_id in range(2, n + 1):
                await add_region(
                    ctx,
                    region_id=region_id,
                    name=f"R{region_id}",
                    endpoint=f"http://r{region_id}.invalid/client/api",
                )
        if prepare is not None:
            await prepare(runtime)
    finally:
        # Closing checkpoints the WAL, so the database file alone is the whole state.
        await runtime.close()
    regions = [first]
    for region_id in range(2, n + 1):
        settings = region_settings(tmp_path / f"r{region_id}", region_id)
        shutil.copytree(first.data_dir, settings.data_dir)
        with sqlite3.connect(settings.data_dir / "altostratus.db") as connection:
            connection.execute(
                "UPDATE system_values SET value = ? WHERE name = 'local-region-id'",
                (str(region_id),),
            )
        connection.close()
        regions.append(settings)
    return regions


def copy_federation(regions: Sequence[Settings], target: Path) -> list[Settings]:
    """Fresh copies of stopped regions' directories (one template, many examples)."""
    copies = []
    for index, settings in enumerate(regions, start=1):
        copy = region_settings(target / f"r{index}", index)
        shutil.copytree(settings.data_dir, copy.data_dir)
        copies.append(copy)
    return copies


async def start_all(regions: Sequence[Settings]) -> list[Runtime]:
    runtimes: list[Runtime] = []
    try:
        for settings in regions:
            runtimes.append(await Runtime.start(settings))
    except BaseException:
        for runtime in runtimes:
            await runtime.close()
        raise
    return runtimes


async def federated_runtimes(tmp_path: Path, n: int) -> list[Runtime]:
    """``n`` started regions (ids 1..n) that know each other; the caller closes them."""
    return await start_all(await build_federation(tmp_path, n))


async def log_entries(runtime: Runtime) -> list[WireEntry]:
    """Every entry ``runtime`` holds, of every origin, in (origin, seq) order."""
    async with runtime.db.transaction(write=False) as session:
        rows = await session.scalars(
            select(ReplicationEntry).order_by(ReplicationEntry.origin, ReplicationEntry.seq)
        )
        return [
            {
                "origin": row.origin,
                "seq": row.seq,
                "entity_type": row.entity_type,
                "entity_key": row.entity_key,
                "version": row.version,
                "payload": row.payload,
            }
            for row in rows
        ]


async def vector(runtime: Runtime) -> dict[int, int]:
    """How far each origin's entries have arrived in ``runtime``."""
    async with runtime.db.transaction(write=False) as session:
        return {row.origin: row.seq for row in await session.scalars(select(ReplicationVector))}


async def exchange(
    src: Runtime, dst: Runtime, entries: Sequence[WireEntry] | None = None
) -> Exchanged:
    """Deliver ``entries`` (default: all of ``src``'s log) to ``dst`` as its puller would.

    Returns (stored, applied, still waiting) as ``dst`` counted them.
    """
    wire = await log_entries(src) if entries is None else list(entries)
    async with dst.db.transaction(replicating=True) as session:
        stored = await session.run_sync(lambda s: store_entries(s, wire))
        applied, waiting = await session.run_sync(lambda s: apply_pending(s, dst.outbox.clock))
    return stored, applied, waiting


async def dump(runtime: Runtime) -> Dump:
    """The global tables of ``runtime`` as every converged region must hold them."""
    return await dump_database(runtime.db)


async def dump_database(db: Database) -> Dump:
    """``dump`` of any region's database, also one a live server is using."""
    async with db.transaction(write=False) as session:
        return await session.run_sync(_dump)


def _dump(session: Session) -> Dump:
    tables: Dump = {}
    for spec in SPECS:
        rows = session.scalars(select(spec.model)).unique().all()
        tables[spec.name] = {
            spec.key_of(row): spec.to_payload(session, row) | _derived(session, row) for row in rows
        }
    return tables


def _derived(session: Session, row: Any) -> dict[str, Any]:
    if isinstance(row, Domain):
        return {"path": row.path, "level": row.level}
    if isinstance(row, User):
        domain = session.get(Domain, row.domain_id)
        return {"domain": domain.uuid if domain is not None else None}
    return {}


# --- real server processes ----------------------------------------------------------------

#: Fast pulls, so tests and benchmarks do not wait on the fallback timer.
LIVE_ENV = {"ALTO_REPLICATION_INTERVAL": "0.5", "ALTO_BACKGROUND_WORKERS": "1"}


def signed_call(endpoint: str, keys: dict[str, str], command: str, **params: str) -> httpx.Response:
    """A signed API GET with ``keys`` (``apikey``/``secretkey``, as in ``admin.json``)."""
    query = {**params, "command": command, "response": "json", "apikey": keys["apikey"]}
    query["signature"] = sign(query, keys["secretkey"])
    return httpx.get(endpoint, params=query, timeout=30)


def call_ok(endpoint: str, keys: dict[str, str], command: str, **params: str) -> dict[str, Any]:
    """The answer's single top-level object; fails the test unless the status is 200."""
    response = signed_call(endpoint, keys, command, **params)
    assert response.status_code == 200, f"{command}: {response.status_code} {response.text}"
    (body,) = response.json().values()
    return dict(body)


@dataclass
class LiveRegion:
    """One region as a real ``alto server``, stopped and started again on the same port."""

    region_id: int
    data_dir: Path
    port: int
    database_url: str | None = None
    server: LiveServer | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/client/api"

    @property
    def url(self) -> str:
        """The region's database, to read it directly (``dump_database``)."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'altostratus.db').resolve()}"

    def start(self) -> None:
        server = LiveServer(
            self.data_dir,
            database_url=self.database_url,
            extra_env=LIVE_ENV,
            args=("--region-id", str(self.region_id), "--region-name", f"R{self.region_id}"),
            port=self.port,
        )
        self.server = server.__enter__()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def join(self, peer: LiveRegion, keys: dict[str, str]) -> None:
        """``alto region join`` this (stopped, fresh) region through ``peer``."""
        alto = Path(sys.executable).parent / "alto"
        command = [
            str(alto), "region", "join", "--data-dir", str(self.data_dir),
            "--peer", peer.endpoint, "--peer-apikey", keys["apikey"],
            "--peer-secretkey", keys["secretkey"], "--region-id", str(self.region_id),
            "--region-name", f"R{self.region_id}", "--endpoint", self.endpoint,
        ]  # fmt: skip
        if self.database_url:
            command += ["--database-url", self.database_url]
        env = {
            "PATH": str(alto.parent),
            "ALTO_PASSWORD_TIME_COST": "1",
            "ALTO_PASSWORD_MEMORY_KIB": "64",
        }
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
        assert done.returncode == 0, done.stderr


def live_federation(
    tmp_path: Path, n: int, database_urls: Sequence[str | None] | None = None
) -> list[LiveRegion]:
    """Region 1 started normally; region i joins through region i-1, then starts.

    Joining through the newest region (not always region 1) shows any region admits new
    ones. The caller stops the regions (``stop_all``), also when a test fails.
    """
    urls = list(database_urls or [None] * n)
    regions = [
        LiveRegion(index, tmp_path / f"r{index}", free_port(), urls[index - 1])
        for index in range(1, n + 1)
    ]
    try:
        regions[0].start()
        for previous, region in itertools.pairwise(regions):
            region.join(previous, admin_keys(regions[0]))
            region.start()
    except BaseException:
        stop_all(regions)
        raise
    return regions


def admin_keys(region: LiveRegion) -> dict[str, str]:
    """The root admin's keys (the same in every region of a federation)."""
    return dict(json.loads((region.data_dir / "admin.json").read_text()))


def stop_all(regions: Sequence[LiveRegion]) -> None:
    for region in regions:
        region.stop()


def eventually(check: Callable[[], T], timeout: float = 30.0) -> T:
    """``check()``'s result once it stops failing its assertions; its last failure if never."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def live_dumps(regions: Sequence[LiveRegion]) -> list[Dump]:
    """Every region's global tables, read from its database while its server runs."""

    async def read(url: str) -> Dump:
        db = Database(url)
        try:
            return await dump_database(db)
        finally:
            await db.close()

    return [asyncio.run(read(region.url)) for region in regions]
