"""Hypervisor hosts and the commands queued for their agents.

A command for a host is a row, not a message in some server's memory: whichever
management server holds the agent's connection delivers it, and a command survives the
server that queued it (docs/design.md, "Processes").
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from altostratus.db.models.base import PublicEntity
from altostratus.db.models.inventory import Cluster, Pod, Zone, _Vocabulary

__all__ = ["CommandState", "Host", "HostCommand", "HostState", "ResourceState"]


class HostState(_Vocabulary):
    """What the agent's heartbeats say (CloudStack's ``state``)."""

    CONNECTING = "Connecting"
    UP = "Up"
    DISCONNECTED = "Disconnected"
    DOWN = "Down"
    ALERT = "Alert"


class ResourceState(_Vocabulary):
    """What the operator decided (CloudStack's ``resourcestate``)."""

    ENABLED = "Enabled"
    DISABLED = "Disabled"
    PREPARE_FOR_MAINTENANCE = "PrepareForMaintenance"
    MAINTENANCE = "Maintenance"
    ERROR_IN_MAINTENANCE = "ErrorInMaintenance"


class Host(PublicEntity):
    __tablename__ = "hosts"
    __table_args__ = (UniqueConstraint("zone_id", "name"),)

    name: Mapped[str] = mapped_column(String(255))
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"), index=True)
    pod_id: Mapped[int] = mapped_column(ForeignKey("pods.id"))
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id"), index=True)
    hypervisor: Mapped[str] = mapped_column(String(32))
    #: ``sim://NAME`` for simulated hosts, ``http://ADDRESS`` or the agent's address.
    url: Mapped[str] = mapped_column(String(1024))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(32), default=HostState.CONNECTING, index=True)
    resource_state: Mapped[str] = mapped_column(String(32), default=ResourceState.ENABLED)
    cpu_number: Mapped[int] = mapped_column(Integer, default=0)
    #: MHz per core.
    cpu_speed: Mapped[int] = mapped_column(Integer, default=0)
    memory_mb: Mapped[int] = mapped_column(Integer, default=0)
    #: Reserved by placed VMs (MHz = cores times speed); changed only by conditional updates
    #: so two concurrent placements can never both take the last room.
    cpu_allocated_mhz: Mapped[int] = mapped_column(Integer, default=0)
    memory_allocated_mb: Mapped[int] = mapped_column(Integer, default=0)
    #: Comma-separated, lower case, sorted: the host's aggregates.
    host_tags: Mapped[str] = mapped_column(String(1024), default="")
    hypervisor_version: Mapped[str | None] = mapped_column(String(64))
    agent_version: Mapped[str | None] = mapped_column(String(64))
    #: ``ADDRESS:PORT`` of the agent's probe listener, which neighbours check in an HA
    #: investigation (``None``: the agent has none).
    probe_address: Mapped[str | None] = mapped_column(String(255))
    #: SHA-256 of the secret the agent authenticates with (``None``: in-process simulator).
    agent_key_hash: Mapped[str | None] = mapped_column(String(64))
    #: Settings of a simulated host (JSON: command latency, …); agents report the rest.
    details: Mapped[str | None] = mapped_column(Text)
    last_heartbeat: Mapped[datetime | None]
    #: When the state last changed (``listHosts`` ``lastpinged``/``disconnected``).
    state_changed: Mapped[datetime | None]
    removed: Mapped[datetime | None] = mapped_column(index=True)

    zone: Mapped[Zone] = relationship(lazy="joined")
    pod: Mapped[Pod] = relationship(lazy="joined", overlaps="zone")
    cluster: Mapped[Cluster] = relationship(lazy="joined", overlaps="pod")

    @property
    def cpu_total_mhz(self) -> int:
        return self.cpu_number * self.cpu_speed

    @property
    def tag_set(self) -> frozenset[str]:
        return frozenset(tag for tag in self.host_tags.split(",") if tag)


class CommandState(enum.StrEnum):
    PENDING = "Pending"
    #: Handed to an agent; redelivered if no answer comes within the redelivery time.
    SENT = "Sent"
    DONE = "Done"
    FAILED = "Failed"


class HostCommand(PublicEntity):
    """One command for one host's agent; its ``uuid`` is the agent's idempotency key."""

    __tablename__ = "host_commands"

    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("async_jobs.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(64))
    #: JSON arguments (``agent.protocol``).
    payload: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=CommandState.PENDING, index=True)
    #: JSON answer of the agent (``{"error": "..."}`` when it failed).
    result: Mapped[str | None] = mapped_column(Text)
    sent: Mapped[datetime | None]
    completed: Mapped[datetime | None]
    deliveries: Mapped[int] = mapped_column(Integer, default=0)
