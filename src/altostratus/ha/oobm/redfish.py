"""Redfish with httpx: CloudStack's ``redfish`` driver, for the first computer system.

The BMC's address is ``HOST`` or ``https://HOST``: HTTPS, its certificate verified
against the system's trust store (``SSL_CERT_FILE`` names another bundle). Two spellings
are for the operator who decides otherwise: ``https+insecure://HOST`` skips the
certificate check (a BMC with a self-signed certificate), ``http://HOST`` speaks plain
HTTP (emulators and lab networks). Requests use basic authentication.

A power action is the system's ``#ComputerSystem.Reset`` with the first reset type the
system allows (``ResetType@Redfish.AllowableValues``) among the ones that mean it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx

from altostratus.ha.oobm.drivers import BmcTarget, OutOfBandError, PowerAction, PowerState

__all__ = ["RedfishDriver", "base_url"]

T = TypeVar("T")

#: The reset types that do an action, in order of preference.
_RESET_TYPES: dict[PowerAction, tuple[str, ...]] = {
    PowerAction.ON: ("On", "ForceOn"),
    PowerAction.OFF: ("ForceOff",),
    PowerAction.SOFT: ("GracefulShutdown",),
    PowerAction.RESET: ("ForceRestart", "GracefulRestart"),
    PowerAction.CYCLE: ("PowerCycle", "ForceRestart"),
}
_SETTLED = {PowerAction.ON: PowerState.ON, PowerAction.OFF: PowerState.OFF}
_SETTLE_POLL_SECONDS = 0.2
_SCHEMES = {"http://": ("http", True), "https://": ("https", True)}
_INSECURE = "https+insecure://"


def base_url(address: str, port: int) -> tuple[str, bool]:
    """The BMC's URL and whether its certificate is verified, from the configured address."""
    if address.startswith(_INSECURE):
        return f"https://{address.removeprefix(_INSECURE)}:{port}", False
    for prefix, (scheme, verify) in _SCHEMES.items():
        if address.startswith(prefix):
            return f"{scheme}://{address.removeprefix(prefix)}:{port}", verify
    return f"https://{address}:{port}", True


def _power_state(system: dict[str, Any]) -> PowerState:
    value = str(system.get("PowerState", ""))
    if value in ("On", "PoweringOff"):
        return PowerState.ON
    if value in ("Off", "PoweringOn"):
        return PowerState.OFF
    return PowerState.UNKNOWN


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
        message = body["error"].get("message") or body["error"].get("code")
    except (ValueError, KeyError, TypeError, AttributeError):
        message = response.reason_phrase
    return f"HTTP {response.status_code}: {message}"


class RedfishDriver:
    def __init__(self, target: BmcTarget) -> None:
        self._target = target
        self._url, self._verify = base_url(target.address, target.port)

    async def power(self, action: PowerAction) -> PowerState:
        return await self._session(lambda client: self._power(client, action))

    async def change_password(self, new_password: str) -> None:
        await self._session(lambda client: self._set_password(client, new_password))

    async def _session(self, work: Callable[[httpx.AsyncClient], Awaitable[T]]) -> T:
        target = self._target
        try:
            async with httpx.AsyncClient(
                base_url=self._url,
                auth=(target.username, target.password),
                verify=self._verify,
                timeout=target.timeout,
            ) as client:
                return await asyncio.wait_for(work(client), target.timeout)
        except (TimeoutError, httpx.TimeoutException):
            raise OutOfBandError(
                f"The BMC at {target.name} did not answer Redfish within {target.timeout:g} s"
            ) from None
        except httpx.TransportError as error:
            raise OutOfBandError(
                f"The BMC at {target.name} could not be reached over Redfish: "
                f"{type(error).__name__}"
            ) from None

    async def _get(self, client: httpx.AsyncClient, path: str) -> dict[str, Any]:
        response = await client.get(path)
        self._check(response, f"GET {path}")
        body: dict[str, Any] = response.json()
        return body

    def _check(self, response: httpx.Response, what: str) -> None:
        if response.status_code in (401, 403):
            raise OutOfBandError(
                f"The BMC at {self._target.name} refused the credentials of "
                f"{self._target.username} ({_error_text(response)})"
            )
        if response.is_error:
            raise OutOfBandError(
                f"The BMC at {self._target.name} refused {what} ({_error_text(response)})"
            )

    async def _power(self, client: httpx.AsyncClient, action: PowerAction) -> PowerState:
        systems = await self._get(client, "/redfish/v1/Systems")
        members = systems.get("Members") or []
        if not members:
            raise OutOfBandError(f"The BMC at {self._target.name} lists no computer system")
        path = str(members[0]["@odata.id"])
        system = await self._get(client, path)
        if action is PowerAction.STATUS:
            return _power_state(system)
        reset = system.get("Actions", {}).get("#ComputerSystem.Reset", {})
        target = str(reset.get("target", f"{path}/Actions/ComputerSystem.Reset"))
        allowed = reset.get("ResetType@Redfish.AllowableValues")
        choices = [kind for kind in _RESET_TYPES[action] if allowed is None or kind in allowed]
        if not choices:
            raise OutOfBandError(
                f"The BMC at {self._target.name} allows no reset type for {action} "
                f"(it allows {', '.join(allowed)})"
            )
        response = await client.post(target, json={"ResetType": choices[0]})
        self._check(response, f"the reset {choices[0]}")
        state = _power_state(await self._get(client, path))
        wanted = _SETTLED.get(action)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._target.timeout / 2
        while wanted is not None and state is not wanted and loop.time() < deadline:
            await asyncio.sleep(_SETTLE_POLL_SECONDS)
            state = _power_state(await self._get(client, path))
        return state

    async def _set_password(self, client: httpx.AsyncClient, new_password: str) -> None:
        accounts = await self._get(client, "/redfish/v1/AccountService/Accounts")
        for member in accounts.get("Members") or []:
            path = str(member["@odata.id"])
            if (await self._get(client, path)).get("UserName") == self._target.username:
                response = await client.patch(path, json={"Password": new_password})
                self._check(response, "the password change")
                return
        raise OutOfBandError(
            f"The BMC at {self._target.name} lists no account {self._target.username}"
        )
