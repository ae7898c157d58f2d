"""Shared storage: heartbeat files and disk leases, atomic across processes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from altostratus.agent.shared_storage import LeaseHeld, SharedStorage

_RACER = """
import sys, time
from pathlib import Path
from altostratus.agent.shared_storage import LeaseHeld, SharedStorage
root, host, disks = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
storage = SharedStorage(root)
(root / f"ready-{host}").touch()
while not (root / "go").exists():
    time.sleep(0.001)
try:
    storage.acquire(host, "i-1-1-VM", disks)
    print("won")
except LeaseHeld:
    print("held")
"""


def test_of_hosts_racing_for_a_vms_disks_exactly_one_wins(tmp_path: Path) -> None:
    hosts = [f"host-{number}" for number in range(6)]
    racers = [
        subprocess.Popen(
            # Half of them name the disks the other way round: no deadlock either.
            [sys.executable, "-c", _RACER, str(tmp_path), host]
            + (["disk-1", "disk-2"] if number % 2 else ["disk-2", "disk-1"]),
            stdout=subprocess.PIPE,
            text=True,
        )
        for number, host in enumerate(hosts)
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready-{host}").exists() for host in hosts):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    (tmp_path / "go").touch()
    outcomes = [racer.communicate(timeout=60)[0].strip() for racer in racers]
    assert sorted(outcomes) == ["held"] * 5 + ["won"]
    winner = hosts[outcomes.index("won")]
    storage = SharedStorage(tmp_path)
    assert [(lease.volume_uuid, lease.host) for lease in storage.leases()] == [
        ("disk-1", winner),
        ("disk-2", winner),
    ]


def test_a_host_gives_back_only_its_own_leases(tmp_path: Path) -> None:
    storage = SharedStorage(tmp_path)
    storage.acquire("host-a", "i-1-1-VM", ["disk-1"])
    storage.release("host-b", ["disk-1"])
    with pytest.raises(LeaseHeld, match="disk disk-1 is leased by host host-a"):
        storage.acquire("host-b", "i-1-1-VM", ["disk-1"])
    storage.release("host-a", ["disk-1"])
    storage.acquire("host-b", "i-1-1-VM", ["disk-1"])


def test_heartbeat_age_grows_until_the_next_heartbeat(tmp_path: Path) -> None:
    storage = SharedStorage(tmp_path)
    assert storage.heartbeat_age("host-a") is None
    storage.write_heartbeat("host-a")
    time.sleep(0.2)
    older = storage.heartbeat_age("host-a")
    assert older is not None
    assert older >= 0.2
    storage.write_heartbeat("host-a")
    newer = storage.heartbeat_age("host-a")
    assert newer is not None
    assert newer < older
    assert [path.name for path in (tmp_path / "heartbeats").iterdir()] == ["host-a"]


def test_the_heartbeat_must_come_well_within_the_ttl(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="shorter than the TTL"):
        SharedStorage(tmp_path, lease_ttl=2.0, heartbeat_interval=2.0)
