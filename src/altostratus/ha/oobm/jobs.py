"""The out-of-band management jobs, one kind per asynchronous command.

Enabling and disabling change the switch in the request (so bad input never creates a
job); their jobs only answer what was set. A power action and a password change talk
to the BMC in the job, outside any transaction (``service``). Neither records a step:
a job resumed on another server asks the BMC again, which is what an operator
retrying would do.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from altostratus.core.context import ServiceContext
from altostratus.ha.oobm import service
from altostratus.ha.oobm.drivers import PowerAction, PowerState
from altostratus.jobs.kinds import JobKind, JobPayload
from altostratus.jobs.run import JobRun
from altostratus.services.infrastructure.hosts import get_host

__all__ = [
    "CHANGE_PASSWORD",
    "DISABLE_FOR_CLUSTER",
    "DISABLE_FOR_HOST",
    "DISABLE_FOR_ZONE",
    "ENABLE_FOR_CLUSTER",
    "ENABLE_FOR_HOST",
    "ENABLE_FOR_ZONE",
    "POWER_ACTION",
    "PasswordPayload",
    "PowerOutcome",
    "PowerPayload",
    "SwitchPayload",
]


class SwitchPayload(JobPayload):
    #: The uuid of the host, cluster or zone switched.
    id: str
    enabled: bool


class PowerPayload(JobPayload):
    #: The host's uuid.
    id: str
    action: PowerAction
    timeout: float = Field(gt=0)


class PasswordPayload(JobPayload):
    id: str
    #: The new password, encrypted with the region's keyring (job payloads are stored).
    password: str


class PowerOutcome(BaseModel):
    """What a power action read back, for the answer."""

    model_config = ConfigDict(frozen=True)

    host_uuid: str
    action: PowerAction
    state: PowerState


async def _answer_switch(run: JobRun, payload: SwitchPayload) -> SwitchPayload:
    return payload


async def _host_id(run: JobRun, host_uuid: str) -> int:
    async def read(ctx: ServiceContext) -> int:
        return (await get_host(ctx, host_uuid, "hostid")).id

    return await run.read(read)


async def _power(run: JobRun, payload: PowerPayload) -> PowerOutcome:
    host_id = await _host_id(run, payload.id)
    state = await service.issue_power_action(
        run.db, run.deps, host_id, payload.action, bmc_timeout=payload.timeout
    )
    return PowerOutcome(host_uuid=payload.id, action=payload.action, state=state)


async def _change_password(run: JobRun, payload: PasswordPayload) -> str:
    host_id = await _host_id(run, payload.id)
    password = run.deps.keyring.decrypt(payload.password)
    await service.change_password(run.db, run.deps, host_id, password)
    return payload.id


ENABLE_FOR_HOST = JobKind(SwitchPayload, _answer_switch)
DISABLE_FOR_HOST = JobKind(SwitchPayload, _answer_switch)
ENABLE_FOR_CLUSTER = JobKind(SwitchPayload, _answer_switch)
DISABLE_FOR_CLUSTER = JobKind(SwitchPayload, _answer_switch)
ENABLE_FOR_ZONE = JobKind(SwitchPayload, _answer_switch)
DISABLE_FOR_ZONE = JobKind(SwitchPayload, _answer_switch)
POWER_ACTION = JobKind(PowerPayload, _power)
CHANGE_PASSWORD = JobKind(PasswordPayload, _change_password)
