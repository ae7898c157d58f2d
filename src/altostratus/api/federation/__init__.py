"""The region-to-region HTTP endpoints (``/federation/v1/...``), gathered for the app."""

from __future__ import annotations

from starlette.routing import BaseRoute

from altostratus.api.federation.audit import audit_routes
from altostratus.api.federation.join import join_routes
from altostratus.api.federation.log import log_routes
from altostratus.api.federation.usage import usage_routes

__all__ = ["federation_routes"]


def federation_routes() -> list[BaseRoute]:
    """Every federation route; each module owns its own."""
    return [*join_routes(), *log_routes(), *audit_routes(), *usage_routes()]
