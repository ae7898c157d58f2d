"""The notifier: after a commit that logged changes, tell every peer to pull now.

The outbox calls ``committed`` after such a commit; commits within ``delay`` of each
other become one round of ``POST /federation/v1/notify`` to every peer, sent in the
background. A peer that misses a notification (down, slow, refused) loses nothing: its
periodic pull fetches the same entries a little later, so failures are only debug lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from altostratus.core.worker import Tick
from altostratus.federation.context import Federation
from altostratus.federation.log import NOTIFY_PATH
from altostratus.federation.peers import PeerClient, PeerError, base_url
from altostratus.federation.puller import peer_regions
from altostratus.federation.status import PeerRegion

__all__ = ["NOTIFY_TIMEOUT", "Notifier"]

log = logging.getLogger(__name__)

#: A notification is a hint; a peer that cannot take it within this is pulled by its timer.
NOTIFY_TIMEOUT = 2.0


class Notifier:
    """A worker (``core.worker``) woken by commits; its timer only paces idle rounds."""

    name = "replication-notifier"
    lease = None
    run_at_start = False

    def __init__(self, federation: Federation, client: PeerClient, *, delay: float = 0.05) -> None:
        self._federation = federation
        self._client = client
        self._delay = delay
        self._loop = asyncio.get_running_loop()
        self._pending = asyncio.Event()
        self.interval = federation.settings.replication_interval

    def committed(self) -> None:
        """The outbox's ``on_commit`` hook; safe to call from any thread."""
        self._loop.call_soon_threadsafe(self._pending.set)

    async def wake_up(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._pending.wait()

    async def tick(self) -> Tick:
        if not self._pending.is_set():
            return Tick("nothing committed")
        await asyncio.sleep(self._delay)  # commits meanwhile join this round
        self._pending.clear()
        return Tick(f"{await self.notify_peers()} peers took the notification")

    async def notify_peers(self) -> int:
        """Notify every peer once; answer how many took it."""
        peers = await peer_regions(self._federation)
        outcomes = await asyncio.gather(*(self._notify(peer) for peer in peers))
        return sum(outcomes)

    async def _notify(self, peer: PeerRegion) -> bool:
        try:
            await self._client.request(
                "POST",
                base_url(peer.endpoint),
                NOTIFY_PATH,
                body={"region": self._federation.deps.local_region_id},
            )
        except PeerError as error:
            log.debug("notify of region %s failed (its timer catches up): %s", peer.id, error)
            return False
        return True
