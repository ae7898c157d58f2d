"""A real ``alto server`` process on a free loopback port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.postgres import free_port

__all__ = ["LiveServer"]


class LiveServer:
    def __init__(
        self,
        data_dir: Path,
        *,
        database_url: str | None = None,
        extra_env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
        port: int | None = None,
    ) -> None:
        self.data_dir = data_dir
        #: Fixed when restarting a region on the port it is registered with elsewhere.
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}/client/api"
        alto = Path(sys.executable).parent / "alto"
        command = [
            str(alto),
            "server",
            "--data-dir",
            str(data_dir),
            "--port",
            str(self.port),
            *args,
        ]
        if database_url:
            command += ["--database-url", database_url]
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALTO_")}
        # Background workers stay off unless a test federates real servers: other tests
        # register regions at made-up endpoints, and tests send traffic to loopback only.
        env.update(
            {
                "ALTO_PASSWORD_TIME_COST": "1",
                "ALTO_PASSWORD_MEMORY_KIB": "64",
                "ALTO_BACKGROUND_WORKERS": "0",
                **(extra_env or {}),
            }
        )
        self.log_path = data_dir.parent / f"{data_dir.name}.log"
        data_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, env=env
        )

    def __enter__(self) -> LiveServer:
        """Wait until the server answers; stop it if it never does."""
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not ready: {self.log_path.read_text()[-3000:]}")

    @property
    def admin(self) -> dict[str, str]:
        return dict(json.loads((self.data_dir / "admin.json").read_text()))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
