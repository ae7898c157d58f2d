"""Namespaces, links and drops do what the HA scenarios rely on: a cut or a drop makes a
peer silent (not refusing), a drop is one-way and removable, and closing a set removes
its namespaces and kills what runs in them, even after a failure."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ha_rig import rig_missing
from tests.support.netns import Namespace, NamespaceSet, veth

A, B = "10.251.252.1", "10.251.252.2"
_RECEIVE = """
import socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((sys.argv[1], 5000))
sock.settimeout(5)
print(sock.recv(100).decode(), end="")
"""
#: Sent a few times: the receiver may not be bound yet when the first one arrives.
_SEND = """
import socket, sys, time
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(20):
    sock.sendto(b"hello", (sys.argv[1], 5000))
    time.sleep(0.1)
"""


def _namespaces() -> set[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    return {line.split()[0] for line in listed.stdout.splitlines() if line}


@pytest.fixture
def pair() -> Iterator[tuple[Namespace, Namespace]]:
    if (why := rig_missing()) is not None:
        pytest.skip(why)
    with NamespaceSet() as namespaces:
        a, b = namespaces.create("a"), namespaces.create("b")
        veth(a, "ab0", b, "ba0")
        a.add_address("ab0", f"{A}/30")
        b.add_address("ba0", f"{B}/30")
        yield a, b


def test_a_link_taken_down_is_silent_and_comes_back(pair: tuple[Namespace, Namespace]) -> None:
    a, b = pair
    assert a.reach(B, 9) == "refused"  # b's kernel answers: nothing listens on port 9
    b.set_link("ba0", up=False)
    assert a.reach(B, 9, timeout=0.5) == "silent"
    b.set_link("ba0", up=True)
    assert a.reach(B, 9) == "refused"


def test_a_drop_is_one_way_and_removable(pair: tuple[Namespace, Namespace], tmp_path: Path) -> None:
    a, b = pair
    with a.add_drop(source=A, destination=B):
        assert a.reach(B, 9, timeout=0.5) == "silent"
        # The other way still works: a datagram from b arrives in a.
        received = tmp_path / "received"
        with received.open("wb") as out:
            receiver = a.popen([sys.executable, "-c", _RECEIVE, A], log=out)
            b.run(sys.executable, "-c", _SEND, A)
            assert receiver.wait(timeout=10) == 0
        assert received.read_text() == "hello"
    assert a.reach(B, 9) == "refused"


def _fail_with_a_process_inside(started: list[subprocess.Popen[bytes]]) -> None:
    with NamespaceSet() as namespaces:
        left = namespaces.create("left")
        started.append(left.popen(["sleep", "600"], log=subprocess.DEVNULL))
        assert left.pids() == [started[0].pid]
        raise RuntimeError("scenario failed")


def test_closing_removes_namespaces_and_their_processes_after_a_failure() -> None:
    if (why := rig_missing()) is not None:
        pytest.skip(why)
    before = _namespaces()
    started: list[subprocess.Popen[bytes]] = []
    with pytest.raises(RuntimeError, match="scenario failed"):
        _fail_with_a_process_inside(started)
    assert started[0].wait(timeout=5) == -9  # SIGKILLed by the teardown
    assert _namespaces() == before
