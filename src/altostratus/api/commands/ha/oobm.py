"""Out-of-band management of hosts: configure, enable/disable at host, cluster and zone
level, power actions, password changes. Root admins only, as in CloudStack.

``configureOutOfBandManagement`` answers at once; the others are asynchronous, as in
CloudStack. The switches change in the request and their jobs answer; a power action
or a password change talks to the BMC in its job (``ha.oobm.jobs``).
"""

from __future__ import annotations

import secrets

from pydantic import Field

from altostratus.api.declarations import ADMIN, CommandSet, Job
from altostratus.api.params import Params, Uuid
from altostratus.api.results import ResponseObject, Single, Submitted
from altostratus.core.context import ServiceContext
from altostratus.db.models import Host, OutOfBandManagement
from altostratus.ha.oobm import jobs, service
from altostratus.ha.oobm.drivers import DriverName, PowerAction
from altostratus.ha.oobm.service import BmcConfig
from altostratus.jobs.kinds import JobKind
from altostratus.services.infrastructure.hosts import get_host

__all__ = [
    "ChangePasswordParams",
    "ClusterParams",
    "ConfigureParams",
    "HostParams",
    "OutOfBandManagementResponse",
    "PowerActionParams",
    "ZoneParams",
    "change_password",
    "commands",
    "configure",
    "disable_for_cluster",
    "disable_for_host",
    "disable_for_zone",
    "enable_for_cluster",
    "enable_for_host",
    "enable_for_zone",
    "issue_power_action",
    "oobm_view",
]

commands = CommandSet()

_RESPONSE = "outofbandmanagement"
#: IPMI passwords are at most 16 (IPMI 1.5) or 20 bytes; CloudStack's limit is 16.
_PASSWORD_MAX = 16


class OutOfBandManagementResponse(ResponseObject):
    hostid: str | None = None
    enabled: bool
    powerstate: str | None = None
    driver: str | None = None
    address: str | None = None
    port: str | None = None
    username: str | None = None
    action: str | None = None
    description: str | None = None
    status: bool | None = None


def oobm_view(
    row: OutOfBandManagement | None, host_uuid: str | None = None
) -> OutOfBandManagementResponse:
    """A host's BMC settings without the password; ``Disabled`` if not configured."""
    if row is None:
        return OutOfBandManagementResponse(hostid=host_uuid, enabled=False, powerstate="Disabled")
    return OutOfBandManagementResponse(
        hostid=host_uuid,
        enabled=row.enabled,
        powerstate=row.power_state,
        driver=row.driver,
        address=row.address,
        port=str(row.port),
        username=row.username,
    )


async def _host_answer(ctx: ServiceContext, host: Host, **extra: object) -> Single:
    row = await ctx.session.get(OutOfBandManagement, host.id)
    view = oobm_view(row, host.uuid).model_copy(update=extra)
    return Single(_RESPONSE, view)


# --- configureOutOfBandManagement ---


class ConfigureParams(Params):
    hostid: Uuid = Field(description="The host")
    driver: DriverName = Field(description="The BMC's driver: ipmitool or redfish")
    address: str = Field(
        min_length=1,
        max_length=255,
        description="The BMC's address; for redfish also http://HOST (plain HTTP) or "
        "https+insecure://HOST (certificate not verified)",
    )
    port: int = Field(ge=1, le=65535, description="The BMC's port (IPMI 623, Redfish 443)")
    username: str = Field(min_length=1, max_length=255, description="The BMC user")
    password: str = Field(min_length=1, max_length=255, description="The BMC user's password")


@commands.command(
    "configureOutOfBandManagement",
    ConfigureParams,
    description="Configures a host's out-of-band management interface (its BMC)",
    allowed=ADMIN,
    response=(_RESPONSE, OutOfBandManagementResponse),
    related=("listHosts",),
)
async def configure(ctx: ServiceContext, p: ConfigureParams) -> Single:
    config = BmcConfig(p.driver, p.address.strip(), p.port, p.username, p.password)
    row = await service.configure(ctx, p.hostid, config)
    view = oobm_view(row, p.hostid).model_copy(
        update={
            "status": True,
            "description": "Out-of-band management successfully configured for the host",
        }
    )
    return Single(_RESPONSE, view)


# --- enable / disable at host, cluster and zone level ---


class HostParams(Params):
    hostid: Uuid = Field(description="The host")


class ClusterParams(Params):
    clusterid: Uuid = Field(description="The cluster")


class ZoneParams(Params):
    zoneid: Uuid = Field(description="The zone")


async def _switch_answer(ctx: ServiceContext, switched: jobs.SwitchPayload) -> Single:
    return Single(_RESPONSE, OutOfBandManagementResponse(enabled=switched.enabled, status=True))


def _switch_job(kind: JobKind[jobs.SwitchPayload, jobs.SwitchPayload]) -> Job[jobs.SwitchPayload]:
    return Job(kind, _switch_answer)


def _switched(uuid: str, enabled: bool, instance_type: str) -> Submitted:
    return Submitted(
        jobs.SwitchPayload(id=uuid, enabled=enabled),
        instance_type=instance_type,
        instance_uuid=uuid,
    )


@commands.command(
    "enableOutOfBandManagementForHost",
    HostParams,
    description="Enables out-of-band management for a host (configured before)",
    allowed=ADMIN,
    response=(_RESPONSE, OutOfBandManagementResponse),
    job=_switch_job(jobs.ENABLE_FOR_HOST),
)
async def enable_for_host(ctx: ServiceContext, p: HostParams) -> Submitted:
    await service.set_host_enabled(ctx, p.hostid, True)
    return _switched(p.hostid, True, "Host")


@commands.command(
    "disableOutOfBandManagementForHost",
    HostParams,
    description="Disables out-of-band management for a host",
    allowed=ADMIN,
    response=(_RESPONSE, OutOfBandManagementResponse),
    job=_switch_job(jobs.DISABLE_FOR_HOST),
)
async def disable_for_host(ctx: ServiceContext, p: HostParams) -> Submitted:
    await service.set_host_enabled(ctx, p.hostid, False)
    return _switched(p.hostid, False, "Host")


@commands.command(
    "enableOutOfBandManagementForCluster",
    ClusterParams,
    description="Enables out-of-band management for a cluster (on unless disabled)",
    allowed=ADMIN,
    response=(_RESPONSE, OutOfBandManagementResponse),
    job=_switch_job(jobs.ENABLE_FOR_CLUSTER),
)
async def enable_for_cluster(ctx: ServiceContext, p: ClusterParams) -> Submitted:
    await service.set_cluster_enabled(ctx, p.clusterid, True)
    return _switched(p.clusterid, True, "Cluster")


@commands.command(
    "disableOutOfBandManagementForCluster",
    ClusterParams,
    description="Disables out-of-band management for every host of a cluster",
    allowed=ADMIN,
    response=(_RESPONSE, OutOfBandManagementResponse),
    job=_switch_job(jobs.DISABLE_FOR_CLUSTER),
)
async def disable_for_cluster(ctx: ServiceContext, p: ClusterParams) -> Submitted:
    await service.set_cluster_enabled(ctx, p.clusterid, False)
    return _switched(p.clusterid, False, "Cluster")


@commands.command(
    "enableOutOfBandManagementForZone",
    ZoneParams,
    description="Enables out-of-band management for a zone (on unless disabled)",
    allowed=ADMIN,
    response=(_RESPONSE, OutOfBandManagementResponse),
    job=_switch_job(jobs.ENABLE_FOR_ZONE),
)
async def enable_for_zone(ctx: ServiceContext, p: ZoneParams) -> Submitted:
    await service.set_zone_enabled(ctx, p.zoneid, True)
    return _switched(p.zoneid, True, "Zone")


@commands.command(
    "disableOutOfBandManagementForZone",
    ZoneParams,
    description="Disables out-of-band management for every host of a zone",
    allowed=ADMIN,
    response=(_RESPONSE, OutOfBandManagementResponse),
    job=_switch_job(jobs.DISABLE_FOR_ZONE),
)
async def disable_for_zone(ctx: ServiceContext, p: ZoneParams) -> Submitted:
    await service.set_zone_enabled(ctx, p.zoneid, False)
    return _switched(p.zoneid, False, "Zone")


# --- issueOutOfBandManagementPowerAction, changeOutOfBandManagementPassword ---


class PowerActionParams(Params):
    hostid: Uuid = Field(description="The host")
    action: PowerAction = Field(description="ON, OFF, CYCLE, RESET, SOFT or STATUS")
    timeout: int | None = Field(
        None,
        ge=1,
        le=3600,
        description=f"Seconds the BMC may take (default {service.DEFAULT_TIMEOUT_SECONDS:g})",
    )


async def _power_answer(ctx: ServiceContext, outcome: jobs.PowerOutcome) -> Single:
    host = await get_host(ctx, outcome.host_uuid, "hostid")
    return await _host_answer(
        ctx,
        host,
        powerstate=outcome.state,
        action=outcome.action,
        status=True,
        description=f"Power action {outcome.action} done; the host is {outcome.state}",
    )


@commands.command(
    "issueOutOfBandManagementPowerAction",
    PowerActionParams,
    description="Issues a power action to a host's BMC and answers the power state read after it",
    allowed=ADMIN,
    response=(_RESPONSE, OutOfBandManagementResponse),
    job=Job(jobs.POWER_ACTION, _power_answer),
)
async def issue_power_action(ctx: ServiceContext, p: PowerActionParams) -> Submitted:
    host = await service.ensure_effective(ctx, p.hostid)
    timeout = float(p.timeout) if p.timeout is not None else service.DEFAULT_TIMEOUT_SECONDS
    return Submitted(
        jobs.PowerPayload(id=host.uuid, action=p.action, timeout=timeout),
        instance_type="Host",
        instance_uuid=host.uuid,
    )


class ChangePasswordParams(Params):
    hostid: Uuid = Field(description="The host")
    password: str | None = Field(
        None,
        min_length=1,
        max_length=_PASSWORD_MAX,
        description="The new BMC password (at most 16 characters); random if not given",
    )


async def _password_answer(ctx: ServiceContext, host_uuid: str) -> Single:
    host = await get_host(ctx, host_uuid, "hostid")
    return await _host_answer(
        ctx, host, status=True, description="Out-of-band management password changed"
    )


@commands.command(
    "changeOutOfBandManagementPassword",
    ChangePasswordParams,
    description="Changes the password on the host's BMC, then the one configured (kept "
    "unless the BMC took the new one)",
    allowed=ADMIN,
    response=(_RESPONSE, OutOfBandManagementResponse),
    job=Job(jobs.CHANGE_PASSWORD, _password_answer),
)
async def change_password(ctx: ServiceContext, p: ChangePasswordParams) -> Submitted:
    host = await service.ensure_effective(ctx, p.hostid)
    password = p.password or secrets.token_urlsafe(12)[:_PASSWORD_MAX]
    return Submitted(
        jobs.PasswordPayload(id=host.uuid, password=ctx.deps.keyring.encrypt(password)),
        instance_type="Host",
        instance_uuid=host.uuid,
    )
