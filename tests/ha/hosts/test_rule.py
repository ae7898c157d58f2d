"""The rule, on its own: which states lead to a restart, and what activity proves."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from altostratus.agent.protocol import HostCheck
from altostratus.db.models.host_ha import HaState
from altostratus.ha.hosts.investigation import Activity, activity_of
from altostratus.ha.hosts.states import ALLOWED

PERIOD = 30.0


def _reachable_from(start: HaState, avoiding: frozenset[HaState]) -> set[HaState]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in ALLOWED[todo.pop()]:
            if nxt not in seen and nxt not in avoiding:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_no_path_to_a_restart_skips_the_investigation() -> None:
    """Recovering (VMs restarted) comes only after Fenced, Fenced only out of an
    investigation (Checking, Degraded) or a fence: never straight from silence."""
    assert {s for s, targets in ALLOWED.items() if HaState.RECOVERING in targets} == {
        HaState.FENCED
    }
    assert {s for s, targets in ALLOWED.items() if HaState.FENCED in targets} == {
        HaState.CHECKING,
        HaState.DEGRADED,
        HaState.FENCING,
    }
    investigation = frozenset({HaState.CHECKING, HaState.DEGRADED})
    assert HaState.FENCED not in _reachable_from(HaState.AVAILABLE, investigation)


def test_every_state_can_be_left_and_disabled() -> None:
    for state in HaState:
        assert ALLOWED[state], f"{state} is a dead end"
        # An operator can always switch HA off, whatever the host is going through.
        assert HaState.DISABLED in ALLOWED[state] or state == HaState.DISABLED


ages = st.none() | st.floats(min_value=0, max_value=3 * PERIOD, allow_nan=False)
reports = st.lists(
    st.builds(
        HostCheck,
        reachable=st.none() | st.booleans(),
        heartbeat_age=ages,
        disk_activity_age=ages,
    ),
    max_size=4,
)


@given(reports)
def test_silent_only_when_every_report_is_stale_and_none_reached_it(
    found: list[HostCheck],
) -> None:
    verdict = activity_of(found, PERIOD)
    fresh = [
        age
        for report in found
        for age in (report.heartbeat_age, report.disk_activity_age)
        if age is not None and age < PERIOD
    ]
    if verdict is Activity.SILENT:
        assert not any(report.reachable for report in found)
        assert not fresh
        assert any(report.heartbeat_age is not None for report in found)
    if any(report.reachable for report in found) or fresh:
        assert verdict is Activity.ALIVE
    if not found:
        assert verdict is Activity.UNKNOWN
