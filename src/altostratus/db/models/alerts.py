"""Operational alerts (``listAlerts``): what an operator must look at, raised by the region.

Alerts are the region's own data, never replicated. The zone, pod, cluster and host are
plain ids without foreign keys, as in CloudStack: an alert outlives what it is about.
"""

from __future__ import annotations

from sqlalchemy import SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from altostratus.db.models.base import PublicEntity

__all__ = ["Alert"]


class Alert(PublicEntity):
    """``created`` is when it was raised (``sent`` in CloudStack's answer)."""

    __tablename__ = "alerts"

    #: CloudStack's numeric alert type (``AlertType`` in ``services.shared.alerts``).
    type: Mapped[int] = mapped_column(SmallInteger, index=True)
    #: CloudStack's name of the type, e.g. ``ALERT.COMPUTE.HOST``.
    name: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(Text)
    zone_id: Mapped[int | None]
    pod_id: Mapped[int | None]
    cluster_id: Mapped[int | None]
    host_id: Mapped[int | None]
    #: Archived alerts are kept but no longer listed.
    archived: Mapped[bool] = mapped_column(default=False, index=True)
