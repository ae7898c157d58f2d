"""Image stores: where the region keeps the bytes of its templates and ISOs.

A store is region-wide (``zone_id`` ``None``) or a zone's. Its provider's settings
(an S3 bucket, endpoint and keys) are one JSON map encrypted with the region's keyring:
CloudStack shows none of them back, so neither do we.
"""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from altostratus.db.models.base import PublicEntity
from altostratus.db.models.inventory import Zone, _Vocabulary

__all__ = ["ImageStore", "ImageStoreProvider"]


class ImageStoreProvider(_Vocabulary):
    """CloudStack's ``provider`` names that Altostratus serves."""

    S3 = "S3"
    #: A directory of the management servers (the embedded default, one server).
    LOCAL = "Local"


class ImageStore(PublicEntity):
    __tablename__ = "image_stores"

    name: Mapped[str] = mapped_column(String(255), unique=True)
    provider: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(String(2048))
    #: ``http``, ``https`` (S3) or ``file`` (local).
    protocol: Mapped[str] = mapped_column(String(16))
    #: ``None``: the whole region's.
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id"))
    #: No new images go there; those it holds stay readable.
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The provider's settings, JSON encrypted with the region's keyring; never shown.
    details: Mapped[str] = mapped_column(Text)

    zone: Mapped[Zone | None] = relationship(lazy="joined")
