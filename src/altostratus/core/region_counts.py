"""Counts per key and time window shared by the region's servers, without a write per count.

Throttling must hold per region: behind a load balancer, a client's requests reach every
management server, and N servers each counting alone allow N times the limit (what
CloudStack's API throttling does). Writing every request to the database would make the
counter the hot path's bottleneck. So each server counts here, in memory, and a worker
(``core/counter_flush.py``) adds the local increments to the server's own row of the
window every ``counter_flush_interval`` seconds and reads back the region's totals of the
keys touched since the last flush. A decision takes the last known region total plus
what this server counted since.

What a server does not yet know is what the others counted since its last flush. To keep
that from overshooting the limit, a server that knows ``k`` servers share a key (they
counted it in this window or the last) lets itself spend only ``1/k`` of what is left of
the limit until its next flush; one that never saw a key's row assumes every live server
of the region shares it. The region's total then exceeds the limit by at most ``k - 1``
(each share is rounded up), and a server serving a key alone has the whole of it. Windows
are aligned on the database's clock (each flush measures this server's offset from it),
so every server agrees where a window starts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

__all__ = ["Batch", "Increment", "ReadRow", "RegionCounts", "Tally", "WindowKey"]


@dataclass(frozen=True)
class WindowKey:
    """One key in one window of one namespace."""

    namespace: str
    key: str
    start: int
    seconds: int


@dataclass
class _Entry:
    #: The region's total as of the last flush that read it (this server's part included).
    known: int = 0
    #: Counted here since the last flush, and being flushed now.
    pending: int = 0
    in_flight: int = 0
    #: The other servers that had a row of this window at the last read, the sum of
    #: their rows then, and how much that sum grew since the read before.
    others: frozenset[str] = frozenset()
    others_count: int = 0
    others_growth: int = 0
    #: Whether a flush has read the region's rows of this window yet.
    read: bool = False

    @property
    def mine(self) -> int:
        return self.pending + self.in_flight


@dataclass(frozen=True)
class Tally:
    """What this server knows of a key now: its current and previous window, and sharers."""

    current: int
    previous: int
    #: The region's total of the current window at the last flush (``current`` without
    #: what this server counted since).
    known: int
    #: Servers believed to count this key (this one included).
    sharers: int
    #: What the other servers are believed to have counted since their last flush: as
    #: much as they counted between this server's last two reads.
    unflushed_elsewhere: int
    #: Seconds into the current window, and its length.
    elapsed: float
    seconds: int

    @property
    def remaining(self) -> float:
        """Seconds until the current window ends."""
        return max(0.0, self.seconds - self.elapsed)

    def within_share(self, limit: int) -> bool:
        """One more count stays within this server's share of what is left of ``limit``."""
        left = limit - self.known - self.unflushed_elsewhere
        if left <= 0:
            return False
        mine = self.current - self.known
        return mine < math.ceil(left / self.sharers)


@dataclass(frozen=True)
class Increment:
    window: WindowKey
    count: int


@dataclass(frozen=True)
class ReadRow:
    """One server's row of a key's window, as a flush read it back."""

    window: WindowKey
    server_id: str
    count: int


@dataclass(frozen=True)
class Batch:
    """One flush: the increments to add and the windows whose totals to read back."""

    increments: tuple[Increment, ...]
    reads: tuple[WindowKey, ...]
    #: ``RegionCounts.forget`` calls before this batch; a later one voids what it holds
    #: of the keys forgotten.
    generation: int


@dataclass
class RegionCounts:
    """This server's side of the shared counts (one per process, ``Dependencies.counts``)."""

    server_id: str
    #: Entries kept at most (old windows go at each flush; past this, the oldest go).
    max_entries: int = 200_000
    clock: Callable[[], float] = time.time
    #: Seconds to add to ``clock`` to read the database's clock (set by each flush).
    offset: float = 0.0
    #: Management servers of the region that are up, as of the last flush.
    live_servers: int = 1
    _entries: dict[WindowKey, _Entry] = field(default_factory=dict)
    _touched: set[WindowKey] = field(default_factory=set)
    _generation: int = 0
    #: ``forget`` calls since the batch in flight was taken: (generation, namespace, key).
    _forgets: list[tuple[int, str, str | None]] = field(default_factory=list)

    def now(self) -> float:
        """The database's time as this server estimates it."""
        return self.clock() + self.offset

    def _windows(self, namespace: str, key: str, seconds: int) -> tuple[WindowKey, WindowKey]:
        start = int(self.now() // seconds) * seconds
        return (
            WindowKey(namespace, key, start, seconds),
            WindowKey(namespace, key, start - seconds, seconds),
        )

    def tally(self, namespace: str, key: str, seconds: int) -> Tally:
        """What is known of ``key`` now; the next flush reads its region total again."""
        seconds = max(1, seconds)
        current_key, previous_key = self._windows(namespace, key, seconds)
        self._touched.add(current_key)
        current = self._entries.get(current_key)
        previous = self._entries.get(previous_key)
        seen = [entry for entry in (current, previous) if entry is not None and entry.read]
        if seen:
            sharers = 1 + len(frozenset().union(*(entry.others for entry in seen)))
        else:
            sharers = max(1, self.live_servers)
        return Tally(
            current=(current.known + current.mine) if current else 0,
            previous=(previous.known + previous.mine) if previous else 0,
            known=current.known if current else 0,
            sharers=sharers,
            unflushed_elsewhere=current.others_growth if current else 0,
            elapsed=self.now() - current_key.start,
            seconds=seconds,
        )

    def add(self, namespace: str, key: str, seconds: int) -> None:
        """Count one for ``key`` in its current window."""
        current_key, _previous = self._windows(namespace, key, max(1, seconds))
        entry = self._entries.get(current_key)
        if entry is None:
            entry = self._entries[current_key] = _Entry()
            while len(self._entries) > self.max_entries:
                # The entry created longest ago goes: memory stays bounded whatever the
                # number of keys (addresses in a spray of failed logins).
                del self._entries[next(iter(self._entries))]
        entry.pending += 1
        self._touched.add(current_key)

    def forget(self, namespace: str, key: str | None = None) -> None:
        """Drop what is known of ``key`` (every key of ``namespace`` when ``None``), after
        its rows were deleted: a flush already under way must not bring the old totals back."""
        self._generation += 1
        self._forgets.append((self._generation, namespace, key))
        for window in [w for w in self._entries if self._matches(w, namespace, key)]:
            del self._entries[window]

    @staticmethod
    def _matches(window: WindowKey, namespace: str, key: str | None) -> bool:
        return window.namespace == namespace and key in (None, window.key)

    def _voided(self, window: WindowKey, batch: Batch) -> bool:
        """``window`` was forgotten after ``batch`` was taken: what it holds is stale."""
        return any(
            generation > batch.generation and self._matches(window, namespace, key)
            for generation, namespace, key in self._forgets
        )

    def take_batch(self) -> Batch | None:
        """Move what was counted since the last flush in flight; ``None``: nothing to do."""
        if not self._touched:
            return None
        increments = []
        for window, entry in self._entries.items():
            if entry.pending:
                increments.append(Increment(window, entry.pending))
                entry.in_flight += entry.pending
                entry.pending = 0
        reads = tuple(self._touched)
        self._touched = set()
        return Batch(tuple(increments), reads, self._generation)

    def settle(self, batch: Batch, rows: Iterable[ReadRow]) -> None:
        """The batch is in the database, and ``rows`` are the region's rows of its reads."""
        for increment in batch.increments:
            entry = self._entries.get(increment.window)
            if entry is not None and not self._voided(increment.window, batch):
                entry.in_flight = max(0, entry.in_flight - increment.count)
        totals: dict[WindowKey, tuple[int, int, set[str]]] = {}
        for window in batch.reads:
            start, seconds = window.start, window.seconds
            previous = WindowKey(window.namespace, window.key, start - seconds, seconds)
            totals[window] = totals[previous] = (0, 0, set())
        for row in rows:
            count, others, servers = totals.get(row.window, (0, 0, set()))
            if row.server_id != self.server_id:
                servers = servers | {row.server_id}
                others += row.count
            totals[row.window] = (count + row.count, others, servers)
        for window, (count, others, servers) in totals.items():
            if self._voided(window, batch):
                continue
            entry = self._entries.setdefault(window, _Entry())
            growth = others - entry.others_count if entry.read else 0
            entry.known, entry.others, entry.read = count, frozenset(servers), True
            entry.others_count, entry.others_growth = others, max(0, growth)
        self._forgets.clear()
        self._drop_old_windows()

    def restore(self, batch: Batch) -> None:
        """The flush failed: its increments count again in the next one, its reads too."""
        for increment in batch.increments:
            if self._voided(increment.window, batch):
                continue
            entry = self._entries.setdefault(increment.window, _Entry())
            moved = min(entry.in_flight, increment.count)
            entry.in_flight -= moved
            entry.pending += moved
        self._touched.update(batch.reads)
        self._forgets.clear()

    def _drop_old_windows(self) -> None:
        now = self.now()
        for window in [w for w in self._entries if w.start + 2 * w.seconds <= now]:
            entry = self._entries[window]
            if not entry.mine:
                del self._entries[window]

    def counted_windows(self) -> set[tuple[str, int]]:
        """The namespaces and window lengths in use (what a flush clears old rows of)."""
        return {(w.namespace, w.seconds) for w in self._entries}
