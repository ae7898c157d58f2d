"""The ledger: entries from several processes, and the checker that finds a VM on two hosts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from altostratus.agent.ledger import (
    Action,
    Ledger,
    LedgerEntry,
    find_overlaps,
    read_ledger,
    record_host_off,
)

HOSTS = ["a", "b", "c"]
VMS = ["v1", "v2"]

_RECORD = """
import sys
from pathlib import Path
from altostratus.agent.ledger import Action, Ledger
ledger = Ledger(Path(sys.argv[1]))
for _ in range(int(sys.argv[4])):
    ledger.record(sys.argv[2], "i-1-1-VM", Action(sys.argv[3]))
"""


def _record(path: Path, host: str, action: Action, times: int = 1) -> subprocess.Popen[bytes]:
    """Another process appending ``times`` entries of ``host`` to the ledger."""
    return subprocess.Popen([sys.executable, "-c", _RECORD, str(path), host, action, str(times)])


def _in_process_of_its_own(path: Path, host: str, action: Action) -> None:
    assert _record(path, host, action).wait() == 0


def _check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "altostratus.agent.ledger", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_vm_handed_over_between_processes_ran_on_one_host_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    _in_process_of_its_own(path, "host-a", Action.START)
    _in_process_of_its_own(path, "host-a", Action.STOP)
    _in_process_of_its_own(path, "host-b", Action.START)
    assert find_overlaps(read_ledger(path)) == []
    checked = _check(path)
    assert checked.returncode == 0, checked.stdout


def test_a_vm_started_on_a_second_host_before_the_first_stopped_is_an_overlap(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger.jsonl"
    _in_process_of_its_own(path, "host-a", Action.START)
    _in_process_of_its_own(path, "host-b", Action.START)
    _in_process_of_its_own(path, "host-a", Action.STOP)
    [overlap] = find_overlaps(read_ledger(path))
    assert (overlap.instance, overlap.first.host, overlap.second.host) == (
        "i-1-1-VM",
        "host-a",
        "host-b",
    )
    assert overlap.first.end_ns is not None
    assert overlap.second.end_ns is None  # still running on host-b
    checked = _check(path)
    assert checked.returncode == 1
    assert "i-1-1-VM ran on two hosts: host-a" in checked.stdout


def test_a_host_whose_power_went_off_ran_nothing_after(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    _in_process_of_its_own(path, "host-a", Action.START)
    record_host_off(path, "host-a")  # the rig's power script, after the agent died
    _in_process_of_its_own(path, "host-b", Action.START)
    assert find_overlaps(read_ledger(path)) == []


def test_lines_of_processes_appending_at_once_never_mix(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    writers = [_record(path, host, Action.START, times=300) for host in ("host-a", "host-b")]
    assert [writer.wait() for writer in writers] == [0, 0]
    entries = read_ledger(path)  # every line parses
    assert sorted(entry.host for entry in entries) == ["host-a"] * 300 + ["host-b"] * 300


_events = st.lists(
    st.tuples(
        st.sampled_from(HOSTS),
        st.sampled_from(VMS),
        st.sampled_from([Action.START, Action.START, Action.STOP, Action.HOST_OFF]),
    ),
    max_size=40,
)


def _running_together(events: list[tuple[str, str, Action]]) -> set[tuple[str, frozenset[str]]]:
    """The oracle: replay the events one by one, noting every two hosts running one VM."""
    running: dict[str, set[str]] = {vm: set() for vm in VMS}
    together: set[tuple[str, frozenset[str]]] = set()
    for host, vm, action in events:
        if action is Action.START:
            running[vm].add(host)
        elif action is Action.STOP:
            running[vm].discard(host)
        else:
            for hosts in running.values():
                hosts.discard(host)
        for name, hosts in running.items():
            together |= {(name, frozenset({x, y})) for x in hosts for y in hosts if x < y}
    return together


@given(_events)
def test_the_checker_finds_exactly_the_vms_that_ran_on_two_hosts_at_once(
    events: list[tuple[str, str, Action]],
) -> None:
    entries = [
        LedgerEntry(
            host=host,
            instance=None if action is Action.HOST_OFF else vm,
            action=action,
            monotonic_ns=1000 + 10 * index,
        )
        for index, (host, vm, action) in enumerate(events)
    ]
    found = find_overlaps(reversed(entries))  # a file's order need not be the clock's
    assert {
        (overlap.instance, frozenset({overlap.first.host, overlap.second.host}))
        for overlap in found
    } == _running_together(events)
    for overlap in found:
        first, second = overlap.first, overlap.second
        assert first.host != second.host
        assert first.start_ns <= second.start_ns
        assert first.end_ns is None or second.start_ns < first.end_ns


def test_an_entry_is_one_json_line(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    Ledger(path).record("host-a", "i-1-1-VM", Action.START)
    [line] = path.read_text().splitlines()
    entry = LedgerEntry.model_validate_json(line)
    assert (entry.host, entry.instance, entry.action) == ("host-a", "i-1-1-VM", Action.START)
    assert entry.monotonic_ns > 0
