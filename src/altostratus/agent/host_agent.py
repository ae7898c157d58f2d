"""One host's agent over HTTP: register, heartbeat, take commands, answer them.

Three things run side by side: heartbeats every interval the server gave at
registration, a long poll for commands, and one task per command that posts its answer
as soon as the driver is done. A server that no longer knows the agent's key (the host
was reconnected or the database restored) answers 401, and the agent registers again.
Beside them, from before registration on (a host cut off from every server still
writes to its storage), the core's safety belts write the storage heartbeat and renew
the disk leases.
"""

from __future__ import annotations

import asyncio
import itertools
import logging

from altostratus.agent.core import AgentCore
from altostratus.agent.link import LinkDown, ManagementLink, NotRegistered
from altostratus.agent.protocol import (
    Answer,
    Delivery,
    Exchange,
    ExchangeReply,
    Heartbeat,
    HeartbeatReply,
    Registered,
    Registration,
)

__all__ = ["HostAgent"]

log = logging.getLogger(__name__)

_AGENT_VERSION = "altostratus-agent-1"


class HostAgent:
    def __init__(
        self,
        link: ManagementLink,
        core: AgentCore,
        *,
        name: str,
        token: str,
        cluster: str | None = None,
        host_tags: list[str] | None = None,
        poll_wait: float = 10.0,
        probe_address: str | None = None,
    ) -> None:
        self.link = link
        self.core = core
        self.name = name
        self._token = token
        self._cluster = cluster
        self._host_tags = host_tags or []
        self._poll_wait = poll_wait
        self._probe_address = probe_address
        self._registered: Registered | None = None
        self._registering = asyncio.Lock()
        self._answering: set[asyncio.Task[None]] = set()

    @property
    def host_id(self) -> str | None:
        return self._registered.host_id if self._registered else None

    async def run(self) -> None:
        tasks = [asyncio.create_task(self.core.belts.keep_alive(), name=f"{self.name} storage")]
        try:
            await self._register()
            tasks += [
                asyncio.create_task(self._heartbeats(), name=f"{self.name} heartbeats"),
                asyncio.create_task(self._commands(), name=f"{self.name} commands"),
            ]
            await asyncio.gather(*tasks)
        finally:
            for task in [*tasks, *self._answering]:
                task.cancel()
            await asyncio.gather(*tasks, *self._answering, return_exceptions=True)

    async def _register(self, stale: Registered | None = None) -> Registered:
        """Register (again, if ``stale`` is still the current registration); retry forever."""
        async with self._registering:
            if self._registered is not None and self._registered is not stale:
                return self._registered
            facts = (await self.core.driver.facts(self.name)).model_copy(
                update={
                    "agent_version": _AGENT_VERSION,
                    "host_tags": self._host_tags,
                    "probe_address": self._probe_address,
                }
            )
            registration = Registration(token=self._token, facts=facts, cluster=self._cluster)
            while True:
                try:
                    self._registered = await self.link.call(
                        "/agent/v1/register", registration, Registered
                    )
                    log.info("host %s registered with %s", self.name, self.link.current)
                    return self._registered
                except LinkDown:
                    continue

    def _auth(self, registered: Registered) -> dict[str, str]:
        return {"x-alto-host": registered.host_id, "x-alto-key": registered.key}

    async def _heartbeats(self) -> None:
        while True:
            registered = self._registered or await self._register()
            try:
                report = Heartbeat(power_states=await self.core.power_states())
                await self.link.call(
                    "/agent/v1/heartbeat", report, HeartbeatReply, headers=self._auth(registered)
                )
            except NotRegistered:
                await self._register(stale=registered)
                continue
            except LinkDown:
                continue
            await asyncio.sleep(registered.heartbeat_interval)

    async def _commands(self) -> None:
        while True:
            await self._exchange([], self._poll_wait)

    async def _exchange(self, answers: list[Answer], wait: float) -> bool:
        """Send ``answers``, take new commands and start them; False if not delivered."""
        registered = self._registered or await self._register()
        try:
            reply = await self.link.call(
                "/agent/v1/commands",
                Exchange(answers=answers, wait=wait),
                ExchangeReply,
                headers=self._auth(registered),
                read_timeout=wait + 10.0,
            )
        except NotRegistered:
            await self._register(stale=registered)
            return False
        except LinkDown:
            return False
        for delivery in reply.commands:
            task = asyncio.create_task(self._answer(delivery))
            self._answering.add(task)
            task.add_done_callback(self._answering.discard)
        return True

    async def _answer(self, delivery: Delivery) -> None:
        """Run the command and post its answer, until a server took it."""
        answer = await self.core.execute(delivery)
        for _attempt in itertools.count():
            if await self._exchange([answer], 0.0):
                return
            await asyncio.sleep(min(0.5 * (_attempt + 1), 5.0))
