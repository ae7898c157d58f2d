"""Out-of-band management: configure a host's BMC, switch it at host, cluster and zone
level, change its password, and issue power actions.

Talking to a BMC takes seconds (minutes when it does not answer), so it never happens
inside a transaction: the configuration is read in one short transaction, the BMC is
called outside any, and what it answered is recorded in another.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.core.context import Dependencies, ServiceContext
from altostratus.db.engine import Database
from altostratus.db.models import (
    Cluster,
    Host,
    OutOfBandCluster,
    OutOfBandManagement,
    OutOfBandZone,
    Zone,
)
from altostratus.db.upsert import insert_for
from altostratus.ha.oobm.drivers import (
    BmcDriver,
    BmcTarget,
    DriverName,
    OutOfBandError,
    PowerAction,
    PowerState,
)
from altostratus.ha.oobm.ipmi import IpmiDriver
from altostratus.ha.oobm.redfish import RedfishDriver
from altostratus.services.infrastructure.hosts import get_host, host_event
from altostratus.services.shared.lookup import find_by_uuid
from altostratus.timeutil import utcnow

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "BmcConfig",
    "change_password",
    "configure",
    "driver_for",
    "ensure_effective",
    "issue_power_action",
    "oobm_effective",
    "rows_for_hosts",
    "set_cluster_enabled",
    "set_host_enabled",
    "set_zone_enabled",
]

#: How long one call to a BMC may take unless the caller says otherwise (CloudStack's
#: ``outofbandmanagement.action.timeout`` is 60 s; a fencing decision cannot wait that
#: long for a BMC that does not answer).
DEFAULT_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class BmcConfig:
    """What ``configureOutOfBandManagement`` is given (validated by the API)."""

    driver: DriverName
    address: str
    port: int
    username: str
    password: str = field(repr=False)


def driver_for(driver: str, target: BmcTarget) -> BmcDriver:
    if DriverName(driver) is DriverName.REDFISH:
        return RedfishDriver(target)
    return IpmiDriver(target)


async def configure(ctx: ServiceContext, host_uuid: str, config: BmcConfig) -> OutOfBandManagement:
    """Create or replace the host's BMC settings; whether it is enabled is kept.

    The power state is Unknown again: it was read from the BMC configured before.
    """
    host = await get_host(ctx, host_uuid, "hostid")
    row = await ctx.session.get(OutOfBandManagement, host.id)
    if row is None:
        row = OutOfBandManagement(host_id=host.id, enabled=False)
        ctx.session.add(row)
    row.driver = config.driver
    row.address = config.address
    row.port = config.port
    row.username = config.username
    row.password = ctx.deps.keyring.encrypt(config.password)
    row.power_state = PowerState.UNKNOWN
    row.power_state_read = None
    await ctx.session.flush()
    await host_event(
        ctx,
        host,
        "HOST.OOBM.CONFIGURE",
        f"Out-of-band management of host {host.name} configured: {config.driver} at "
        f"{config.address}:{config.port}",
    )
    return row


async def _configured(ctx: ServiceContext, host: Host) -> OutOfBandManagement:
    row = await ctx.session.get(OutOfBandManagement, host.id)
    if row is None:
        raise OutOfBandError(
            f"Out-of-band management is not configured for the host {host.uuid}; "
            "configure it first (configureOutOfBandManagement)"
        )
    return row


async def set_host_enabled(ctx: ServiceContext, host_uuid: str, enabled: bool) -> Host:
    host = await get_host(ctx, host_uuid, "hostid")
    row = await _configured(ctx, host)
    row.enabled = enabled
    await host_event(
        ctx,
        host,
        "HOST.OOBM.ENABLE" if enabled else "HOST.OOBM.DISABLE",
        f"Out-of-band management of host {host.name} {'enabled' if enabled else 'disabled'}",
    )
    return host


async def set_cluster_enabled(ctx: ServiceContext, cluster_uuid: str, enabled: bool) -> None:
    cluster = await find_by_uuid(ctx, Cluster, cluster_uuid, "clusterid")
    await _switch(ctx, OutOfBandCluster, {"cluster_id": cluster.id, "enabled": enabled})


async def set_zone_enabled(ctx: ServiceContext, zone_uuid: str, enabled: bool) -> None:
    zone = await find_by_uuid(ctx, Zone, zone_uuid, "zoneid")
    await _switch(ctx, OutOfBandZone, {"zone_id": zone.id, "enabled": enabled})


async def _switch(
    ctx: ServiceContext,
    model: type[OutOfBandCluster] | type[OutOfBandZone],
    values: dict[str, int | bool],
) -> None:
    statement = insert_for(ctx.session, model).values(values)
    key = next(name for name in values if name != "enabled")
    await ctx.session.execute(
        statement.on_conflict_do_update(
            index_elements=[key], set_={"enabled": statement.excluded.enabled}
        )
    )


async def oobm_effective(session: AsyncSession, host_id: int) -> bool:
    """Configured and enabled for the host, and not switched off for its cluster or zone.

    A cluster or zone nobody switched is on, as in CloudStack.
    """
    found = await session.scalar(
        select(OutOfBandManagement.enabled)
        .join(Host, Host.id == OutOfBandManagement.host_id)
        .outerjoin(OutOfBandCluster, OutOfBandCluster.cluster_id == Host.cluster_id)
        .outerjoin(OutOfBandZone, OutOfBandZone.zone_id == Host.zone_id)
        .where(
            OutOfBandManagement.host_id == host_id,
            OutOfBandManagement.enabled.is_(True),
            Host.removed.is_(None),
            OutOfBandCluster.enabled.is_not(False),
            OutOfBandZone.enabled.is_not(False),
        )
    )
    return bool(found)


async def _refusal(session: AsyncSession, host: Host) -> str | None:
    """Why a power action on ``host`` is refused (CloudStack's wording), or ``None``."""
    zone = await session.get(OutOfBandZone, host.zone_id)
    if zone is not None and not zone.enabled:
        return "Out-of-band management is disabled for the host's zone"
    cluster = await session.get(OutOfBandCluster, host.cluster_id)
    if cluster is not None and not cluster.enabled:
        return "Out-of-band management is disabled for the host's cluster"
    row = await session.get(OutOfBandManagement, host.id)
    if row is None or not row.enabled:
        return "Out-of-band management is disabled or not configured for the host"
    return None


async def ensure_effective(ctx: ServiceContext, host_uuid: str) -> Host:
    """The host, if out-of-band management is effective for it; else ``OutOfBandError``.

    The API checks this in the request, so a power action that cannot run creates no job.
    """
    host = await get_host(ctx, host_uuid, "hostid")
    refusal = await _refusal(ctx.session, host)
    if refusal is not None:
        raise OutOfBandError(f"{refusal} ({host.uuid})")
    return host


@dataclass(frozen=True)
class _Bmc:
    driver: str
    target: BmcTarget


async def _effective_bmc(
    db: Database, deps: Dependencies, host_id: int, bmc_timeout: float
) -> _Bmc:
    async with db.transaction(write=False) as session:
        host = await session.get(Host, host_id)
        if host is None or host.removed is not None:
            raise OutOfBandError(f"No host has the id {host_id}")
        refusal = await _refusal(session, host)
        if refusal is not None:
            raise OutOfBandError(f"{refusal} ({host.uuid}); the BMC was not contacted")
        row = await session.get_one(OutOfBandManagement, host_id)
        return _Bmc(
            row.driver,
            BmcTarget(
                address=row.address,
                port=row.port,
                username=row.username,
                password=deps.keyring.decrypt(row.password),
                timeout=bmc_timeout,
            ),
        )


async def _record_power_state(db: Database, host_id: int, state: PowerState) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(OutOfBandManagement)
            .where(OutOfBandManagement.host_id == host_id)
            .values(power_state=state, power_state_read=utcnow())
        )


async def issue_power_action(
    db: Database,
    deps: Dependencies,
    host_id: int,
    action: PowerAction,
    *,
    bmc_timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> PowerState:
    """Do ``action`` through the host's BMC and answer the power state read after it.

    Raises ``OutOfBandError`` when out-of-band management is not configured or not
    enabled for the host (the BMC is then not contacted) or the BMC failed; the power
    state recorded is then Unknown, since nothing trustworthy was read.
    """
    bmc = await _effective_bmc(db, deps, host_id, bmc_timeout)
    try:
        state = await driver_for(bmc.driver, bmc.target).power(action)
    except OutOfBandError:
        await _record_power_state(db, host_id, PowerState.UNKNOWN)
        raise
    await _record_power_state(db, host_id, state)
    return state


async def change_password(
    db: Database,
    deps: Dependencies,
    host_id: int,
    new_password: str,
    *,
    bmc_timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> None:
    """Change the user's password on the BMC, then the one stored; as in CloudStack, the
    stored one stays as it was unless the BMC took the new one."""
    bmc = await _effective_bmc(db, deps, host_id, bmc_timeout)
    await driver_for(bmc.driver, bmc.target).change_password(new_password)
    async with db.transaction() as session:
        await session.execute(
            update(OutOfBandManagement)
            .where(OutOfBandManagement.host_id == host_id)
            .values(password=deps.keyring.encrypt(new_password))
        )


async def rows_for_hosts(
    session: AsyncSession, host_ids: Iterable[int]
) -> dict[int, OutOfBandManagement]:
    """The BMC settings of these hosts (one query), by host id; unconfigured ones absent."""
    ids = list(host_ids)
    if not ids:
        return {}
    rows = await session.scalars(
        select(OutOfBandManagement).where(OutOfBandManagement.host_id.in_(ids))
    )
    return {row.host_id: row for row in rows}
