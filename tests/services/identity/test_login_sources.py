"""The per-address failed-login window slides: failures age out gradually, and none can
be saved up for a window's edge."""

from __future__ import annotations

import pytest

from altostratus.core.region_counts import Tally
from altostratus.services.identity.login_sources import seconds_until_below

LIMIT = 10
WINDOW = 300


def _tally(current: int, previous: int, elapsed: float) -> Tally:
    return Tally(
        current=current,
        previous=previous,
        known=current,
        sharers=1,
        unflushed_elsewhere=0,
        elapsed=elapsed,
        seconds=WINDOW,
    )


def test_below_the_limit_an_address_may_try() -> None:
    assert seconds_until_below(_tally(LIMIT - 1, 0, 10), LIMIT) is None


def test_the_limit_reached_in_this_window_fades_after_it_ends() -> None:
    assert seconds_until_below(_tally(LIMIT, 0, 100), LIMIT) == pytest.approx(200)
    # Past the window's end the count fades: one failure per tenth of the window.
    assert seconds_until_below(_tally(0, LIMIT, 0.5), LIMIT) is None
    assert seconds_until_below(_tally(1, LIMIT, 0.5), LIMIT) == pytest.approx(WINDOW / LIMIT - 0.5)


def test_failures_at_the_end_of_a_window_still_count_in_the_next() -> None:
    """Nine failures just before the window turned and two just after: refused, where a
    fixed window would have allowed twice the limit across the edge."""
    wait = seconds_until_below(_tally(2, 9, 1), LIMIT)
    assert wait is not None
    # Refused until the previous window's part is below 8 of its 9 (some 33 s in).
    assert wait == pytest.approx(WINDOW * (1 - 8 / 9) - 1)
