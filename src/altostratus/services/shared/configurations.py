"""``listConfigurations``, ``updateConfiguration``, ``resetConfiguration`` over the settings.

Only the settings marked ``Dynamic`` are configurations: the others need a restart and
are not listed. An override is stored per scope (``configuration_values``) after being
validated as the setting itself validates its value; reading goes through
``core.configuration.effective_settings``, so a listing shows what the services use.
Root admins configure every scope; domain admins, as CloudStack lets them, the domains
and accounts they administer.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy import delete

from altostratus.core.configuration import (
    ScopeIds,
    effective_texts,
    parse_value,
    wire_value,
)
from altostratus.core.context import ServiceContext
from altostratus.db.models import Account, Cluster, ConfigurationValue, Domain, Zone
from altostratus.db.upsert import insert_for
from altostratus.errors import InvalidParameter, PermissionDenied, invalid
from altostratus.services.shared.access import get_account, get_domain, require_managed_account
from altostratus.services.shared.events import record_event
from altostratus.services.shared.lookup import find_by_uuid
from altostratus.settings import Dynamic, Scope, Settings, dynamic_settings
from altostratus.timeutil import utcnow

__all__ = [
    "Configuration",
    "ScopeRef",
    "groups",
    "list_configurations",
    "reset_configuration",
    "update_configuration",
]


@dataclass(frozen=True)
class ScopeRef:
    """The scope a command names (at most one id; none: ``global``)."""

    zone_uuid: str | None = None
    cluster_uuid: str | None = None
    domain_uuid: str | None = None
    account_uuid: str | None = None


@dataclass(frozen=True)
class Configuration:
    name: str
    field: str
    meta: Dynamic
    value: str
    default: str
    description: str
    type: str
    scope: Scope


@dataclass(frozen=True)
class _Resolved:
    scope: Scope
    scope_id: int
    ids: ScopeIds


_TYPES: dict[object, str] = {bool: "Boolean", int: "Integer", float: "Float", str: "String"}


async def _resolve(ctx: ServiceContext, ref: ScopeRef) -> _Resolved:
    given = {
        name: value
        for name, value in (
            ("zoneid", ref.zone_uuid),
            ("clusterid", ref.cluster_uuid),
            ("domainid", ref.domain_uuid),
            ("accountid", ref.account_uuid),
        )
        if value is not None
    }
    if len(given) > 1:
        raise InvalidParameter(
            f"Give at most one scope: {', '.join(sorted(given))} were given together"
        )
    caller = ctx.caller
    if ref.zone_uuid is not None or ref.cluster_uuid is not None:
        if not caller.is_root_admin:
            raise PermissionDenied("Only root admins configure zones and clusters")
        if ref.zone_uuid is not None:
            zone = await find_by_uuid(ctx, Zone, ref.zone_uuid, "zoneid")
            return _Resolved("zone", zone.id, ScopeIds(zone_id=zone.id))
        cluster = await find_by_uuid(ctx, Cluster, str(ref.cluster_uuid), "clusterid")
        return _Resolved(
            "cluster", cluster.id, ScopeIds(zone_id=cluster.pod.zone_id, cluster_id=cluster.id)
        )
    if ref.domain_uuid is not None:
        domain: Domain = await get_domain(ctx, ref.domain_uuid)
        if not caller.manages_domain_path(domain.path):
            raise PermissionDenied(
                f"Account {caller.account_name} may not configure domain {domain.path}"
            )
        return _Resolved("domain", domain.id, ScopeIds(domain_id=domain.id))
    if ref.account_uuid is not None:
        account: Account = await get_account(ctx, account_uuid=ref.account_uuid)
        require_managed_account(caller, account)
        return _Resolved(
            "account",
            account.id,
            ScopeIds(domain_id=account.domain_id, account_id=account.id),
        )
    if not caller.is_root_admin:
        raise PermissionDenied(
            "Only root admins configure the region; give the domainid or accountid you manage"
        )
    return _Resolved("global", 0, ScopeIds())


def _configuration(
    field: str, meta: Dynamic, values: dict[str, str], scope: Scope
) -> Configuration:
    info = Settings.model_fields[field]
    return Configuration(
        name=meta.name,
        field=field,
        meta=meta,
        value=values[field],
        default=wire_value(info.default),
        description=info.description or "",
        type=_TYPES.get(info.annotation, "String")
        if isinstance(info.annotation, type)
        else "String",
        scope=scope,
    )


def _dynamic(name: str) -> tuple[str, Dynamic]:
    found = dynamic_settings().get(name)
    if found is None:
        raise invalid("name", "no configuration of this name may change at run time", value=name)
    return found


def _require_scope(meta: Dynamic, scope: Scope) -> None:
    if scope != "global" and scope not in meta.scopes:
        raise InvalidParameter(
            f"The configuration {meta.name} cannot be set for a {scope}: "
            f"its scopes are {', '.join(('global', *meta.scopes))}"
        )


async def list_configurations(
    ctx: ServiceContext,
    *,
    ref: ScopeRef,
    name: str | None,
    category: str | None,
    group: str | None,
    subgroup: str | None,
    keyword: str | None,
) -> list[Configuration]:
    """The dynamic settings with their values in the scope (global: every one)."""
    resolved = await _resolve(ctx, ref)
    values = await effective_texts(ctx.session, ctx.deps.file_settings, resolved.ids)
    found = []
    for dotted, (field, meta) in sorted(dynamic_settings().items()):
        if resolved.scope != "global" and resolved.scope not in meta.scopes:
            continue
        if name is not None and name.lower() not in dotted.lower():
            continue
        matches = (
            (category, meta.category),
            (group, meta.group),
            (subgroup, meta.subgroup),
        )
        if any(wanted is not None and wanted.lower() != have.lower() for wanted, have in matches):
            continue
        config = _configuration(field, meta, values, resolved.scope)
        if keyword and not any(
            keyword.lower() in text.lower() for text in (dotted, config.description)
        ):
            continue
        found.append(config)
    return found


async def update_configuration(
    ctx: ServiceContext, *, name: str, value: str, ref: ScopeRef
) -> Configuration:
    field, meta = _dynamic(name)
    resolved = await _resolve(ctx, ref)
    _require_scope(meta, resolved.scope)
    try:
        parse_value(field, value.strip())
    except ValidationError as error:
        reason = error.errors(include_url=False)[0]["msg"]
        raise invalid("value", f"not a value of {name}: {reason}", value=value) from None
    # Two admins setting one value at once: the later write wins, neither fails.
    stored = {"value": value.strip(), "updated": utcnow()}
    await ctx.session.execute(
        insert_for(ctx.session, ConfigurationValue)
        .values(name=name, scope=resolved.scope, scope_id=resolved.scope_id, **stored)
        .on_conflict_do_update(index_elements=["name", "scope", "scope_id"], set_=stored)
    )
    await record_event(
        ctx,
        "CONFIGURATION.VALUE.EDIT",
        f"Set {name} to {value} ({resolved.scope})",
        resource_type="Configuration",
    )
    values = await effective_texts(ctx.session, ctx.deps.file_settings, resolved.ids)
    return _configuration(field, meta, values, resolved.scope)


async def reset_configuration(ctx: ServiceContext, *, name: str, ref: ScopeRef) -> Configuration:
    """Remove the scope's override: the next broader scope's value (or the file's) holds."""
    field, meta = _dynamic(name)
    resolved = await _resolve(ctx, ref)
    _require_scope(meta, resolved.scope)
    await ctx.session.execute(
        delete(ConfigurationValue).where(
            ConfigurationValue.name == name,
            ConfigurationValue.scope == resolved.scope,
            ConfigurationValue.scope_id == resolved.scope_id,
        )
    )
    await record_event(
        ctx,
        "CONFIGURATION.VALUE.EDIT",
        f"Reset {name} ({resolved.scope})",
        resource_type="Configuration",
    )
    values = await effective_texts(ctx.session, ctx.deps.file_settings, resolved.ids)
    return _configuration(field, meta, values, resolved.scope)


def groups() -> list[tuple[str, list[str]]]:
    """The configurations' groups with their subgroups, both by name."""
    found: dict[str, set[str]] = {}
    for _field, meta in dynamic_settings().values():
        found.setdefault(meta.group, set()).add(meta.subgroup)
    return [(name, sorted(subgroups)) for name, subgroups in sorted(found.items())]
