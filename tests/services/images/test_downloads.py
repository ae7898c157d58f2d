"""A download whose server died halfway: nothing half-written is Ready, the next server
to take its lease restarts it, and the dead server's lease is what keeps others off."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette

from altostratus.db.models import Lease, Template
from altostratus.db.models.catalog import DownloadState
from altostratus.runtime import Runtime
from altostratus.services.images.downloads import TemplateDownloader, object_key
from altostratus.services.images.stores import open_store
from altostratus.settings import Settings
from altostratus.timeutil import utcnow
from tests import conftest
from tests.api.catalog.test_template_downloads import qcow2, register
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld
from tests.support.image_server import ImageServer

GIB = 1024**3


@pytest.fixture
def settings(database: tuple[str, Any], tmp_path: Path, key_file: Path) -> Settings:
    """No downloader of the app's own: the test runs two, as two servers."""
    return conftest.test_settings(tmp_path / "data", database[0], key_file, compute_workers=False)


def downloader(runtime: Runtime, server_id: str) -> TemplateDownloader:
    return TemplateDownloader(runtime.db, dataclasses.replace(runtime.deps, server_id=server_id))


async def template_row(runtime: Runtime, uuid: str) -> Template:
    async with runtime.db.transaction(write=False) as session:
        template = await session.scalar(select(Template).where(Template.uuid == uuid))
        assert template is not None
        return template


async def test_a_download_interrupted_halfway_is_restarted_by_the_next_server(
    app: Starlette, api: ApiClient, compute: ComputeWorld, images: ImageServer
) -> None:
    runtime: Runtime = app.state.runtime
    data = qcow2(virtual=2 * GIB, payload=500_000)
    source = images.serve("/img.qcow2", data, pause_after=len(data) // 2)
    checksum = "{SHA-1}" + hashlib.sha1(data).hexdigest()
    uuid = await register(api, compute, images.url("/img.qcow2"), checksum=checksum)

    first, second = downloader(runtime, "server-a"), downloader(runtime, "server-b")
    assert (await first.tick()).changed
    deadline = time.monotonic() + 30
    while not (await template_row(runtime, uuid)).status.endswith("% Downloaded"):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    await first.stop()  # the server dies halfway: its lease stays until it runs out

    template = await template_row(runtime, uuid)
    assert template.download_state == DownloadState.DOWNLOADING
    store = open_store(runtime.deps, None)
    assert await store.head(object_key(template)) is None, "nothing half-written"
    assert not (await second.tick()).changed, "the dead server's lease keeps others off"

    async with runtime.db.transaction() as session:  # its lease runs out
        await session.execute(
            update(Lease).where(Lease.name.like("template-download:%")).values(expires=utcnow())
        )
    source.resume.set()
    assert (await second.tick()).changed
    await second.drain()

    template = await template_row(runtime, uuid)
    assert template.download_state == DownloadState.DOWNLOADED
    assert (template.size, template.physical_size) == (2 * GIB, len(data))
    assert source.requests == 2, "restarted from the start"
    stored = b"".join([chunk async for chunk in store.get(object_key(template))])
    assert stored == data
    await store.close()


async def test_a_server_that_lost_its_lease_writes_nothing_more(
    app: Starlette, api: ApiClient, compute: ComputeWorld, images: ImageServer
) -> None:
    """A server paused past its lease wakes after another finished the download (and
    released the lease): it must neither take the lease back nor write the template."""
    runtime: Runtime = app.state.runtime
    data = qcow2(virtual=GIB, payload=300_000)
    source = images.serve("/late.qcow2", data, pause_after=len(data) // 2)
    uuid = await register(api, compute, images.url("/late.qcow2"))
    late, next_one = downloader(runtime, "server-a"), downloader(runtime, "server-b")
    assert (await late.tick()).changed
    deadline = time.monotonic() + 30
    while not (await template_row(runtime, uuid)).status.endswith("% Downloaded"):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    async with runtime.db.transaction() as session:  # server-a's lease runs out
        await session.execute(
            update(Lease).where(Lease.name.like("template-download:%")).values(expires=utcnow())
        )
    paused, source.resume = source.resume, asyncio.Event()
    source.resume.set()  # the second request is not paused
    assert (await next_one.tick()).changed
    await next_one.drain()
    done = await template_row(runtime, uuid)
    assert done.download_state == DownloadState.DOWNLOADED

    paused.set()  # server-a wakes up and finishes its stream
    await late.drain()
    async with runtime.db.transaction(write=False) as session:
        lease = await session.scalar(select(Lease).where(Lease.name.like("template-download:%")))
    assert lease is not None
    assert lease.owner == "server-b"
    after = await template_row(runtime, uuid)
    assert (after.status, after.download_state) == (done.status, done.download_state)
