"""A simulated host's power: the launcher its BMC runs at power on, and a stand-in BMC.

``ipmi_sim`` powers a host on by running its ``startcmd`` as ``/bin/sh -c "exec CMD"``
(so the process it watches is CMD itself, in ipmi_sim's own process group: no new
session). Powering off, it sends SIGTERM to that one pid at its next one-second tick
(``poweroff_wait`` ticks later), then SIGKILL if it is still there ``kill_wait`` seconds
after; ``chassis power status`` answers "on" while that pid lives. Its process group is
never signalled, so whatever CMD starts is CMD's to stop.

The launcher is that CMD: ``python host_power.py SPEC.json``. It starts the host's agent
in the host's network namespace and holds the power: on SIGTERM it kills the agent at
once with SIGKILL (a power cut: no goodbye to the server, nothing flushed), waits for it,
appends a ``host-off`` entry to the ledger and exits, which ipmi_sim sees as power off.
The agent dies with the launcher in any case (``PR_SET_PDEATHSIG``), so a launcher that
ipmi_sim has to SIGKILL leaves no agent behind. An agent that dies on its own leaves
the host powered on (an agent crash on a live host) until the BMC powers it off.

``StandInBmc`` runs a minimal ``ipmi_sim`` with the launcher as its ``startcmd`` until
the shared ``tests/support/bmc.py`` ``IpmiSim`` replaces it.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from altostratus.agent.ledger import record_host_off

__all__ = ["LauncherSpec", "StandInBmc", "main"]

_PR_SET_PDEATHSIG = 1
_POWER_OFF = {signal.SIGTERM, signal.SIGINT}


@dataclass(frozen=True)
class LauncherSpec:
    """What a host's launcher starts: read from a JSON file, so the token stays out of
    every command line and the rig can change the agent's arguments between power-ons."""

    host: str
    netns: str
    argv: list[str]
    env: dict[str, str]
    log: str
    ledger: str

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))
        path.chmod(0o600)

    @classmethod
    def read(cls, path: Path) -> LauncherSpec:
        return cls(**json.loads(path.read_text()))


def _in_the_agent() -> None:
    """Between fork and exec of the agent: die with the launcher, take power-off signals
    again (the launcher blocks them to wait for them)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _POWER_OFF)


def main(argv: list[str]) -> int:
    """Power on: start the agent; power off (SIGTERM): SIGKILL it, ledger, exit."""
    spec = LauncherSpec.read(Path(argv[1]))
    # Blocked before the agent starts, so a power off during its start is not missed.
    signal.pthread_sigmask(signal.SIG_BLOCK, _POWER_OFF)
    with open(spec.log, "ab") as log:
        agent = subprocess.Popen(
            ["ip", "netns", "exec", spec.netns, *spec.argv],
            env=spec.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_in_the_agent,
        )
    signal.sigwaitinfo(_POWER_OFF)
    agent.kill()
    agent.wait()
    record_host_off(Path(spec.ledger), spec.host)
    return 0


class StandInBmc:
    """A minimal ``ipmi_sim`` in namespace ``netns``, listening on ``address``:623 for
    IPMI 2.0 (``ipmitool -I lanplus -C 3``), running ``startcmd`` at once and at each
    power on. ``with`` starts it and stops it, and the host it powers."""

    def __init__(
        self,
        *,
        netns: str,
        address: str,
        startcmd: str,
        state_dir: Path,
        username: str = "admin",
        password: str = "password",
    ) -> None:
        self.netns = netns
        self.address = address
        self.username = username
        self.password = password
        self.state_dir = state_dir
        self.log_path = state_dir / "ipmi_sim.log"
        state_dir.mkdir(parents=True, exist_ok=True)
        (state_dir / "lan.conf").write_text(
            _LAN_CONF.format(
                address=address, startcmd=startcmd, username=username, password=password
            )
        )
        (state_dir / "bmc.emu").write_text(_EMU)
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    *("ip", "netns", "exec", self.netns),
                    *("ipmi_sim", "-n", "-c", str(self.state_dir / "lan.conf")),
                    *("-f", str(self.state_dir / "bmc.emu"), "-s", str(self.state_dir)),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        """Power the host off the way the BMC would (SIGTERM, then SIGKILL), so ipmi_sim
        reaps it, then stop ipmi_sim."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            for power_off in (signal.SIGTERM, signal.SIGKILL):
                self._signal_host(process.pid, power_off)
                if self._host_gone(process.pid, within=5.0):
                    break
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._process = None

    def _host_pids(self, bmc_pid: int) -> list[int]:
        """The launcher (ipmi_sim's child) and anything else in its namespace but ipmi_sim."""
        done = subprocess.run(["ip", "netns", "pids", self.netns], capture_output=True, text=True)
        return [int(pid) for pid in done.stdout.split() if int(pid) != bmc_pid]

    def _signal_host(self, bmc_pid: int, signum: signal.Signals) -> None:
        for pid in self._host_pids(bmc_pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def _host_gone(self, bmc_pid: int, *, within: float) -> bool:
        deadline = time.monotonic() + within
        while self._host_pids(bmc_pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.stop()


# Channel 15 (a "VM" serial interface nobody connects to, on the namespace's loopback)
# is what makes ipmi_sim accept chassis power control and map it onto startcmd.
_LAN_CONF = """\
name "altorig"
set_working_mc 0x20
  startlan 1
    addr {address} 623
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  serial 15 127.0.0.1 9002 codec VM
  startcmd "{startcmd}"
  startnow true
  poweroff_wait 0
  kill_wait 5
  user 1 true "" "" user 10 none md2 md5 straight
  user 2 true "{username}" "{password}" admin 10 none md2 md5 straight
"""

_EMU = """\
mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
mc_enable 0x20
"""


if __name__ == "__main__":
    sys.exit(main(sys.argv))
