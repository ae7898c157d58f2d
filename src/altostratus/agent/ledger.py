"""The ledger: every VM start and stop of every host, to prove no VM ran on two at once.

An append-only JSON-lines file (``ledger.jsonl`` on the shared storage, or a path of
its own) that agents write and test rigs read. Each line is one ``LedgerEntry``: host,
instance, action and ``time.monotonic_ns()``. CLOCK_MONOTONIC is one clock for the
whole machine on Linux, so the entries of agents in different processes on one machine
(a test rig's simulated hosts) compare; across machines they do not.

The intervals are conservative: a start is written *before* the driver starts the VM
and a stop *after* it stopped, so a VM's recorded interval covers every moment it ran.
A host whose power went off ends all its intervals with one ``host-off`` entry, which
the rig's power script writes (``record_host_off``) once the agent is dead. Each entry
is one ``write`` to a file opened ``O_APPEND``, under ``flock``, so lines of different
processes never interleave.

``find_overlaps`` is the checker; ``python -m altostratus.agent.ledger PATH`` prints the
overlaps of a ledger and exits 1 if there is any.
"""

from __future__ import annotations

import enum
import fcntl
import os
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict

__all__ = [
    "Action",
    "Interval",
    "Ledger",
    "LedgerEntry",
    "Overlap",
    "find_overlaps",
    "main",
    "read_ledger",
    "record_host_off",
]


class Action(enum.StrEnum):
    START = "start"
    STOP = "stop"
    #: The host lost power: every VM it ran ended (``instance`` is ``None``).
    HOST_OFF = "host-off"


class LedgerEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    host: str
    instance: str | None
    action: Action
    monotonic_ns: int


@dataclass(frozen=True)
class Interval:
    """When ``host`` may have run the VM: ``[start_ns, end_ns)``, open while ``None``."""

    host: str
    start_ns: int
    end_ns: int | None


@dataclass(frozen=True)
class Overlap:
    """The VM ``instance`` ran on two hosts at once: in ``first`` and in ``second``."""

    instance: str
    first: Interval
    second: Interval

    def __str__(self) -> str:
        def shown(interval: Interval) -> str:
            end = "running" if interval.end_ns is None else f"{interval.end_ns}"
            return f"{interval.host} [{interval.start_ns}, {end})"

        return f"{self.instance} ran on two hosts: {shown(self.first)} and {shown(self.second)}"


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path

    def record(self, host: str, instance: str | None, action: Action) -> None:
        entry = LedgerEntry(
            host=host, instance=instance, action=action, monotonic_ns=time.monotonic_ns()
        )
        line = entry.model_dump_json().encode() + b"\n"
        handle = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            os.write(handle, line)
            os.fsync(handle)
        finally:
            os.close(handle)


def record_host_off(path: Path, host: str) -> None:
    """Write that ``host``'s power went off; call it once its agent process is dead."""
    Ledger(path).record(host, None, Action.HOST_OFF)


def read_ledger(path: Path) -> list[LedgerEntry]:
    with path.open("rb") as handle:
        return [LedgerEntry.model_validate_json(line) for line in handle if line.strip()]


def _intervals(entries: Iterable[LedgerEntry]) -> dict[str, list[Interval]]:
    """Instance → the intervals in which some host may have run it.

    A start while the host already runs the VM (a start delivered again) continues the
    interval; a stop of a VM the host does not run ends nothing.
    """
    opened: dict[tuple[str, str], int] = {}
    closed: dict[str, list[Interval]] = defaultdict(list)
    for entry in sorted(entries, key=lambda entry: entry.monotonic_ns):
        if entry.action is Action.HOST_OFF:
            ended = [key for key in opened if key[0] == entry.host]
        elif entry.instance is None:
            continue
        elif entry.action is Action.START:
            opened.setdefault((entry.host, entry.instance), entry.monotonic_ns)
            continue
        else:
            ended = [key] if (key := (entry.host, entry.instance)) in opened else []
        for host, instance in ended:
            start = opened.pop((host, instance))
            closed[instance].append(Interval(host, start, entry.monotonic_ns))
    for (host, instance), start in opened.items():
        closed[instance].append(Interval(host, start, None))
    return closed


def find_overlaps(entries: Iterable[LedgerEntry]) -> list[Overlap]:
    """Every pair of intervals in which one VM ran on two different hosts at once."""
    overlaps: list[Overlap] = []
    for instance, intervals in sorted(_intervals(entries).items()):
        ordered = sorted(intervals, key=lambda interval: interval.start_ns)
        for index, first in enumerate(ordered):
            for second in ordered[index + 1 :]:
                if first.end_ns is not None and second.start_ns >= first.end_ns:
                    break  # sorted by start: no later interval reaches back into this one
                if second.host != first.host:
                    overlaps.append(Overlap(instance, first, second))
    return overlaps


def main(argv: list[str] | None = None) -> int:
    """Print the overlaps of the ledger at ``argv[0]``; 1 if there is any, else 0."""
    arguments = sys.argv[1:] if argv is None else argv
    if len(arguments) != 1:
        print("usage: python -m altostratus.agent.ledger LEDGER.jsonl", file=sys.stderr)
        return 2
    overlaps = find_overlaps(read_ledger(Path(arguments[0])))
    for overlap in overlaps:
        print(overlap)
    if not overlaps:
        print("no VM ran on two hosts at once")
    return 1 if overlaps else 0


if __name__ == "__main__":
    sys.exit(main())
