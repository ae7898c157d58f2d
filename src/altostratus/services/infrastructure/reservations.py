"""A host's CPU and memory reservations: taken and given back with one conditional UPDATE.

Placement never reads a host's free room and then writes it back: two servers doing that
at once would both see the last slot free. Instead the room check is the ``WHERE`` of
the ``UPDATE`` itself. On PostgreSQL a concurrent update of the same row waits for the
first to commit and then re-checks the condition against the new values; SQLite runs
write transactions one at a time. Either way a host is never overcommitted beyond
``cpu_overcommit_ratio`` / ``memory_overcommit_ratio``: the region's, or its cluster's
where ``updateConfiguration clusterid=…`` set one (``Overcommit``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Float, case, literal, update
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.core.configuration import overrides_in
from altostratus.db.models import Host
from altostratus.db.rows import rowcount
from altostratus.settings import Settings

__all__ = [
    "Overcommit",
    "capacity_totals",
    "fits",
    "overcommit",
    "release",
    "reserve",
    "room_left",
]


@dataclass(frozen=True)
class Overcommit:
    """The overcommit ratios: the region's, and the clusters' own (by cluster id)."""

    cpu: float = 1.0
    memory: float = 1.0
    cpu_by_cluster: Mapping[int, float] = field(default_factory=dict)
    memory_by_cluster: Mapping[int, float] = field(default_factory=dict)

    @classmethod
    def of(cls, settings: Settings) -> Overcommit:
        """The region's ratios only (no cluster has its own)."""
        return cls(settings.cpu_overcommit_ratio, settings.memory_overcommit_ratio)


async def overcommit(session: AsyncSession, settings: Settings) -> Overcommit:
    """The ratios in force: ``settings`` (already the region's effective values) and the
    clusters' overrides."""
    return Overcommit(
        settings.cpu_overcommit_ratio,
        settings.memory_overcommit_ratio,
        await overrides_in(session, "cpu_overcommit_ratio", "cluster"),
        await overrides_in(session, "memory_overcommit_ratio", "cluster"),
    )


def _times(
    amount: ColumnElement[Any], ratio: float, by_cluster: Mapping[int, float]
) -> ColumnElement[Any]:
    """``amount * ratio`` (the host's cluster's ratio if it has one), left in integers when
    every ratio is 1 (half the cost per row)."""
    if not by_cluster:
        return amount if ratio == 1 else amount * literal(ratio, Float)
    per_cluster = case(
        *((Host.cluster_id == cluster, literal(own, Float)) for cluster, own in by_cluster.items()),
        else_=literal(ratio, Float),
    )
    return amount * per_cluster


def capacity_totals(ratios: Overcommit) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """SQL expressions of a host's CPU (MHz) and memory (MB) under the ratios."""
    cpu_total = _times(Host.cpu_number * Host.cpu_speed, ratios.cpu, ratios.cpu_by_cluster)
    memory_total = _times(Host.memory_mb.expression, ratios.memory, ratios.memory_by_cluster)
    return cpu_total, memory_total


def room_left(ratios: Overcommit) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """SQL expressions of a host's free CPU (MHz) and memory (MB) under the ratios."""
    cpu_total, memory_total = capacity_totals(ratios)
    return cpu_total - Host.cpu_allocated_mhz, memory_total - Host.memory_allocated_mb


def fits(ratios: Overcommit, cpu_mhz: int, memory_mb: int) -> ColumnElement[bool]:
    """The condition that a host still has room for ``cpu_mhz`` and ``memory_mb``."""
    free_cpu, free_memory = room_left(ratios)
    condition: ColumnElement[bool] = (free_cpu >= cpu_mhz) & (free_memory >= memory_mb)
    return condition


async def reserve(
    session: AsyncSession,
    ratios: Overcommit,
    host_id: int,
    cpu_mhz: int,
    memory_mb: int,
    *conditions: ColumnElement[bool],
) -> bool:
    """Take ``cpu_mhz`` and ``memory_mb`` on the host if they fit; False if they do not.

    ``conditions`` are further requirements checked in the same statement (the scheduler
    adds "still Up and Enabled", so a host leaving service meanwhile is not chosen).
    """
    statement = (
        update(Host)
        .where(Host.id == host_id, fits(ratios, cpu_mhz, memory_mb), *conditions)
        .values(
            cpu_allocated_mhz=Host.cpu_allocated_mhz + cpu_mhz,
            memory_allocated_mb=Host.memory_allocated_mb + memory_mb,
        )
        .execution_options(synchronize_session=False)
    )
    return rowcount(await session.execute(statement)) == 1


def _minus_floor_zero(column: Any, amount: int) -> ColumnElement[int]:
    lowered: ColumnElement[int] = case((column > amount, column - amount), else_=0)
    return lowered


async def release(session: AsyncSession, host_id: int, cpu_mhz: int, memory_mb: int) -> None:
    """Give back a reservation; the counters never go below 0, even after a lost update."""
    await session.execute(
        update(Host)
        .where(Host.id == host_id)
        .values(
            cpu_allocated_mhz=_minus_floor_zero(Host.cpu_allocated_mhz, cpu_mhz),
            memory_allocated_mb=_minus_floor_zero(Host.memory_allocated_mb, memory_mb),
        )
        .execution_options(synchronize_session=False)
    )
