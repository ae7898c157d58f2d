"""In-process wake-ups between the request path, the job executor, agent links, the
replication puller and the image downloader.

They only make things faster: every waiter also polls the database, because the event
that matters may have happened in another management server process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Iterable

__all__ = ["Signals"]


class Signals:
    def __init__(self) -> None:
        self._jobs_submitted = asyncio.Event()
        self._commands_queued = asyncio.Event()
        self._command_waiters: defaultdict[str, set[asyncio.Event]] = defaultdict(set)
        self._peers_committed = asyncio.Event()
        self._committing_peers: set[int] = set()
        self._downloads_queued = asyncio.Event()

    # --- new jobs, for the executor ---

    def jobs_submitted(self) -> None:
        self._jobs_submitted.set()

    async def wait_for_jobs(self, seconds: float) -> None:
        await _wait(self._jobs_submitted, seconds)

    # --- new host commands, for agent links waiting to deliver ---

    def commands_queued(self) -> None:
        self._commands_queued.set()

    async def wait_for_commands(self, seconds: float) -> None:
        await _wait(self._commands_queued, seconds)

    # --- answered host commands, for the jobs waiting on them ---

    def commands_finished(self, command_uuids: Iterable[str]) -> None:
        for command_uuid in command_uuids:
            for event in self._command_waiters.get(command_uuid, ()):
                event.set()

    async def wait_for_command(self, command_uuid: str, seconds: float) -> None:
        event = asyncio.Event()
        self._command_waiters[command_uuid].add(event)
        try:
            await _wait(event, seconds, clear=False)
        finally:
            waiters = self._command_waiters[command_uuid]
            waiters.discard(event)
            if not waiters:
                del self._command_waiters[command_uuid]

    # --- peer regions that committed changes, for the replication puller ---

    def peer_committed(self, region_id: int) -> None:
        """Region ``region_id`` notified us of a commit: pull from it now."""
        self._committing_peers.add(region_id)
        self._peers_committed.set()

    async def wait_for_peers(self, seconds: float) -> set[int]:
        """Wait for notifications or ``seconds``; answer the regions that notified."""
        await _wait(self._peers_committed, seconds)
        woken, self._committing_peers = self._committing_peers, set()
        return woken

    # --- templates registered, for the image downloader ---

    def downloads_queued(self) -> None:
        self._downloads_queued.set()

    async def wait_for_downloads(self, seconds: float) -> None:
        await _wait(self._downloads_queued, seconds)


async def _wait(event: asyncio.Event, seconds: float, *, clear: bool = True) -> None:
    # ``asyncio.timeout``, not ``wait_for``: on Python 3.11 ``wait_for`` can swallow a
    # cancellation that arrives as the event fires, and a worker loop would never stop.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
    if clear:
        event.clear()
