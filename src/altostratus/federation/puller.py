"""The puller: fetch each peer's log beyond our vector and apply it.

Every server process pulls on its own: on a timer (``replication_interval``) from every
peer, and at once from a peer that notified us of a commit. Storing and applying a page
is one replicating transaction, so a crash leaves either the whole page or none of it;
the next pull asks again from the vector, and applying twice changes nothing. Appliers
of one region are serialised (SQLite's write lock; an advisory lock on PostgreSQL) so
servers pulling the same entries at once do not collide on the rows they create.

One peer's failure (unreachable, refused, a bad answer) is recorded in the status and
logged as one line; it never stops the pulls from the others.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from prometheus_client import Counter, Gauge
from pydantic import ValidationError

from altostratus.core.leases import LeaseHolder
from altostratus.core.worker import Tick
from altostratus.federation.apply import apply_pending, serialise_appliers, store_entries
from altostratus.federation.context import Federation
from altostratus.federation.gc import record_peer_vector
from altostratus.federation.log import DEFAULT_LIMIT, LOG_PATH, LogPage, format_vector
from altostratus.federation.peers import PeerClient, PeerError, base_url
from altostratus.federation.status import (
    PeerRegion,
    forget_pulls_except,
    read_peers,
    read_pull_status,
    read_stored_state,
    read_vector,
    record_pull,
)

__all__ = ["PULLER_LEASE", "PullResult", "Puller", "peer_regions"]

log = logging.getLogger(__name__)

PULLER_LEASE = "replication-puller"

REPLICATION_LAG = Gauge(
    "altostratus_replication_lag_seconds",
    "Seconds since this server last pulled successfully from a peer region",
    ["peer"],
)
REPLICATION_PENDING = Gauge(
    "altostratus_replication_pending", "Received log entries waiting to be applied here"
)
ENTRIES_APPLIED = Counter(
    "altostratus_replication_entries_applied_total", "Log entries received and applied here"
)


async def peer_regions(federation: Federation) -> list[PeerRegion]:
    """Every region in the registry but this one."""
    async with federation.db.transaction(write=False) as session:
        return await read_peers(session, federation.deps.local_region_id)


@dataclass(frozen=True)
class PullResult:
    stored: int
    applied: int
    waiting: int


class Puller:
    """A worker (``core.worker``): on its timer, under the puller lease, it pulls from
    every peer; woken by a peer's notification, from that peer, without the lease.

    A notification reaches whichever server the peer's request landed on (behind a load
    balancer, any of them), and that server pulls: applying is idempotent and
    serialised, so a pull beside the lease holder's costs a little work, never a wrong
    row, and replication stays immediate.
    """

    name = "replication-puller"
    run_at_start = True

    def __init__(
        self, federation: Federation, client: PeerClient, *, page_size: int = DEFAULT_LIMIT
    ):
        self._federation = federation
        self._client = client
        self._page_size = page_size
        self.interval = federation.settings.replication_interval
        self.lease = LeaseHolder(
            federation.db, PULLER_LEASE, federation.deps.server_id, max(3 * self.interval, 10.0)
        )
        self._woken: set[int] = set()

    async def wake_up(self, seconds: float) -> None:
        self._woken |= await self._federation.deps.signals.wait_for_peers(seconds)

    async def tick(self) -> Tick:
        # The runner takes the lease for timed rounds only, and a round a notification
        # started has the notifying peers: without them, this is the timer's full pass.
        woken, self._woken = self._woken, set()
        return await self.run_once(woken or None)

    async def pull(self, peer: PeerRegion) -> PullResult:
        """Pull and apply ``peer``'s log until it has nothing more; raises ``PeerError``."""
        stored = applied = waiting = 0
        while True:
            async with self._federation.db.transaction(write=False) as session:
                vector = await read_vector(session)
            answer = await self._client.request(
                "GET",
                base_url(peer.endpoint),
                LOG_PATH,
                params={"after": format_vector(vector), "limit": str(self._page_size)},
            )
            try:
                page = LogPage.model_validate(answer)
            except ValidationError as error:
                raise PeerError(
                    f"region {peer.id} answered a malformed log page: {error}"
                ) from None
            page_stored, page_applied, waiting = await self._apply(peer.id, page)
            stored += page_stored
            applied += page_applied
            ENTRIES_APPLIED.inc(page_applied)
            # Nothing new stored means the page was not what we asked for: stop, do not spin.
            if not page.more or page_stored == 0:
                return PullResult(stored, applied, waiting)

    async def _apply(self, peer_id: int, page: LogPage) -> tuple[int, int, int]:
        """Store and apply one page in one replicating transaction: (stored, applied, waiting).

        The peer's vector is kept with it: what the peer holds tells what may be collected.
        """
        wire = [entry.model_dump() for entry in page.entries]
        clock = self._federation.outbox.clock
        async with self._federation.db.transaction(replicating=True) as session:
            await serialise_appliers(session)
            stored = await session.run_sync(lambda s: store_entries(s, wire))
            applied, waiting = await session.run_sync(lambda s: apply_pending(s, clock))
            await session.run_sync(lambda s: record_peer_vector(s, peer_id, page.vector))
        return stored, applied, waiting

    async def run_once(self, only: set[int] | None = None) -> Tick:
        """Pull from every peer (or those in ``only``) and say what happened."""
        peers = await peer_regions(self._federation)
        if only is None:
            async with self._federation.db.transaction() as session:
                await forget_pulls_except(session, (peer.id for peer in peers))
        chosen = [peer for peer in peers if only is None or peer.id in only]
        stored = applied = 0
        failures: list[str] = []
        for peer in chosen:
            try:
                result = await self.pull(peer)
            except PeerError as error:
                await self._record(peer.id, reachable=False, error=str(error))
                failures.append(f"region {peer.id} unreachable")
                log.warning("pull from region %s (%s) failed: %s", peer.id, peer.name, error)
                continue
            except Exception as error:
                await self._record(peer.id, reachable=True, error=repr(error))
                failures.append(f"region {peer.id} failed")
                log.exception("pull from region %s (%s) failed", peer.id, peer.name)
                continue
            await self._record(peer.id, reachable=True, stored=result.stored)
            stored += result.stored
            applied += result.applied
        await self._update_gauges()
        sentence = (
            f"pulled {stored} entries from {len(chosen) - len(failures)} of {len(chosen)} peers,"
            f" applied {applied}"
        )
        return Tick("; ".join([sentence, *failures]), changed=bool(stored or failures))

    async def _record(
        self, peer_id: int, *, reachable: bool, stored: int = 0, error: str | None = None
    ) -> None:
        async with self._federation.db.transaction() as session:
            await record_pull(session, peer_id, reachable=reachable, stored=stored, error=error)

    async def _update_gauges(self) -> None:
        async with self._federation.db.transaction(write=False) as session:
            pulls = await read_pull_status(session)
            REPLICATION_PENDING.set((await read_stored_state(session)).pending)
        for status in pulls.values():
            if status.lag_seconds is not None:
                REPLICATION_LAG.labels(peer=str(status.region_id)).set(status.lag_seconds)
