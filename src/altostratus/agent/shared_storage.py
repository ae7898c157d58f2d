"""The cluster's shared primary storage, as the agents' safety belts use it.

A directory every host of a cluster sees (an NFS export, a cluster file system; for
the libvirt driver its storage directory by default). Two kinds of small files live
there:

* ``heartbeats/<host name>``: each agent rewrites its own every heartbeat interval
  (written aside, then renamed over, so a reader never sees half a file). A neighbour
  that reads an old one knows the host stopped writing to the storage its VMs use.
* ``leases/<volume uuid>``: which host holds a volume's disk, for which VM, and when
  the holder last renewed it. A lease renewed within ``lease_ttl`` is live, and no
  other host may start a VM on that disk: the belt that keeps a VM from running on two
  hosts even when the management server got it wrong. The holder renews the leases of
  its running VMs with each heartbeat, so a lease's age is also its disk's activity.

Every change to a lease is made under ``flock`` of the lease file (on NFS, Linux maps
it to a lock the server keeps), so two hosts taking the same disk at once cannot both
win. Ages are wall-clock seconds: the hosts' clocks must agree (NTP) to far better than
``lease_ttl``. Everything here blocks; the agent core calls it in a thread, so a
stalled storage server stalls the belt, not the agent.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from altostratus.agent.drivers.base import DriverError

__all__ = [
    "DEFAULT_HEARTBEAT_INTERVAL",
    "DEFAULT_LEASE_TTL",
    "Lease",
    "LeaseHeld",
    "SharedStorage",
]

#: How often an agent writes its heartbeat and renews its leases, in seconds.
DEFAULT_HEARTBEAT_INTERVAL = 2.0
#: How long a lease stays live without renewal, in seconds.
DEFAULT_LEASE_TTL = 10.0
#: Bytes of a lease file: every renewal overwrites all of them.
_RECORD = 512


@dataclass(frozen=True)
class Lease:
    volume_uuid: str
    host: str
    instance: str
    #: Wall-clock time (seconds since the epoch) of the last renewal.
    renewed: float

    def age(self, now: float) -> float:
        return max(0.0, now - self.renewed)


class LeaseHeld(DriverError):
    """A disk is leased, live, by another host: the VM must not start here."""

    def __init__(self, lease: Lease, age: float) -> None:
        super().__init__(
            f"disk {lease.volume_uuid} is leased by host {lease.host}, renewed {age:.1f} s ago"
        )
        self.lease = lease


class SharedStorage:
    def __init__(
        self,
        root: Path,
        *,
        lease_ttl: float = DEFAULT_LEASE_TTL,
        heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL,
    ) -> None:
        if not 0 < heartbeat_interval < lease_ttl:
            raise ValueError("the heartbeat interval must be positive and shorter than the TTL")
        self.root = root
        self.lease_ttl = lease_ttl
        self.heartbeat_interval = heartbeat_interval
        self._heartbeats = root / "heartbeats"
        self._leases = root / "leases"
        for directory in (self._heartbeats, self._leases):
            directory.mkdir(parents=True, exist_ok=True)

    # --- heartbeats ---

    def write_heartbeat(self, host: str) -> None:
        target = self._heartbeats / host
        partial = target.with_name(f".{host}.{os.getpid()}.part")
        partial.write_text(json.dumps({"host": host, "time": time.time()}))
        partial.replace(target)

    def heartbeat_age(self, host: str) -> float | None:
        """Seconds since ``host`` last wrote its heartbeat; ``None`` if it never did."""
        try:
            written = json.loads((self._heartbeats / host).read_text())["time"]
        except FileNotFoundError:
            return None
        return max(0.0, time.time() - float(written))

    # --- leases ---

    def disk_activity_age(self, volume_uuids: Iterable[str]) -> float | None:
        """Seconds since the freshest renewal of these disks' leases; ``None``: none leased."""
        now = time.time()
        ages = [
            lease.age(now)
            for uuid in volume_uuids
            if (lease := self._read_locked(uuid)) is not None
        ]
        return min(ages, default=None)

    def acquire(self, host: str, instance: str, volume_uuids: Iterable[str]) -> None:
        """Lease every disk to ``host`` for ``instance``, or none of them.

        A disk whose lease another host renewed within the TTL raises ``LeaseHeld``; the
        disks taken by this call before it are given back. A lease of this host (an
        agent that restarted, a start delivered again) is simply renewed.
        """
        taken: list[str] = []
        try:
            for uuid in sorted(set(volume_uuids)):
                with self._locked(uuid) as handle:
                    lease = _parse(uuid, handle)
                    now = time.time()
                    if lease is not None and lease.host != host and lease.age(now) < self.lease_ttl:
                        raise LeaseHeld(lease, lease.age(now))
                    if lease is None or lease.host != host:
                        taken.append(uuid)
                    _write(handle, Lease(uuid, host, instance, now))
        except LeaseHeld:
            self.release(host, taken)
            raise

    def renew(self, host: str, instance: str, volume_uuids: Iterable[str]) -> list[Lease]:
        """Renew ``host``'s leases of these disks; answers the ones another host took.

        A disk with no lease file was given back meanwhile and is not leased again.

        A disk another host holds (live or not) was taken over after this host's lease
        ran out: its VM may be running there now, so it is not renewed here.
        """
        lost: list[Lease] = []
        for uuid in sorted(set(volume_uuids)):
            with contextlib.suppress(FileNotFoundError), self._locked(uuid, create=False) as handle:
                lease = _parse(uuid, handle)
                if lease is not None and lease.host != host:
                    lost.append(lease)
                elif lease is not None:
                    _write(handle, Lease(uuid, host, instance, time.time()))
        return lost

    def release(self, host: str, volume_uuids: Iterable[str]) -> None:
        """Give back ``host``'s leases of these disks; another host's are left alone."""
        for uuid in sorted(set(volume_uuids)):
            with contextlib.suppress(FileNotFoundError), self._locked(uuid, create=False) as handle:
                lease = _parse(uuid, handle)
                if lease is not None and lease.host == host:
                    (self._leases / uuid).unlink()

    def leases(self) -> list[Lease]:
        """Every lease on the storage, live or not: what an agent that restarted reads."""
        found = (self._read_locked(path.name) for path in sorted(self._leases.iterdir()))
        return [lease for lease in found if lease is not None]

    def _read_locked(self, uuid: str) -> Lease | None:
        try:
            with self._locked(uuid, create=False, shared=True) as handle:
                return _parse(uuid, handle)
        except FileNotFoundError:
            return None

    @contextlib.contextmanager
    def _locked(self, uuid: str, *, create: bool = True, shared: bool = False) -> Iterator[int]:
        """The lease file's descriptor, under ``flock``; ``FileNotFoundError`` if there is
        none and ``create`` is false.

        A release unlinks the file while holding its lock; whoever waited for that lock
        then holds a file no longer in the directory, so it checks and opens it again.
        """
        if "/" in uuid or uuid.startswith("."):
            raise DriverError(f"not a volume uuid: {uuid}")
        path = self._leases / uuid
        while True:
            handle = os.open(path, os.O_RDWR | (os.O_CREAT if create else 0), 0o644)
            try:
                fcntl.flock(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
                if _inode(path) == os.fstat(handle).st_ino:
                    yield handle
                    return
            finally:
                os.close(handle)  # closing drops the lock


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return None


def _parse(uuid: str, handle: int) -> Lease | None:
    """The lease in the (locked) file; ``None`` for an empty one (just created)."""
    os.lseek(handle, 0, os.SEEK_SET)
    content = b""
    while chunk := os.read(handle, 4096):
        content += chunk
    if not content.strip():
        return None
    fields = json.loads(content)
    return Lease(uuid, str(fields["host"]), str(fields["instance"]), float(fields["renewed"]))


def _write(handle: int, lease: Lease) -> None:
    """Overwrite the lease in one ``write`` of a fixed length (padded with spaces), so a
    holder killed mid-renewal leaves the old lease or the new one, never an empty file
    that would free a disk its VM still uses."""
    content = json.dumps(
        {"host": lease.host, "instance": lease.instance, "renewed": lease.renewed}
    ).encode()
    os.pwrite(handle, content.ljust(_RECORD), 0)
    os.fsync(handle)
