"""Hybrid logical clock versions: ``(physical ms, counter, origin region, origin seq)``.

A version is encoded as a fixed-width string, so comparing strings compares versions
and the database can order them. The origin's log position makes every version unique,
so "highest version wins" never meets a tie.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

__all__ = ["HybridClock", "Version"]


@dataclass(frozen=True, order=True)
class Version:
    physical_ms: int
    counter: int
    origin: int
    seq: int

    def encode(self) -> str:
        return f"{self.physical_ms:013d}.{self.counter:05d}.{self.origin:05d}.{self.seq:012d}"

    @classmethod
    def decode(cls, text: str) -> Version:
        physical, counter, origin, seq = (int(part) for part in text.split("."))
        return cls(physical, counter, origin, seq)


class HybridClock:
    """Monotonic across restarts of wall-clock jumps; advanced by every version received."""

    def __init__(self, origin: int) -> None:
        self._origin = origin
        self._last = (0, 0)
        self._lock = threading.Lock()

    def tick(self, seq: int) -> Version:
        """A new version for the local change logged at ``seq``."""
        with self._lock:
            now = int(time.time() * 1000)
            physical, counter = self._last
            self._last = (now, 0) if now > physical else (physical, counter + 1)
            return Version(*self._last, self._origin, seq)

    def observe(self, remote: Version) -> None:
        """Never issue a version below one already seen, whatever this host's clock says."""
        with self._lock:
            if (remote.physical_ms, remote.counter) > self._last:
                self._last = (remote.physical_ms, remote.counter)
