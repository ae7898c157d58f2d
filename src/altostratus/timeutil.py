"""UTC time and CloudStack's timestamp format (``2026-11-21T10:00:00+0000``)."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["format_timestamp", "parse_timestamp", "utcnow"]

_FORMAT = "%Y-%m-%dT%H:%M:%S%z"


def utcnow() -> datetime:
    return datetime.now(UTC)


def format_timestamp(moment: datetime) -> str:
    """Render ``moment`` as CloudStack does; naive values are UTC (SQLite drops the zone)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(_FORMAT)


def parse_timestamp(text: str) -> datetime:
    """Parse the forms clients send: ``…+0000``, ``…+00:00``, ``…Z`` and plain dates.

    Raises ``ValueError`` for anything else; a value without a zone is taken as UTC.
    """
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
