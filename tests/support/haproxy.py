"""HAProxy on loopback in front of test servers: Debian's ``haproxy`` in the foreground.

One helper for both load balancers the HA tests need: an HTTP frontend over ``alto
server`` processes, checked on ``/health/ready``, and a TCP frontend over PostgreSQL
nodes, checked on Patroni's REST ``/primary`` so that only the primary takes
connections (as in ``shared/reference/postgres-ha.md``). A server marked down has its
sessions cut (``on-marked-down shutdown-sessions``), so clients reconnect at once.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tests.support.postgres import free_port
from tests.support.service import Service

__all__ = ["Backend", "Frontend", "HAProxy"]


@dataclass(frozen=True)
class Backend:
    """A server behind a frontend; its health is checked over HTTP on ``check_port``
    (its own port when None)."""

    host: str
    port: int
    check_port: int | None = None


@dataclass(frozen=True)
class Frontend:
    """A listening port on 127.0.0.1 balancing over ``backends``.

    ``mode="http"`` proxies HTTP requests; ``mode="tcp"`` proxies bytes (PostgreSQL).
    Either way a backend is in rotation only while ``GET health_path`` answers 200.
    """

    name: str
    backends: Sequence[Backend]
    health_path: str = "/health/ready"
    #: While no backend passes ``health_path``, send requests to those passing this one
    #: (the live servers), as deploy/haproxy/haproxy.cfg does.
    fallback_path: str | None = None
    mode: Literal["http", "tcp"] = "http"
    port: int = field(default_factory=free_port)
    inter: str = "1s"
    fall: int = 2
    rise: int = 1

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)


class HAProxy(Service):
    """``haproxy -db`` with one ``listen`` section per frontend; a context manager.

    The admin socket in ``root_dir`` tells which servers HAProxy holds up
    (``server_states``), so a test can wait for its view instead of sleeping.
    """

    def __init__(self, root_dir: Path, frontends: Sequence[Frontend]) -> None:
        self.root_dir = root_dir
        self.frontends = {frontend.name: frontend for frontend in frontends}
        self.config_path = root_dir / "haproxy.cfg"
        self.log_path = root_dir / "haproxy.log"
        self.socket_path = root_dir / "haproxy.sock"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Write the configuration, start HAProxy and wait until every frontend listens."""
        self.root_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config())
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                ["haproxy", "-db", "-f", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        pending = list(self.frontends.values())
        while pending:
            if self.process.poll() is not None:
                raise RuntimeError(f"haproxy exited: {self.log_path.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"haproxy not listening after {timeout:g} s")
            pending = [frontend for frontend in pending if not _listening(frontend.address)]
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def config(self) -> str:
        lines = [
            "global",
            "    maxconn 1000",
            f"    stats socket {self.socket_path} mode 600 level admin",
            "defaults",
            "    timeout connect 1s",
            "    timeout check 1s",
            # Long idle sessions are normal for a connection pool; health checks, not
            # timeouts, decide when a server is gone.
            "    timeout client 30m",
            "    timeout server 30m",
        ]
        for frontend in self.frontends.values():
            lines += [
                f"frontend {frontend.name}",
                f"    bind 127.0.0.1:{frontend.port}",
                f"    mode {frontend.mode}",
            ]
            if frontend.fallback_path is not None:
                lines.append(
                    f"    use_backend {frontend.name}_live if {{ nbsrv({frontend.name}) eq 0 }}"
                )
            lines.append(f"    default_backend {frontend.name}")
            # With a fallback, requests that wait out a database failover on a server that
            # is not ready are not cut (deploy/haproxy/haproxy.cfg explains why).
            lines += _backend(
                frontend.name, frontend, frontend.health_path, frontend.fallback_path is None
            )
            if frontend.fallback_path is not None:
                lines += _backend(f"{frontend.name}_live", frontend, frontend.fallback_path, True)
        return "\n".join(lines) + "\n"

    def server_states(self, frontend: str) -> dict[int, str]:
        """HAProxy's view of ``frontend``'s backends by index: ``UP``, ``DOWN``, ``UP 1/2``
        (up, one failed check towards down: at start a server is that until checked) ..."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(self.socket_path))
            sock.sendall(b"show stat\n")
            answer = b"".join(iter(lambda: sock.recv(65536), b"")).decode()
        states: dict[int, str] = {}
        header, *rows = answer.lstrip("# ").splitlines()
        columns = header.split(",")
        for row in rows:
            values = dict(zip(columns, row.split(","), strict=False))
            if values.get("pxname") == frontend and values.get("svname", "").startswith("s"):
                states[int(values["svname"][1:])] = values["status"]
        return states

    def wait_up(self, frontend: str, backends: set[int], timeout: float = 30.0) -> None:
        """Wait until exactly ``backends`` (indexes) of ``frontend`` take traffic."""
        deadline = time.monotonic() + timeout
        while True:
            states = self.server_states(frontend)
            if {index for index, state in states.items() if state.startswith("UP")} == backends:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{frontend}: servers {states}, wanted {backends} up")
            time.sleep(0.1)


def _backend(name: str, frontend: Frontend, health_path: str, cut_sessions: bool) -> list[str]:
    cut = " on-marked-down shutdown-sessions" if cut_sessions else ""
    lines = [
        f"backend {name}",
        f"    mode {frontend.mode}",
        "    balance roundrobin",
        f"    option httpchk GET {health_path}",
        "    http-check expect status 200",
        f"    default-server inter {frontend.inter} fall {frontend.fall} rise {frontend.rise}{cut}",
        # A refused connection (a dead server not yet marked down) goes to another server.
        "    option redispatch",
        "    retries 2",
    ]
    for number, backend in enumerate(frontend.backends):
        check = f" port {backend.check_port}" if backend.check_port else ""
        lines.append(f"    server s{number} {backend.host}:{backend.port} check{check}")
    return lines


def _listening(address: tuple[str, int]) -> bool:
    try:
        socket.create_connection(address, timeout=0.5).close()
    except OSError:
        return False
    return True
