"""Failed logins counted per client address over the whole region.

Without a limit per source, anyone could lock anyone with a loop of bad logins, and guess
passwords as fast as the servers verify them. The count is the region's
(``core/region_counts.py``): behind a load balancer, an address's failures on every
server add up, so N servers do not allow N times ``login_source_failures``.

The window slides, approximately: the count that decides is this window's failures plus
the previous window's weighted by how much of it still overlaps the last
``login_source_window`` seconds. An address that reached the limit is refused until that
estimate falls below it again: failures age out gradually, none can be saved up for a
window's edge.
"""

from __future__ import annotations

import math

from altostratus.core.context import Dependencies
from altostratus.core.region_counts import Tally

__all__ = ["NAMESPACE", "record_failure", "retry_after", "seconds_until_below"]

NAMESPACE = "login"


def _window(deps: Dependencies) -> int:
    return max(1, round(deps.settings.login_source_window))


def seconds_until_below(tally: Tally, limit: int) -> float | None:
    """Seconds until the sliding estimate drops below ``limit``; ``None``: it is below."""
    overlap = 1 - tally.elapsed / tally.seconds
    if tally.current + tally.previous * overlap < limit:
        return None
    if tally.current >= limit:
        # This window alone is at the limit: it must become the previous one and fade.
        return tally.remaining + tally.seconds * (1 - limit / tally.current)
    # This window is below the limit; the previous one's part must fade enough.
    fading = 1 - (limit - tally.current) / tally.previous
    return tally.seconds * fading - tally.elapsed


def retry_after(deps: Dependencies, source: str) -> int | None:
    """Seconds until ``source`` may try again, or ``None`` when it may try now."""
    tally = deps.counts.tally(NAMESPACE, source, _window(deps))
    wait = seconds_until_below(tally, deps.settings.login_source_failures)
    return None if wait is None else max(1, math.ceil(wait))


def record_failure(deps: Dependencies, source: str) -> None:
    deps.counts.add(NAMESPACE, source, _window(deps))
