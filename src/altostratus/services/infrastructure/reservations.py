"""A host's CPU and memory reservations: taken and given back with one conditional UPDATE.

Placement never reads a host's free room and then writes it back: two servers doing that
at once would both see the last slot free. Instead the room check is the ``WHERE`` of
the ``UPDATE`` itself. On PostgreSQL a concurrent update of the same row waits for the
first to commit and then re-checks the condition against the new values; SQLite runs
write transactions one at a time. Either way a host is never overcommitted beyond
``cpu_overcommit_ratio`` / ``memory_overcommit_ratio``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Float, case, literal, update
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.db.models import Host
from altostratus.db.rows import rowcount
from altostratus.settings import Settings

__all__ = ["capacity_totals", "fits", "release", "reserve", "room_left"]


def _times(amount: ColumnElement[Any], ratio: float) -> ColumnElement[Any]:
    """``amount * ratio``, left in integers when the ratio is 1 (half the cost per row)."""
    return amount if ratio == 1 else amount * literal(ratio, Float)


def capacity_totals(settings: Settings) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """SQL expressions of a host's CPU (MHz) and memory (MB) under the ratios."""
    cpu_total = _times(Host.cpu_number * Host.cpu_speed, settings.cpu_overcommit_ratio)
    memory_total = _times(Host.memory_mb.expression, settings.memory_overcommit_ratio)
    return cpu_total, memory_total


def room_left(settings: Settings) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """SQL expressions of a host's free CPU (MHz) and memory (MB) under the ratios."""
    cpu_total, memory_total = capacity_totals(settings)
    return cpu_total - Host.cpu_allocated_mhz, memory_total - Host.memory_allocated_mb


def fits(settings: Settings, cpu_mhz: int, memory_mb: int) -> ColumnElement[bool]:
    """The condition that a host still has room for ``cpu_mhz`` and ``memory_mb``."""
    free_cpu, free_memory = room_left(settings)
    condition: ColumnElement[bool] = (free_cpu >= cpu_mhz) & (free_memory >= memory_mb)
    return condition


async def reserve(
    session: AsyncSession,
    settings: Settings,
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
        .where(Host.id == host_id, fits(settings, cpu_mhz, memory_mb), *conditions)
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
