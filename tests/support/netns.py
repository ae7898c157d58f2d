"""Network namespaces, veth links and nftables drops for tests that partition a network.

Everything lives inside namespaces this module creates: addresses, routes and rules are
set with ``ip -n NAME`` / ``ip netns exec NAME``, so the machine's own network (the root
namespace) never sees them. Namespaces are global to the machine, so their names carry
this process's pid (two pytest-xdist workers never collide), and a ``NamespaceSet``
removes what it created, processes first, even when the test failed half-way. It never
touches a namespace it did not name; at start it does sweep namespaces of *dead* test
processes (same prefix, a pid that no longer runs), which a SIGKILLed run leaves behind.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Literal, Self, cast

__all__ = ["Drop", "Namespace", "NamespaceSet", "Reach", "veth"]

#: Every namespace a test creates is named altorig-<pid>-<n>-<role>.
_PREFIX = "altorig"
_sets = itertools.count(1)

#: What a TCP connection attempt found: a listener, a host that refused (so the path
#: works, nothing listens), or silence (dropped, link down, no route).
Reach = Literal["open", "refused", "silent"]

_PROBE = """
import socket, sys
sock = socket.socket()
sock.settimeout(float(sys.argv[3]))
try:
    sock.connect((sys.argv[1], int(sys.argv[2])))
    print("open")
except ConnectionRefusedError:
    print("refused")
except OSError:
    print("silent")
"""


def _run(argv: Sequence[str], *, timeout: float = 30.0) -> str:
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


@dataclass(frozen=True)
class Drop:
    """An nftables drop in one namespace, removable again (``with`` removes it too)."""

    namespace: Namespace
    #: Chain name → rule handle: the same match is dropped on input, output and forward.
    handles: tuple[tuple[str, int], ...]

    def remove(self) -> None:
        for chain, handle in self.handles:
            self.namespace.nft(
                "delete", "rule", "inet", Namespace.TABLE, chain, "handle", str(handle)
            )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.remove()


@dataclass(frozen=True)
class Namespace:
    """One network namespace (created and deleted by its ``NamespaceSet``)."""

    #: The table this module's drops live in; created in a namespace at its first drop.
    TABLE = "alto_rig"
    _CHAINS = ("input", "output", "forward")

    name: str

    def command(self, *argv: str) -> list[str]:
        """``argv`` run inside this namespace (``ip netns exec`` execs it: same pid)."""
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, *argv: str, timeout: float = 30.0) -> str:
        """Run ``argv`` inside the namespace, return its output; fail loudly on error."""
        return _run(self.command(*argv), timeout=timeout)

    def popen(
        self, argv: Sequence[str], *, log: IO[bytes] | int, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        return subprocess.Popen(self.command(*argv), stdout=log, stderr=subprocess.STDOUT, env=env)

    def ip(self, *args: str) -> str:
        return _run(["ip", "-n", self.name, *args])

    def nft(self, *args: str) -> str:
        return self.run("nft", *args)

    def pids(self) -> list[int]:
        """Processes whose network namespace this is (zombies have none and are left out)."""
        done = subprocess.run(
            ["ip", "netns", "pids", self.name], capture_output=True, text=True, timeout=10
        )
        return [int(pid) for pid in done.stdout.split()] if done.returncode == 0 else []

    def kill_all(self, timeout: float = 10.0) -> None:
        """SIGKILL every process in the namespace and wait until none is left."""
        deadline = time.monotonic() + timeout
        while pids := self.pids():
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if time.monotonic() > deadline:
                raise RuntimeError(f"processes {pids} survive SIGKILL in {self.name}")
            time.sleep(0.05)

    def add_address(self, device: str, cidr: str) -> None:
        self.ip("addr", "add", cidr, "dev", device)

    def set_link(self, device: str, *, up: bool) -> None:
        """Bring ``device`` up or down: down is a cut (its peer loses carrier, packets
        sent into it vanish, so the other side sees timeouts, not refusals)."""
        self.ip("link", "set", "dev", device, "up" if up else "down")

    def add_route(self, destination: str, via: str) -> None:
        self.ip("route", "add", destination, "via", via)

    def add_drop(self, *, source: str | None = None, destination: str | None = None) -> Drop:
        """Drop IPv4 packets from ``source`` to ``destination`` (either may be left out:
        any) that this namespace sends, receives or forwards."""
        if source is None and destination is None:
            raise ValueError("a drop needs a source, a destination or both")
        self._ensure_table()
        match = [
            *(["ip", "saddr", source] if source else []),
            *(["ip", "daddr", destination] if destination else []),
        ]
        handles = []
        for chain in self._CHAINS:
            echoed = self.nft(
                "--echo", "--handle", "add", "rule", "inet", self.TABLE, chain, *match, "drop"
            )
            found = re.search(r"# handle (\d+)", echoed)
            if found is None:
                raise RuntimeError(f"nft did not say the rule's handle: {echoed!r}")
            handles.append((chain, int(found.group(1))))
        return Drop(self, tuple(handles))

    def _ensure_table(self) -> None:
        self.nft("add", "table", "inet", self.TABLE)  # idempotent
        for chain in self._CHAINS:
            spec = f"{{ type filter hook {chain} priority 0 ; policy accept ; }}"
            self.nft("add", "chain", "inet", self.TABLE, chain, spec)

    def reach(self, address: str, port: int, timeout: float = 1.0) -> Reach:
        """Try a TCP connection from inside the namespace (see ``Reach``)."""
        found = self.run(
            sys.executable, "-c", _PROBE, address, str(port), str(timeout), timeout=timeout + 30
        ).strip()
        assert found in ("open", "refused", "silent"), found
        return cast(Reach, found)


def veth(a: Namespace, a_device: str, b: Namespace, b_device: str) -> None:
    """A veth pair made directly inside the two namespaces (never in the root one), both
    ends up."""
    _run(
        [
            *("ip", "link", "add", a_device, "netns", a.name, "type", "veth"),
            *("peer", "name", b_device, "netns", b.name),
        ]
    )
    a.set_link(a_device, up=True)
    b.set_link(b_device, up=True)


class NamespaceSet:
    """The namespaces of one test topology: ``create`` makes them, closing removes them,
    and the processes in them, newest namespace first."""

    def __init__(self) -> None:
        self.prefix = f"{_PREFIX}-{os.getpid()}-{next(_sets)}"
        self._created: list[Namespace] = []
        _sweep_dead_runs()

    def create(self, role: str) -> Namespace:
        namespace = Namespace(f"{self.prefix}-{role}")
        _run(["ip", "netns", "add", namespace.name])
        self._created.append(namespace)
        namespace.set_link("lo", up=True)
        return namespace

    def close(self) -> None:
        for namespace in reversed(self._created):
            _remove(namespace)
        self._created.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.close()


def _remove(namespace: Namespace) -> None:
    """Kill what runs in ``namespace``, then delete it (its veth ends go with it)."""
    namespace.kill_all()
    subprocess.run(["ip", "netns", "del", namespace.name], capture_output=True, timeout=30)


def _sweep_dead_runs() -> None:
    """Remove namespaces left by test processes that were killed before their teardown."""
    netns_dir = Path("/run/netns")
    names = [path.name for path in netns_dir.iterdir()] if netns_dir.is_dir() else []
    for name in names:
        found = re.fullmatch(rf"{_PREFIX}-(\d+)-\d+-\w+", name)
        if found and not Path(f"/proc/{found.group(1)}").exists():
            _remove(Namespace(name))
