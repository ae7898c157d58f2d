"""Real BMCs on loopback for tests: OpenIPMI's ``ipmi_sim`` and sushy-tools' Redfish emulator.

``IpmiSim`` speaks IPMI 2.0 over LAN (RMCP+). Its chassis power is a process: powering
on runs ``startcmd``; the power is On while that process lives. Powering off sends
SIGTERM to that process only (its pid, not its process group), then SIGKILL after
``kill_wait`` seconds if it is still there (``poweroff_wait 0``: no graceful request
first, since no VM is connected to the simulator's serial interface). The process runs
in ipmi_sim's process group, and its own children are not signalled, so a ``startcmd``
that starts others must ``exec`` the last one or pass SIGTERM on. CYCLE powers off, then
on again a second later. RESET and SOFT need a VM connected to that serial interface,
so this simulator refuses them ("Invalid data field in request").

ipmi_sim is started in a session of its own: cleaning up kills that whole process
group, the simulator and whatever ``startcmd`` left running, even after a failure.

``SushyEmulator`` serves Redfish over HTTP with basic authentication, for one system of
libvirt's in-process ``test:///default`` driver (a domain that is On at start and
changes state at once when reset).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import bcrypt
import httpx

__all__ = ["IpmiSim", "SushyEmulator", "free_tcp_port", "free_udp_port"]

_IPMI_SIM = "/usr/bin/ipmi_sim"
_IPMITOOL = "/usr/bin/ipmitool"
_READY_WITHIN = 15.0

# One BMC (IPMB address 0x20) with chassis support, as in OpenIPMI's examples.
_EMU = """\
mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
sel_enable 0x20 1000 0x0a
mc_enable 0x20
"""


def free_udp_port(address: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((address, 0))
        port: int = probe.getsockname()[1]
        return port


def free_tcp_port(address: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((address, 0))
        port: int = probe.getsockname()[1]
        return port


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process's group (its session), then SIGKILL to whatever is left:
    the leader if it lingers, and any child that outlived it (a startcmd)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


class IpmiSim:
    """``ipmi_sim`` with one admin user, listening on ``address:port`` (UDP).

    ``startcmd``: what powering on runs (default ``sleep`` for a day: a host that only
    has a power state); it is written in lan.conf between double quotes, so it may not
    contain any. ``netns``: run the simulator (and so ``startcmd``) inside that network
    namespace with ``ip netns exec``; ``address`` is then one of the namespace's, and the
    port defaults to IPMI's 623. ``powered_on``: power on at start (``startnow``).
    """

    def __init__(
        self,
        *,
        username: str = "admin",
        password: str = "bmc-secret",
        address: str = "127.0.0.1",
        port: int | None = None,
        startcmd: str | None = None,
        netns: str | None = None,
        powered_on: bool = False,
        kill_wait: int = 2,
    ) -> None:
        if startcmd is not None and '"' in startcmd:
            raise ValueError("ipmi_sim's lan.conf cannot quote a startcmd holding '\"'")
        self.username = username
        self.password = password
        self.address = address
        self.netns = netns
        if port is None:
            port = 623 if netns is not None else free_udp_port(address)
        self.port = port
        self.startcmd = startcmd or "sleep 86400"
        self._powered_on = powered_on
        self._kill_wait = kill_wait
        self._dir = Path(tempfile.mkdtemp(prefix="ipmi-sim-"))
        self._process: subprocess.Popen[bytes] | None = None

    def _prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.netns] if self.netns is not None else []

    def _lan_conf(self) -> str:
        auths = "none md2 md5 straight"
        return "\n".join(
            [
                'name "altostratus"',
                "set_working_mc 0x20",
                "  startlan 1",
                f"    addr {self.address} {self.port}",
                "    priv_limit admin",
                *(
                    f"    allowed_auths_{priv} {auths}"
                    for priv in ("callback", "user", "operator", "admin")
                ),
                "    guid a123456789abcdefa123456789abcdef",
                "  endlan",
                # Channel 15 (the system interface) is what powers the startcmd on and off;
                # nothing connects to its port (bound next to the LAN one, in the namespace).
                f"  serial 15 {self.address} {free_tcp_port()} codec VM",
                f'  startcmd "{self.startcmd}"',
                f"  startnow {'true' if self._powered_on else 'false'}",
                "  poweroff_wait 0",
                f"  kill_wait {self._kill_wait}",
                f'  user 2 true "{self.username}" "{self.password}" admin 10 {auths}',
                "",
            ]
        )

    def __enter__(self) -> IpmiSim:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        lan = self._dir / "lan.conf"
        emu = self._dir / "bmc.emu"
        state = self._dir / "state"
        state.mkdir()
        lan.write_text(self._lan_conf())
        emu.write_text(_EMU)
        log = (self._dir / "ipmi_sim.log").open("wb")
        self._process = subprocess.Popen(
            [*self._prefix(), _IPMI_SIM, "-c", str(lan), "-f", str(emu), "-s", str(state), "-n"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + _READY_WITHIN
        while self.ipmitool("chassis", "power", "status").returncode != 0:
            if self._process.poll() is not None:
                raise RuntimeError(f"ipmi_sim exited: {self.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"ipmi_sim did not answer in time: {self.log()}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self._process is not None:
            _kill_group(self._process)
            self._process = None
        shutil.rmtree(self._dir, ignore_errors=True)

    def log(self) -> str:
        path = self._dir / "ipmi_sim.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def ipmitool(self, *args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``ipmitool`` against this BMC (from its namespace): an independent check."""
        return subprocess.run(
            [
                *self._prefix(),
                _IPMITOOL,
                "-I", "lanplus",
                "-H", self.address,
                "-p", str(self.port),
                "-U", self.username,
                "-P", password if password is not None else self.password,
                "-N", "1",
                "-R", "1",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )  # fmt: skip

    def power_is_on(self) -> bool:
        """The chassis power as ipmitool reads it."""
        answer = self.ipmitool("chassis", "power", "status")
        if answer.returncode != 0:
            raise RuntimeError(f"ipmitool failed: {answer.stderr}")
        return answer.stdout.strip().endswith("on")


class SushyEmulator:
    """``sushy-emulator`` on ``127.0.0.1:port`` (HTTP, basic auth) over libvirt's test driver."""

    def __init__(self, *, username: str = "admin", password: str = "redfish-secret") -> None:
        self.username = username
        self.password = password
        self.address = "127.0.0.1"
        self.port = free_tcp_port()
        self._dir = Path(tempfile.mkdtemp(prefix="sushy-"))
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    def __enter__(self) -> SushyEmulator:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        digest = bcrypt.hashpw(self.password.encode(), bcrypt.gensalt(rounds=4)).decode()
        htpasswd = self._dir / "htpasswd"
        htpasswd.write_text(f"{self.username}:{digest}\n")
        config = self._dir / "emulator.conf"
        config.write_text(f"SUSHY_EMULATOR_AUTH_FILE = {str(htpasswd)!r}\n")
        log = (self._dir / "sushy.log").open("wb")
        beside_python = Path(sys.executable).parent / "sushy-emulator"
        command = str(beside_python) if beside_python.exists() else shutil.which("sushy-emulator")
        if command is None:
            raise RuntimeError("sushy-emulator is not installed (the dev dependency group)")
        self._process = subprocess.Popen(
            [command, "--config", str(config), "-i", self.address, "-p", str(self.port),
             "--libvirt-uri", "test:///default"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + _READY_WITHIN
        while True:
            try:
                if httpx.get(f"{self.url}/redfish/v1/", timeout=1.0).status_code in (200, 401):
                    return
            except httpx.TransportError:
                pass
            if self._process.poll() is not None:
                raise RuntimeError(f"sushy-emulator exited: {self.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"sushy-emulator did not answer in time: {self.log()}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self._process is not None:
            _kill_group(self._process)
            self._process = None
        shutil.rmtree(self._dir, ignore_errors=True)

    def log(self) -> str:
        path = self._dir / "sushy.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def system(self) -> dict[str, Any]:
        """The first system as the emulator shows it: an independent check."""
        auth = (self.username, self.password)
        systems = httpx.get(f"{self.url}/redfish/v1/Systems", auth=auth).json()
        path = systems["Members"][0]["@odata.id"]
        body: dict[str, Any] = httpx.get(f"{self.url}{path}", auth=auth).json()
        return body
