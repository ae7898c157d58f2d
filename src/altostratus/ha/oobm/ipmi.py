"""IPMI over LAN (RMCP+, IPMI 2.0) with the ``ipmitool`` program: CloudStack's driver of that name.

Each call is one ``ipmitool`` process with its own session, killed if it outlives the
target's timeout. That is the point: a call abandoned by a timeout must not act later.
(A library keeping sessions in threads, as pyghmi does, went on sending an abandoned
power OFF once the BMC answered again, seconds after the fence had been given up, and
its long-kept sessions stopped answering after half a minute idle; the host HA bench
found both.) The password reaches ipmitool in its environment (``-E``), never on a
command line; a new password being set is the exception (``user set password`` takes it
as an argument), so change passwords from a machine whose process list you trust.

Cipher suite 3 (RAKP-HMAC-SHA1, AES-128) is the one every IPMI 2.0 BMC offers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time

from altostratus.ha.oobm.drivers import BmcTarget, OutOfBandError, PowerAction, PowerState

__all__ = ["IpmiDriver"]

_COMMANDS = {
    PowerAction.STATUS: "status",
    PowerAction.ON: "on",
    PowerAction.OFF: "off",
    PowerAction.CYCLE: "cycle",
    PowerAction.RESET: "reset",
    PowerAction.SOFT: "soft",
}
#: ON and OFF read the state until it is the one asked for (a BMC applies them a little
#: later), at this pace, within the call's timeout.
_SETTLE_POLL_SECONDS = 0.2
_SETTLED = {PowerAction.ON: PowerState.ON, PowerAction.OFF: PowerState.OFF}
_STATE = re.compile(r"Chassis Power is (on|off)", re.IGNORECASE)


class IpmiDriver:
    def __init__(self, target: BmcTarget) -> None:
        self._target = target

    async def power(self, action: PowerAction) -> PowerState:
        deadline = time.monotonic() + self._target.timeout
        if action is not PowerAction.STATUS:
            await self._ipmitool(deadline, str(action), "chassis", "power", _COMMANDS[action])
        state = await self._status(deadline)
        wanted = _SETTLED.get(action)
        while wanted is not None and state is not wanted and time.monotonic() < deadline:
            await asyncio.sleep(_SETTLE_POLL_SECONDS)
            state = await self._status(deadline)
        return state

    async def change_password(self, new_password: str) -> None:
        deadline = time.monotonic() + self._target.timeout
        users = await self._ipmitool(deadline, "user list", "user", "list", "1")
        uid = next(
            (
                fields[0]
                for fields in (line.split() for line in users.splitlines())
                if len(fields) > 1 and fields[0].isdigit() and fields[1] == self._target.username
            ),
            None,
        )
        if uid is None:
            raise OutOfBandError(
                f"The BMC at {self._target.name} lists no user {self._target.username}"
            )
        await self._ipmitool(
            deadline, "password change", "user", "set", "password", uid, new_password
        )

    async def _status(self, deadline: float) -> PowerState:
        answer = await self._ipmitool(deadline, "STATUS", "chassis", "power", "status")
        found = _STATE.search(answer)
        if found is None:
            return PowerState.UNKNOWN
        return PowerState.ON if found.group(1).lower() == "on" else PowerState.OFF

    async def _ipmitool(self, deadline: float, what: str, *command: str) -> str:
        """Run one ``ipmitool`` command against the BMC; its output, or ``OutOfBandError``."""
        target = self._target
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise self._timed_out()
        # One try per second of the time left (ipmitool's own retransmissions).
        retries = max(1, int(remaining))
        try:
            process = await asyncio.create_subprocess_exec(
                *("ipmitool", "-I", "lanplus", "-C", "3", "-v"),
                *("-H", target.address, "-p", str(target.port), "-U", target.username, "-E"),
                *("-N", "1", "-R", str(retries)),
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={**os.environ, "IPMI_PASSWORD": target.password},
            )
        except FileNotFoundError:
            raise OutOfBandError("The ipmitool program is not installed") from None
        try:
            out, err = await asyncio.wait_for(process.communicate(), timeout=remaining)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise self._timed_out() from None
        if process.returncode == 0:
            return out.decode(errors="replace")
        raise OutOfBandError(f"IPMI {what} failed: {self._described(err.decode(errors='replace'))}")

    def _timed_out(self) -> OutOfBandError:
        target = self._target
        return OutOfBandError(
            f"The BMC at {target.name} did not answer IPMI within {target.timeout:g} s"
        )

    def _described(self, stderr: str) -> str:
        target = self._target
        text = stderr.replace(target.password, "****") if target.password else stderr
        lines = [line for line in text.splitlines() if line and not line.startswith("Loading")]
        lowered = text.lower()
        if "rakp" in lowered or "unauthorized" in lowered or "invalid user" in lowered:
            return f"the BMC at {target.name} refused the credentials of {target.username}"
        if "unable to establish" in lowered:
            return f"the BMC at {target.name} did not answer"
        detail = lines[-1] if lines else "no reason given"
        return f"the BMC at {target.name} refused the request: {detail}"
