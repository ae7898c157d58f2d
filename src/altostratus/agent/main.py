"""Running agents in one process: ``alto agent`` (one libvirt host, or N simulated ones).

The hosts of one process share its shared-storage directory, ledger and probe listener
(whose hello line names them all); each has its own core, belts and leases.
"""

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
from altostratus.agent.ledger import Ledger
from altostratus.agent.link import ManagementLink
from altostratus.agent.probe import listen
from altostratus.agent.shared_storage import (
    DEFAULT_HEARTBEAT_INTERVAL,
    DEFAULT_LEASE_TTL,
    SharedStorage,
)

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
    #: The cluster's shared primary storage: storage heartbeats and disk leases.
    shared_storage: Path | None = None
    #: The ledger of starts and stops (default: ``ledger.jsonl`` on the shared storage).
    ledger: Path | None = None
    #: ``ADDRESS:PORT`` of the probe listener neighbours check this host with.
    probe_listen: str | None = None
    lease_ttl: float = DEFAULT_LEASE_TTL
    storage_heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL

    def storage(self) -> SharedStorage | None:
        if self.shared_storage is None:
            return None
        return SharedStorage(
            self.shared_storage,
            lease_ttl=self.lease_ttl,
            heartbeat_interval=self.storage_heartbeat_interval,
        )

    def ledger_path(self) -> Path | None:
        if self.ledger is not None or self.shared_storage is None:
            return self.ledger
        return self.shared_storage / "ledger.jsonl"


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
    storage = options.storage()
    ledger_path = options.ledger_path()
    ledger = None if ledger_path is None else Ledger(ledger_path)
    probe_server, probe_address = (None, None)
    if options.probe_listen is not None:
        probe_server, probe_address = await listen(options.probe_listen, options.names)
        log.info("probe listener on %s", probe_address)
    limits = httpx.Limits(max_connections=max(100, 3 * len(options.names)))
    async with httpx.AsyncClient(timeout=15.0, limits=limits) as client:
        drivers = [make_driver() for _ in options.names]
        agents = [
            HostAgent(
                ManagementLink(options.endpoints, client=client),
                AgentCore(driver, host_name=name, storage=storage, ledger=ledger),
                name=name,
                token=options.token,
                cluster=options.cluster,
                host_tags=list(options.host_tags),
                poll_wait=options.poll_wait,
                probe_address=probe_address,
            )
            for name, driver in zip(options.names, drivers, strict=True)
        ]
        log.info("running %d host agent(s) against %s", len(agents), ", ".join(options.endpoints))
        try:
            await asyncio.gather(*(agent.run() for agent in agents))
        finally:
            if probe_server is not None:
                probe_server.close()
                await probe_server.wait_closed()
            for driver in drivers:
                await driver.close()
