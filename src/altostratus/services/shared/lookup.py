"""What the zone, pod and cluster services share: look-ups by UUID, name checks, events.

The physical inventory is regional and only root admins change it (the API declares
that), so these services check rules and input against the database, not permissions.
"""

from __future__ import annotations

from typing import Literal, TypeVar

from sqlalchemy import ColumnElement, select

from altostratus.core.context import ServiceContext
from altostratus.db.models import Cluster, ImageStore, Pod, PublicEntity, Zone
from altostratus.errors import InvalidParameter, invalid
from altostratus.services.shared.events import record_event

__all__ = ["ensure_name_free", "find_by_uuid", "record_change"]

E = TypeVar("E", bound=PublicEntity)
Named = TypeVar("Named", Zone, Pod, Cluster, ImageStore)

_VERBS = {"CREATE": "Created", "EDIT": "Updated", "DELETE": "Deleted"}


async def find_by_uuid(ctx: ServiceContext, model: type[E], uuid: str, parameter: str) -> E:
    """The row of ``model`` with ``uuid``; unknown ids are bad input (431), not a 530."""
    found = await ctx.session.scalar(select(model).where(model.uuid == uuid))
    if found is None:
        kind = model.__name__.lower()
        raise InvalidParameter(f"Unable to find {kind} with id {uuid} (parameter {parameter})")
    return found


async def ensure_name_free(
    ctx: ServiceContext,
    model: type[Named],
    name: str,
    scope: ColumnElement[bool],
    *,
    parameter: str,
    where: str = "",
    renamed: Named | None = None,
) -> None:
    """431 if another row of ``model`` within ``scope`` is named ``name``.

    Checked before writing so the answer names the parameter, rather than being an
    integrity error from the unique constraint. ``renamed`` (the row being renamed)
    may keep its own name; ``where`` says where names must be unique (`` in zone z1``).
    """
    query = select(model.uuid).where(model.name == name, scope)
    if renamed is not None:
        query = query.where(model.id != renamed.id)
    clash = await ctx.session.scalar(query.limit(1))
    if clash is not None:
        kind = model.__name__.lower()
        raise invalid(
            parameter, f"a {kind} of this name already exists{where} ({clash})", value=name
        )


async def record_change(
    ctx: ServiceContext, entity: Zone | Pod | Cluster, action: Literal["CREATE", "EDIT", "DELETE"]
) -> None:
    """Record ``ZONE.CREATE``, ``POD.EDIT``, ``CLUSTER.DELETE``… for ``entity``."""
    kind = type(entity).__name__
    await record_event(
        ctx,
        f"{kind.upper()}.{action}",
        f"{_VERBS[action]} {kind.lower()} {entity.name} ({entity.uuid})",
        resource_type=kind,
        resource_uuid=entity.uuid,
    )
