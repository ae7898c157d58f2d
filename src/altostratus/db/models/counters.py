"""Counts shared by the region's management servers, one row per server and window.

A server adds what it counted locally to its own row every flush interval
(``core/counter_flush.py``), so no two servers write the same row and no request writes
at all; the region's count of a key in a window is the sum over the servers' rows.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from altostratus.db.models.base import Base

__all__ = ["RegionCounter"]


class RegionCounter(Base):
    __tablename__ = "region_counters"
    __table_args__ = (Index("ix_region_counters_window", "namespace", "window_start"),)

    #: What is counted: ``api`` (requests per account), ``login`` (failures per address).
    namespace: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: Whom it is counted for: an account's uuid, a client address.
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    #: The window's start, in whole seconds since the epoch of the database's clock.
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    #: The window's length in seconds: a changed interval starts fresh windows.
    window_seconds: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    #: The management server that counted (``Dependencies.server_id``).
    server_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
