"""CloudStack's host HA states, the moves allowed between them, and one event per move.

Every move is a conditional UPDATE from the state the caller read, so two servers (a
monitor and an investigation resumed elsewhere) cannot both move a host: the second
finds the state changed and does nothing.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value

from altostratus.core.context import ServiceContext
from altostratus.db.clock import database_now
from altostratus.db.models import Host, HostHa
from altostratus.db.models.host_ha import HaState
from altostratus.db.rows import rowcount
from altostratus.services.infrastructure.hosts import host_event

__all__ = ["ALLOWED", "EVENT_TYPE", "PROVIDERS", "SETTLED", "move"]

#: The HA provider of each hypervisor, as CloudStack names them (``listHostHAProviders``).
PROVIDERS = {"KVM": "kvmhaprovider", "Simulator": "simulatorhaprovider"}

EVENT_TYPE = "HA.STATE.TRANSITION"

_S = HaState
#: Where each state may go. Fencing, Fenced and Recovering run to their end once begun
#: (a fence half done must be confirmed or called failed), unless an operator disables
#: HA: the investigation then stops at its next step; restarts submitted run on.
ALLOWED: dict[HaState, frozenset[HaState]] = {
    _S.DISABLED: frozenset({_S.AVAILABLE, _S.INELIGIBLE}),
    _S.INELIGIBLE: frozenset({_S.AVAILABLE, _S.DISABLED}),
    _S.AVAILABLE: frozenset({_S.SUSPECT, _S.INELIGIBLE, _S.DISABLED}),
    _S.SUSPECT: frozenset({_S.CHECKING, _S.DEGRADED, _S.AVAILABLE, _S.INELIGIBLE, _S.DISABLED}),
    _S.CHECKING: frozenset(
        {_S.AVAILABLE, _S.DEGRADED, _S.FENCING, _S.FENCED, _S.INELIGIBLE, _S.DISABLED}
    ),
    _S.DEGRADED: frozenset({_S.AVAILABLE, _S.FENCING, _S.FENCED, _S.INELIGIBLE, _S.DISABLED}),
    _S.FENCING: frozenset({_S.FENCED, _S.DEGRADED, _S.DISABLED}),
    _S.FENCED: frozenset({_S.RECOVERING, _S.DISABLED}),
    _S.RECOVERING: frozenset({_S.RECOVERED, _S.DISABLED}),
    _S.RECOVERED: frozenset({_S.AVAILABLE, _S.INELIGIBLE, _S.DISABLED}),
}

#: States in which the monitor leaves a host to the investigation that owns it.
SETTLED = frozenset({_S.FENCING, _S.FENCED, _S.RECOVERING})


async def move(ctx: ServiceContext, resource: HostHa, host: Host, to: HaState, why: str) -> bool:
    """``resource`` from the state it was read in to ``to``, with an event saying ``why``.

    False, changing nothing, if another server moved it first. A move the table does not
    allow is a programming error. The event is the caller's (``ctx``): an operator's
    enable, or the system's monitor and investigations.
    """
    session = ctx.session
    before = HaState(resource.state)
    if to == before:
        return False
    if to not in ALLOWED[before]:
        raise ValueError(f"host HA cannot go from {before} to {to}")
    now = await database_now(session)
    moved = await session.execute(
        update(HostHa)
        .where(HostHa.host_id == resource.host_id, HostHa.state == before)
        .values(state=to, state_changed=now)
        .execution_options(synchronize_session=False)
    )
    if not rowcount(moved):
        return False
    set_committed_value(resource, "state", to)
    set_committed_value(resource, "state_changed", now)
    await host_event(ctx, host, EVENT_TYPE, f"Host {host.name} HA {before} -> {to}: {why}")
    return True
