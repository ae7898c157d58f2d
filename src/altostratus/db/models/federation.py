"""The replication log between regions and what a region knows of it.

Every change to a global entity (regions, roles, domains, accounts, users, session
revocations) is a row here, written in the change's own transaction (an outbox). A region
stores the entries of every origin it has received, so it can pass them on to a region
that missed them; ``replication_vector`` says how far each origin's entries have arrived.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from altostratus.db.models.base import Base
from altostratus.timeutil import utcnow

__all__ = ["EntityVersion", "PeerPull", "PeerVector", "ReplicationEntry", "ReplicationVector"]


class ReplicationEntry(Base):
    __tablename__ = "replication_log"
    __table_args__ = (Index("ix_replication_log_unapplied", "applied", "origin", "seq"),)

    #: The region where the change was made, and its position in that region's log.
    origin: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_key: Mapped[str] = mapped_column(String(64))
    #: Hybrid-logical-clock version (``federation.hlc``); the highest version wins.
    version: Mapped[str] = mapped_column(String(64))
    #: The entity's full new state as JSON; ``None`` is a tombstone (deleted).
    payload: Mapped[str | None] = mapped_column(Text)
    #: False while a received entry waits for what it depends on (e.g. its domain).
    applied: Mapped[bool] = mapped_column(Boolean, default=False)
    received: Mapped[datetime] = mapped_column(default=utcnow)


class ReplicationVector(Base):
    """Per origin, the highest ``seq`` stored here; entries arrive in order per origin."""

    __tablename__ = "replication_vector"

    origin: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer, default=0)


class EntityVersion(Base):
    """The version of the state a global entity has here (also the tombstones)."""

    __tablename__ = "entity_versions"

    entity_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    entity_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str] = mapped_column(String(64))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)


class PeerVector(Base):
    """Per peer region and origin, the highest ``seq`` the peer said it had stored.

    The peer's answer to our last pull (``LogPage.vector``); it only lags behind the
    truth, so an entry at or below it is certainly stored there. Garbage collection
    (``federation.gc``) takes the minimum over every region.
    """

    __tablename__ = "peer_vectors"

    region_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    origin: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)


class PeerPull(Base):
    """The outcome of this region's pulls from one peer region, whichever server pulled.

    Every management server of the region may pull (the lease holder on its timer, any
    server on a peer's notification), and each answers ``listRegions``: so the status
    lives here, not in the process that pulled. Times are the database's (``db/clock``).
    """

    __tablename__ = "peer_pulls"

    region_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    #: Did the last attempt reach the peer (an error after reaching it still counts).
    reachable: Mapped[bool] = mapped_column(Boolean)
    last_attempt: Mapped[datetime]
    last_success: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    #: Entries stored from this peer, summed over every pull of every server.
    entries_pulled: Mapped[int] = mapped_column(BigInteger, default=0)
