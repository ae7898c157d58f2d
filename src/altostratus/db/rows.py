"""How many rows an ``UPDATE`` or ``DELETE`` changed.

Conditional updates are how servers race safely (a lease, a job claim, a host's state):
the count says who won. ``Session.execute`` is typed to return any ``Result``, though
for these statements it is always a ``CursorResult``, the one that carries the count.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import CursorResult, Result

__all__ = ["rowcount"]


def rowcount(result: Result[*tuple[Any, ...]]) -> int:
    """The rows the statement behind ``result`` matched (``UPDATE``/``DELETE`` only)."""
    if not isinstance(result, CursorResult):
        raise TypeError(f"{type(result).__name__} carries no row count")
    return result.rowcount
