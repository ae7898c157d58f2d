"""Host HA: each host's HA resource (CloudStack's ``hostha``) and the scopes that switch it.

A host's HA resource is the record of what the region decided about it: its state in
CloudStack's HA state machine, why it got there (``investigation``: what each
investigator found), and the VM restarts a fence set off (``recovery_jobs``), so a
management server taking over the work reads where the previous one stopped.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from altostratus.db.models.base import Base
from altostratus.db.models.inventory import _Vocabulary

__all__ = ["HaScope", "HaState", "HostHa"]


class HaState(_Vocabulary):
    """CloudStack's host HA states (``hastate``); what each means here is in docs/ha.md."""

    DISABLED = "Disabled"
    AVAILABLE = "Available"
    SUSPECT = "Suspect"
    CHECKING = "Checking"
    DEGRADED = "Degraded"
    FENCING = "Fencing"
    FENCED = "Fenced"
    RECOVERING = "Recovering"
    RECOVERED = "Recovered"
    INELIGIBLE = "Ineligible"


class HostHa(Base):
    __tablename__ = "host_ha"

    host_id: Mapped[int] = mapped_column(
        ForeignKey("hosts.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    #: ``kvmhaprovider`` or ``simulatorhaprovider`` (``None`` until configured).
    provider: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(32), default=HaState.DISABLED, index=True)
    state_changed: Mapped[datetime | None]
    #: JSON: what the last investigation found, investigator by investigator.
    investigation: Mapped[str | None] = mapped_column(Text)
    last_investigated: Mapped[datetime | None]
    #: JSON list of the restart jobs the last fence submitted.
    recovery_jobs: Mapped[str | None] = mapped_column(Text)


class HaScope(Base):
    """HA switched off for a whole cluster or zone (``disableHAForCluster|Zone``).

    A row means "disabled"; no row is CloudStack's default, enabled.
    """

    __tablename__ = "ha_disabled_scopes"

    #: ``Cluster`` or ``Zone``.
    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    scope_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
