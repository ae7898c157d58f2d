"""A simulated host's power: the launcher its BMC (``tests.support.bmc.IpmiSim``) runs.

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
"""

from __future__ import annotations

import ctypes
import json
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from altostratus.agent.ledger import record_host_off

__all__ = ["LauncherSpec", "main"]

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


if __name__ == "__main__":
    sys.exit(main(sys.argv))
