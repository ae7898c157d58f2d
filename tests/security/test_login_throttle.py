"""The per-address count of failed logins: a sliding window, bounded in memory."""

from __future__ import annotations

from altostratus.security.login_throttle import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_address_past_the_limit_waits_for_its_oldest_failure_to_age_out() -> None:
    clock = Clock()
    throttle = LoginThrottle(max_failures=3, window_seconds=60, clock=clock)
    for _ in range(2):
        throttle.record_failure("a")
        clock.now += 10
    assert throttle.retry_after("a") is None
    throttle.record_failure("a")
    # Failures at 1000, 1010, 1020: the one at 1000 leaves the window at 1060.
    assert throttle.retry_after("a") == 40
    assert throttle.retry_after("b") is None, "other addresses are not concerned"
    clock.now = 1060.5
    assert throttle.retry_after("a") is None
    throttle.record_failure("a")
    assert throttle.retry_after("a") == 10


def test_memory_is_bounded_and_the_stalest_address_goes_first() -> None:
    clock = Clock()
    throttle = LoginThrottle(max_failures=1, window_seconds=60, max_sources=2, clock=clock)
    throttle.record_failure("old")
    throttle.record_failure("busy")
    throttle.record_failure("busy")
    throttle.record_failure("new")
    assert throttle.retry_after("old") is None
    assert throttle.retry_after("busy") is not None
    assert throttle.retry_after("new") is not None
