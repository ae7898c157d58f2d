"""Management servers of the region: one row per server process, kept alive by heartbeats."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from altostratus.db.models.base import PublicEntity
from altostratus.db.models.inventory import _Vocabulary

__all__ = ["ManagementServer", "ServerState"]


class ServerState(_Vocabulary):
    """CloudStack's management server states that apply here."""

    UP = "Up"
    DOWN = "Down"


class ManagementServer(PublicEntity):
    __tablename__ = "management_servers"

    #: The process's identity (``host:pid:random``): the owner named on leases and jobs.
    server_id: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    service_ip: Mapped[str] = mapped_column(String(64))
    #: The API's listening address, for operators (``host:port``).
    endpoint: Mapped[str] = mapped_column(String(1024))
    version: Mapped[str] = mapped_column(String(64))
    python_version: Mapped[str] = mapped_column(String(64))
    os_distribution: Mapped[str] = mapped_column(String(255))
    kernel_version: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), default=ServerState.UP, index=True)
    last_heartbeat: Mapped[datetime]
    started: Mapped[datetime]
    #: When it stopped cleanly or was declared Down by a peer.
    stopped: Mapped[datetime | None]
