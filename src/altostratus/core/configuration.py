"""The effective value of the run-time settings: the file's, unless an override says else.

A ``Dynamic`` setting (``settings.py``) may be overridden in the database
(``configuration_values``) for the region (``global``) or for one zone, cluster, domain
or account. ``effective_settings`` is the one function that applies the overrides; every
request and every job step gets a ``ServiceContext`` whose ``deps.settings`` already holds
the values for its caller (``service_context``), so services keep reading
``ctx.deps.settings`` and honour a change from the next request on, on every server.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.core.context import Caller, Dependencies, ServiceContext
from altostratus.db.models import ConfigurationValue
from altostratus.settings import SCOPES, Dynamic, Scope, Settings, dynamic_settings

__all__ = [
    "ScopeIds",
    "adapter_for",
    "effective_settings",
    "effective_texts",
    "overrides_in",
    "parse_value",
    "service_context",
    "wire_value",
]


@dataclass(frozen=True)
class ScopeIds:
    """The local ids of the scopes a value is read in; ``None``: not in that scope."""

    zone_id: int | None = None
    cluster_id: int | None = None
    domain_id: int | None = None
    account_id: int | None = None

    def of(self, scope: Scope) -> int | None:
        return 0 if scope == "global" else getattr(self, f"{scope}_id")


@cache
def adapter_for(field: str) -> TypeAdapter[Any]:
    """Validates a value as the setting ``field`` itself would (type and constraints)."""
    info = Settings.model_fields[field]
    constraints = [meta for meta in info.metadata if not isinstance(meta, Dynamic)]
    if info.annotation is None:
        raise TypeError(f"the setting {field} has no type")
    if not constraints:
        return TypeAdapter(info.annotation)
    return TypeAdapter(Annotated[(info.annotation, *constraints)])  # type: ignore[arg-type]


def parse_value(field: str, text: str) -> Any:
    """``text`` as the setting's value; raises ``ValidationError`` when it is not one."""
    return adapter_for(field).validate_python(text)


def wire_value(value: Any) -> str:
    """A value as ``listConfigurations`` shows it (CloudStack's lowercase booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class _Override:
    rank: int
    value: Any
    #: As the admin wrote it: CloudStack answers a configuration's value as stored.
    text: str


async def _overrides(session: AsyncSession, scope: ScopeIds) -> dict[str, _Override]:
    """The narrowest valid override of each dynamic setting in ``scope``, by field."""
    wanted = [
        and_(ConfigurationValue.scope == name, ConfigurationValue.scope_id == scope_id)
        for name in SCOPES
        if (scope_id := scope.of(name)) is not None
    ]
    rows = await session.scalars(select(ConfigurationValue).where(or_(*wanted)))
    dynamic = dynamic_settings()
    chosen: dict[str, _Override] = {}
    for row in rows:
        if row.name not in dynamic:
            continue  # a setting that stopped being dynamic: the file's value holds
        field, _meta = dynamic[row.name]
        rank = SCOPES.index(row.scope)
        if field in chosen and chosen[field].rank > rank:
            continue
        try:
            chosen[field] = _Override(rank, parse_value(field, row.value), row.value)
        except ValidationError:
            continue  # validated when stored; a changed constraint keeps the file's value
    return chosen


async def effective_settings(
    session: AsyncSession, settings: Settings, scope: ScopeIds = ScopeIds()
) -> Settings:
    """``settings`` with the overrides that apply in ``scope``, the narrowest winning."""
    chosen = await _overrides(session, scope)
    if not chosen:
        return settings
    return settings.model_copy(update={field: found.value for field, found in chosen.items()})


async def effective_texts(
    session: AsyncSession, settings: Settings, scope: ScopeIds = ScopeIds()
) -> dict[str, str]:
    """Every dynamic setting's value in ``scope`` as ``listConfigurations`` shows it."""
    chosen = await _overrides(session, scope)
    return {
        field: chosen[field].text if field in chosen else wire_value(getattr(settings, field))
        for field, _meta in dynamic_settings().values()
    }


async def overrides_in(session: AsyncSession, field: str, scope: Scope) -> dict[int, Any]:
    """The values of the setting ``field`` set for single objects of ``scope``, by local id.

    For settings read for many objects in one statement (a cluster's overcommit ratios
    across every host placement considers), where ``effective_settings`` per object would
    not do.
    """
    dotted = Settings.model_fields[field].metadata
    name = next(meta.name for meta in dotted if isinstance(meta, Dynamic))
    rows = await session.scalars(
        select(ConfigurationValue).where(
            ConfigurationValue.name == name, ConfigurationValue.scope == scope
        )
    )
    found = {}
    for row in rows:
        try:
            found[row.scope_id] = parse_value(field, row.value)
        except ValidationError:
            continue
    return found


async def service_context(
    session: AsyncSession, caller: Caller, deps: Dependencies, client_address: str = ""
) -> ServiceContext:
    """The context of one request or job step: the settings as they apply to ``caller``
    (and, for a request, the address it came from)."""
    scope = ScopeIds(domain_id=caller.domain_id or None, account_id=caller.account_id or None)
    settings = await effective_settings(session, deps.file_settings, scope)
    if settings is not deps.file_settings:
        deps = dataclasses.replace(deps, settings=settings, configured_from=deps.file_settings)
    return ServiceContext(session, caller, deps, client_address)
