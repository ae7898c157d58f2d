"""Failed logins counted per client address, so guessing passwords or locking users costs time.

A user is locked after a number of consecutive failed logins (CloudStack's
``incorrect.login.attempts.allowed``); without a limit per source, anyone could lock anyone
with a loop. This keeps a sliding window of failures per address in memory: a source past
the limit is refused before any user is looked up, until its oldest failure in the window
ages out. Counting is per server process (a blocked source is blocked quickly on every
server it reaches); the memory it takes is bounded whatever the number of sources.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

__all__ = ["LoginThrottle"]


class LoginThrottle:
    def __init__(
        self,
        *,
        max_failures: int,
        window_seconds: float,
        max_sources: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_failures = max_failures
        self._window = window_seconds
        self._max_sources = max_sources
        self._clock = clock
        #: Source → times of its failures within the window, least recently failed first.
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, source: str, now: float) -> deque[float] | None:
        failures = self._failures.get(source)
        if failures is None:
            return None
        while failures and failures[0] <= now - self._window:
            failures.popleft()
        if not failures:
            del self._failures[source]
            return None
        return failures

    def retry_after(self, source: str) -> int | None:
        """Seconds until ``source`` may try again, or ``None`` when it may try now."""
        now = self._clock()
        failures = self._recent(source, now)
        if failures is None or len(failures) < self._max_failures:
            return None
        oldest_that_counts = failures[-self._max_failures]
        return max(1, math.ceil(oldest_that_counts + self._window - now))

    def record_failure(self, source: str) -> None:
        now = self._clock()
        failures = self._recent(source, now)
        if failures is None:
            failures = self._failures[source] = deque(maxlen=self._max_failures)
            if len(self._failures) > self._max_sources:
                # The source that failed longest ago goes first: it is the least likely
                # to be in the middle of an attack.
                self._failures.popitem(last=False)
        self._failures.move_to_end(source)
        failures.append(now)
