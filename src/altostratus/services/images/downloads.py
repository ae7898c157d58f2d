"""Downloading registered templates into the image store, one lease per template.

``registerTemplate`` of an ``http(s)`` URL records the template NOT_DOWNLOADED. Each
round, the downloader takes the lease ``template-download:<id>`` of up to
``image_downloads_at_once`` templates not yet downloaded, or whose download lost its
server (the lease ran out), and streams each source into the store in a task of its
own. Progress ("45% Downloaded") is written with a renewal of the lease; a download
that finds its lease taken stops without another write. The store makes the object
visible only once the stream ended and its checksum matched (``objects.py``), and the
template becomes Ready only after that: a download interrupted halfway is restarted from
the start by whoever takes the lease next, never left half-written and Ready.

Errors end the download with the cause in ``status``: the source's HTTP status, a
connection broken after some bytes, a checksum mismatch, the store refusing.
A source that sends neither ``Content-Length`` nor chunked encoding ends where its
connection ends: only a checksum tells a broken one from a complete one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.core.context import Dependencies
from altostratus.core.leases import hold_lease, release_lease, uninterrupted
from altostratus.core.worker import Tick, WakeUp
from altostratus.db.engine import Database
from altostratus.db.models import Lease, Template
from altostratus.db.models.catalog import DownloadState, TemplateState
from altostratus.services.images.checksums import Checksum
from altostratus.services.images.formats import HEAD_BYTES, TAIL_BYTES, virtual_size
from altostratus.services.images.objects import ObjectStoreError
from altostratus.services.images.stores import open_store, store_for_zone

__all__ = ["DownloadFailed", "TemplateDownloader", "object_key"]

log = logging.getLogger(__name__)

#: Seconds between progress writes (each renews the lease); the first is at once.
PROGRESS_EVERY = 1.0
_PENDING = (DownloadState.NOT_DOWNLOADED, DownloadState.DOWNLOADING)


class DownloadFailed(Exception):
    """The source or the bytes are bad; the message is the template's status."""


class _LeaseLost(Exception):
    """Another server took the download over: stop without writing."""


def object_key(template: Template) -> str:
    return f"templates/{template.uuid}/{template.uuid}.{template.format.lower()}"


def _lease(template_id: int) -> str:
    return f"template-download:{template_id}"


async def _epoch(session: AsyncSession, template_id: int) -> int:
    epoch = await session.scalar(select(Lease.epoch).where(Lease.name == _lease(template_id)))
    return int(epoch or 0)


@dataclass(frozen=True)
class _Source:
    """What a download needs of its template, read once when it starts."""

    id: int
    name: str
    url: str
    format: str
    checksum: Checksum | None
    key: str
    zone_id: int | None
    #: The lease's epoch when this server took it: a later one means another server
    #: took it meanwhile (or it ran out), even if this server holds it again.
    epoch: int


class TemplateDownloader:
    """The worker; ``tick`` starts downloads, each runs in its own task until it ends."""

    name = "template-downloads"
    lease = None
    run_at_start = True

    def __init__(self, db: Database, deps: Dependencies) -> None:
        self._db = db
        self._deps = deps
        self._tasks: dict[int, asyncio.Task[None]] = {}

    @property
    def interval(self) -> float:
        return self._deps.settings.image_download_interval

    @property
    def wake_up(self) -> WakeUp:
        return self._deps.signals.wait_for_downloads

    async def tick(self) -> Tick:
        free = self._deps.settings.image_downloads_at_once - len(self._tasks)
        if free <= 0:
            return Tick(f"{len(self._tasks)} downloads in progress")
        claimed = await self._claim(free)
        for source in claimed:
            task = asyncio.create_task(self._run(source), name=f"download-{source.id}")
            self._tasks[source.id] = task
        if not claimed:
            return Tick("no template to download")
        names = ", ".join(source.name for source in claimed)
        return Tick(f"downloading {names}", changed=True)

    async def _claim(self, free: int) -> list[_Source]:
        settings = self._deps.settings
        claimed: list[_Source] = []
        async with self._db.transaction() as session:
            waiting = await session.scalars(
                select(Template)
                .where(
                    Template.download_state.in_(_PENDING),
                    Template.removed.is_(None),
                    Template.id.not_in(list(self._tasks)),
                )
                .order_by(Template.id)
            )
            for template in waiting.all():
                if len(claimed) == free:
                    break
                owner, seconds = self._deps.server_id, settings.image_download_lease
                if not await hold_lease(session, _lease(template.id), owner, seconds):
                    continue  # another server is downloading it
                try:
                    checksum = Checksum.parse(template.checksum) if template.checksum else None
                except ValueError as error:  # only a row written by hand can hold one
                    template.download_state = DownloadState.DOWNLOAD_ERROR
                    template.status = f"{TemplateState.ERROR}: checksum {error}"
                    await release_lease(session, _lease(template.id), owner)
                    continue
                template.download_state = DownloadState.DOWNLOADING
                template.status = TemplateState.DOWNLOADING
                claimed.append(
                    _Source(
                        id=template.id,
                        name=template.name,
                        url=template.url,
                        format=template.format,
                        checksum=checksum,
                        key=object_key(template),
                        zone_id=template.zone_id,
                        epoch=await _epoch(session, template.id),
                    )
                )
        return claimed

    async def drain(self) -> None:
        """Wait for the downloads in progress to end (tests, a clean stop)."""
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def stop(self) -> None:
        """Abandon the downloads in progress: their leases run out, another server
        restarts them."""
        for task in self._tasks.values():
            task.cancel()
        await self.drain()

    async def _run(self, source: _Source) -> None:
        try:
            await self._download(source)
        except _LeaseLost:
            log.info("download of template %s: another server took it over", source.name)
        except Exception:
            log.exception("download of template %s failed", source.name)
            with contextlib.suppress(Exception):
                await uninterrupted(self._failed(source, "internal error"))
        finally:
            self._tasks.pop(source.id, None)

    async def _download(self, source: _Source) -> None:
        async with self._db.transaction() as session:
            row = await store_for_zone(session, source.zone_id)
            store_id = row.id if row else None
            store = open_store(self._deps, row)
        timeout = httpx.Timeout(self._deps.settings.image_download_timeout)
        reader: _Reader | None = None
        try:
            async with (
                httpx.AsyncClient(timeout=timeout, follow_redirects=True) as client,
                client.stream("GET", source.url) as response,
            ):
                if response.status_code != 200:
                    reason = response.reason_phrase or "error"
                    raise DownloadFailed(f"HTTP {response.status_code} {reason} from {source.url}")
                reader = _Reader(self, source, response)
                physical = await store.put(source.key, reader.chunks())
        except DownloadFailed as failure:
            await self._failed(source, str(failure))
            return
        except httpx.HTTPError as error:
            cause = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            where = (
                f"connection broken after {reader.received} bytes"
                if reader is not None
                else f"cannot fetch {source.url}"
            )
            await self._failed(source, f"{where}: {cause}")
            return
        except ObjectStoreError as error:
            await self._failed(source, f"image store: {error}")
            return
        finally:
            await store.close()
        size = virtual_size(source.format, reader.head, reader.tail, physical)
        await self._complete(source, store_id, size, physical)

    async def progress(self, source: _Source, status: str) -> None:
        """Write ``status`` and renew the lease; ``_LeaseLost`` if another server has it."""
        async with self._db.transaction() as session:
            await self._still_ours(session, source)
            template = await session.get(Template, source.id)
            if template is not None:
                template.status = status

    async def _still_ours(self, session: AsyncSession, source: _Source) -> None:
        """Renew the lease taken at the claim; ``_LeaseLost`` (rolling the renewal back)
        if it is held elsewhere or was taken again since."""
        seconds = self._deps.settings.image_download_lease
        if not await hold_lease(session, _lease(source.id), self._deps.server_id, seconds):
            raise _LeaseLost
        if await _epoch(session, source.id) != source.epoch:
            raise _LeaseLost

    async def _complete(
        self, source: _Source, store_id: int | None, size: int, physical: int
    ) -> None:
        async with self._db.transaction() as session:
            await self._still_ours(session, source)
            template = await session.get(Template, source.id)
            if template is None:
                return
            template.download_state = DownloadState.DOWNLOADED
            template.status = TemplateState.READY
            template.size = size
            template.physical_size = physical
            template.image_store_id = store_id
            template.object_key = source.key
            await release_lease(session, _lease(source.id), self._deps.server_id)

    async def _failed(self, source: _Source, cause: str) -> None:
        async with self._db.transaction() as session:
            await self._still_ours(session, source)
            template = await session.get(Template, source.id)
            if template is None:
                return
            template.download_state = DownloadState.DOWNLOAD_ERROR
            template.status = f"{TemplateState.ERROR}: {cause}"[:1024]
            await release_lease(session, _lease(source.id), self._deps.server_id)


class _Reader:
    """The source's bytes as the store takes them: counted, hashed, reported."""

    def __init__(
        self, downloader: TemplateDownloader, source: _Source, response: httpx.Response
    ) -> None:
        self._downloader = downloader
        self._source = source
        self._response = response
        length = response.headers.get("content-length")
        self.total = int(length) if length and length.isdigit() else None
        self.received = 0
        self.head = b""
        self.tail = b""

    async def chunks(self) -> AsyncIterator[bytes]:
        hasher = self._source.checksum.hasher() if self._source.checksum else None
        reported = -PROGRESS_EVERY  # the first bytes are reported at once
        async for chunk in self._response.aiter_raw():
            self.received += len(chunk)
            if len(self.head) < HEAD_BYTES:
                self.head = (self.head + chunk)[:HEAD_BYTES]
            self.tail = (self.tail + chunk)[-TAIL_BYTES:]
            if hasher is not None:
                hasher.update(chunk)
            if time.monotonic() - reported >= PROGRESS_EVERY:
                reported = time.monotonic()
                await self._downloader.progress(self._source, self.status())
            yield chunk
        if self.total is not None and self.received != self.total:
            raise DownloadFailed(f"connection broken after {self.received} of {self.total} bytes")
        if hasher is not None and self._source.checksum is not None:
            got = hasher.hexdigest()
            if got != self._source.checksum.hexdigest:
                algorithm = self._source.checksum.algorithm
                raise DownloadFailed(
                    f"checksum mismatch: expected {self._source.checksum}, "
                    f"the image's {algorithm} is {got}"
                )

    def status(self) -> str:
        if self.total:
            return f"{self.received * 100 // self.total}% Downloaded"
        return f"{TemplateState.DOWNLOADING} ({self.received} bytes)"
