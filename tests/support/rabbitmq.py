"""A throwaway RabbitMQ node on loopback, from Debian's ``rabbitmq-server`` package.

Everything is its own: a temporary directory for the database, logs, config and Erlang
cookie, free loopback ports for AMQP and distribution, and an ``epmd`` of its own in the
foreground (the package's would daemonise on every interface and outlive the tests).
``stop`` ends the processes it started, by their ids, and ``start`` after it brings the
same node back with its durable queues and persistent messages.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.postgres import free_port

__all__ = ["RabbitBroker", "rabbitmq_installed"]

_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
_EPMD = shutil.which("epmd")


def rabbitmq_installed() -> bool:
    return _SERVER.exists() and _EPMD is not None


class RabbitBroker:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="alto-rabbit-"))
        self.port = free_port()
        self._epmd_port = free_port()
        self._dist_port = free_port()
        self._epmd: subprocess.Popen[bytes] | None = None
        self._server: subprocess.Popen[bytes] | None = None
        (self.root / "enabled_plugins").write_text("[].\n")

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _env(self) -> dict[str, str]:
        root = str(self.root)
        return {
            **os.environ,
            "HOME": root,
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_EPMD_PORT": str(self._epmd_port),
            "RABBITMQ_NODENAME": f"alto{self.port}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self._dist_port),
            "RABBITMQ_MNESIA_BASE": f"{root}/mnesia",
            "RABBITMQ_LOG_BASE": f"{root}/log",
            "RABBITMQ_ENABLED_PLUGINS_FILE": f"{root}/enabled_plugins",
            "RABBITMQ_CONFIG_FILE": f"{root}/rabbitmq",
            "RABBITMQ_ADVANCED_CONFIG_FILE": f"{root}/advanced.config",
            "RABBITMQ_PID_FILE": f"{root}/rabbit.pid",
        }

    def start(self, timeout: float = 60.0) -> None:
        """Start the node and wait until it accepts AMQP connections."""
        env = self._env()
        if self._epmd is None:
            self._epmd = subprocess.Popen(
                [str(_EPMD), "-port", str(self._epmd_port), "-address", "127.0.0.1"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        with (self.root / "server.log").open("ab") as out:
            self._server = subprocess.Popen(
                [str(_SERVER)], env=env, stdout=out, stderr=out, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while not self._accepts():
            if self._server.poll() is not None or time.monotonic() > deadline:
                log = (self.root / "server.log").read_text(errors="replace")[-2000:]
                self.stop()
                raise RuntimeError(f"rabbitmq-server did not start:\n{log}")
            time.sleep(0.2)

    def _accepts(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def stop_server(self) -> None:
        """Stop the node (its process group: the start script and the Erlang VM)."""
        server, self._server = self._server, None
        if server is None or server.poll() is not None:
            return
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()

    def stop(self) -> None:
        """Stop the node and its epmd, and remove its directory."""
        self.stop_server()
        epmd, self._epmd = self._epmd, None
        if epmd is not None:
            epmd.terminate()
            epmd.wait()
        shutil.rmtree(self.root, ignore_errors=True)
