"""Running agents in one process: ``alto agent`` (one libvirt host, or N simulated ones)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from altostratus.agent.core import AgentCore
from altostratus.agent.drivers.base import Driver
from altostratus.agent.drivers.simulator import SimulatorDriver
from altostratus.agent.host_agent import HostAgent
from altostratus.agent.link import ManagementLink

__all__ = ["AgentOptions", "libvirt_driver", "run_agents", "simulator_driver"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AgentOptions:
    endpoints: list[str]
    token: str
    names: list[str]
    cluster: str | None = None
    host_tags: tuple[str, ...] = ()
    poll_wait: float = 10.0


def simulator_driver() -> Driver:
    return SimulatorDriver()


def libvirt_driver(uri: str, storage_dir: Path) -> Callable[[], Driver]:
    def build() -> Driver:
        # Imported here: libvirt-python is only needed by agents that use it.
        from altostratus.agent.drivers.libvirt import LibvirtDriver

        return LibvirtDriver(uri, storage_dir)

    return build


async def run_agents(options: AgentOptions, make_driver: Callable[[], Driver]) -> None:
    """One ``HostAgent`` per name, sharing an HTTP client; until cancelled."""
    limits = httpx.Limits(max_connections=max(100, 3 * len(options.names)))
    async with httpx.AsyncClient(timeout=15.0, limits=limits) as client:
        drivers = [make_driver() for _ in options.names]
        agents = [
            HostAgent(
                ManagementLink(options.endpoints, client=client),
                AgentCore(driver),
                name=name,
                token=options.token,
                cluster=options.cluster,
                host_tags=list(options.host_tags),
                poll_wait=options.poll_wait,
            )
            for name, driver in zip(options.names, drivers, strict=True)
        ]
        log.info("running %d host agent(s) against %s", len(agents), ", ".join(options.endpoints))
        try:
            await asyncio.gather(*(agent.run() for agent in agents))
        finally:
            for driver in drivers:
                await driver.close()
