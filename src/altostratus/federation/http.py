"""The region-to-region HTTP endpoints (``/federation/v1/...``), gathered for the app."""

from __future__ import annotations

from starlette.routing import BaseRoute

__all__ = ["federation_routes"]


def federation_routes() -> list[BaseRoute]:
    """Every federation route; each module owns its own."""
    return []
