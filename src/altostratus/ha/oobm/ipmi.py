"""IPMI over LAN (RMCP+, IPMI 2.0) with pyghmi: CloudStack's ``ipmitool`` driver.

pyghmi is blocking, so each call runs in a worker thread and is abandoned after the
target's timeout: an unreachable BMC fails the call in that time (pyghmi's own retries
may keep the abandoned thread a little longer).

pyghmi keeps one session per BMC and credentials alive (its keepalive thread), and a
second ``Command`` for a BMC whose session is logged in waits forever for a login that
already happened. So one ``Command`` per BMC and credentials is kept and reused, one
call at a time. It is dropped only once its session is broken or logged out (pyghmi
forgets such sessions, so the next call logs in again); a request the BMC refused
leaves the session as it was.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from pyghmi.exceptions import IpmiException
from pyghmi.ipmi.command import Command
from pyghmi.ipmi.private.session import Session

from altostratus.ha.oobm.drivers import BmcTarget, OutOfBandError, PowerAction, PowerState

__all__ = ["IpmiDriver"]

#: Chassis Control (NetFn chassis 0x00, command 0x02) data byte per action.
_CHASSIS_CONTROL = {
    PowerAction.OFF: 0x00,
    PowerAction.ON: 0x01,
    PowerAction.CYCLE: 0x02,
    PowerAction.RESET: 0x03,
    PowerAction.SOFT: 0x05,
}
_NETFN_CHASSIS = 0x00
_CMD_CHASSIS_CONTROL = 0x02
#: ON and OFF read the state until it is the one asked for (a BMC applies them a little
#: later), at this pace, for at most half the call's timeout.
_SETTLE_POLL_SECONDS = 0.2
_SETTLED = {PowerAction.ON: PowerState.ON, PowerAction.OFF: PowerState.OFF}

T = TypeVar("T")
_Key = tuple[str, int, str, str]
_commands: dict[_Key, Command] = {}
_locks: dict[_Key, threading.Lock] = {}
_registry_lock = threading.Lock()


def _described(target: BmcTarget, error: Exception) -> str:
    text = str(error) if error.args and error.args[0] is not None else ""
    if not text:
        return f"the BMC at {target.name} did not answer"
    if target.password:
        text = text.replace(target.password, "****")
    lowered = text.lower()
    if "unauthorized" in lowered or "password" in lowered or "rakp" in lowered:
        return f"the BMC at {target.name} refused the credentials of {target.username}: {text}"
    if "timeout" in lowered or "unreachable" in lowered or "no longer connected" in lowered:
        return f"the BMC at {target.name} did not answer: {text}"
    return f"the BMC at {target.name} refused the request: {text}"


def _state(command: Command) -> PowerState:
    answer = str(command.get_power().get("powerstate")).lower()
    return {"on": PowerState.ON, "off": PowerState.OFF}.get(answer, PowerState.UNKNOWN)


class IpmiDriver:
    def __init__(self, target: BmcTarget) -> None:
        self._target = target
        self._key: _Key = (target.address, target.port, target.username, target.password)

    async def power(self, action: PowerAction) -> PowerState:
        return await self._in_thread(str(action), lambda command: self._act(command, action))

    async def change_password(self, new_password: str) -> None:
        await self._in_thread(
            "password change", lambda command: self._set_password(command, new_password)
        )

    async def _in_thread(self, what: str, work: Callable[[Command], T]) -> T:
        target = self._target
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(self._call, what, work), timeout=target.timeout
            )
        except TimeoutError:
            raise OutOfBandError(
                f"The BMC at {target.name} did not answer IPMI within {target.timeout:g} s"
            ) from None

    def _call(self, what: str, work: Callable[[Command], T]) -> T:
        with _registry_lock:
            lock = _locks.setdefault(self._key, threading.Lock())
        with lock:
            command = self._command()
            try:
                return work(command)
            except (IpmiException, OSError) as error:
                session = command.ipmi_session
                if session.broken or not session.logged:
                    _commands.pop(self._key, None)
                raise OutOfBandError(
                    f"IPMI {what} failed: {_described(self._target, error)}"
                ) from None

    def _command(self) -> Command:
        command = _commands.get(self._key)
        if command is None:
            target = self._target
            # A login that failed (a wrong password) stays in pyghmi's table of logins
            # under way, and the next login with the same credentials would wait for it
            # forever; no login of ours is under way for this key (we hold its lock).
            Session.initting_sessions.pop(
                (target.address, target.username, target.password, target.port, None), None
            )
            try:
                command = Command(
                    bmc=target.address,
                    userid=target.username,
                    password=target.password,
                    port=target.port,
                )
            except (IpmiException, OSError) as error:
                raise OutOfBandError(f"IPMI login failed: {_described(target, error)}") from None
            _commands[self._key] = command
        return command

    def _act(self, command: Command, action: PowerAction) -> PowerState:
        if action is not PowerAction.STATUS:
            command.xraw_command(
                _NETFN_CHASSIS, _CMD_CHASSIS_CONTROL, data=(_CHASSIS_CONTROL[action],)
            )
        state = _state(command)
        wanted = _SETTLED.get(action)
        deadline = time.monotonic() + self._target.timeout / 2
        while wanted is not None and state is not wanted and time.monotonic() < deadline:
            time.sleep(_SETTLE_POLL_SECONDS)
            state = _state(command)
        return state

    def _set_password(self, command: Command, new_password: str) -> None:
        users = command.get_users()
        uid = next(
            (uid for uid, user in users.items() if user.get("name") == self._target.username),
            None,
        )
        if uid is None:
            raise OutOfBandError(
                f"The BMC at {self._target.name} lists no user {self._target.username}"
            )
        command.set_user_password(uid, password=new_password)
