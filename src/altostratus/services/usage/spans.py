"""When each metered object was in its metered state: spans read from what the region
already records, with no bookkeeping of usage's own on the hot path.

- **VMs** (running, allocated): their events, in order. A VM is Running from the event
  that says it started (``VM.START`` at INFO "Started on host …", or at WARN: started
  out of band) to the next one that says it stopped (``VM.STOP`` "Stopped" or WARN, a
  fencing's ``VM.HA.*``, ``VM.DESTROY``, ``VM.EXPUNGE``); it is allocated from
  ``VM.CREATE`` or ``VM.RECOVER`` to ``VM.DESTROY`` or ``VM.EXPUNGE``. Requests
  ("Starting", "Stopping") and failures change nothing.
- **Public addresses**: ``NET.IPASSIGN`` to ``NET.IPRELEASE`` (a released row is deleted).
- **Volumes, templates, snapshots, VM snapshots, NICs** (network offering usage): the
  row's ``created`` to its ``removed``.

Only the histories that can overlap the metered range are read: VMs not expunged and
addresses not released before it, rows not removed before it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.db.models import (
    Account,
    Event,
    IpAddress,
    Nic,
    Snapshot,
    Template,
    VirtualMachine,
    VmSnapshot,
    Volume,
)
from altostratus.services.compute.vms import VM_EVENT_RESOURCE
from altostratus.services.usage.types import UsageType

__all__ = ["Owner", "Span", "spans_between"]

_IP_RESOURCE = "IpAddress"
_RUNNING_FROM = {("VM.START", "INFO", "Started"), ("VM.START", "WARN", "")}
_RUNNING_TO = {("VM.STOP", "INFO", "Stopped"), ("VM.STOP", "WARN", "")}
_ALWAYS_ENDS_RUNNING = {"VM.HA.STOPPED", "VM.HA.RESTART", "VM.DESTROY", "VM.EXPUNGE"}
_ALLOCATED_FROM = {"VM.CREATE", "VM.RECOVER"}
_ALLOCATED_TO = {"VM.DESTROY", "VM.EXPUNGE"}


@dataclass(frozen=True)
class Owner:
    """Copies of the owning account's identity (accounts have the same UUID everywhere)."""

    account_uuid: str
    account_name: str
    domain_uuid: str
    domain_path: str

    @classmethod
    def of(cls, account: Account) -> Owner:
        return cls(account.uuid, account.name, account.domain.uuid, account.domain.path)


@dataclass(frozen=True)
class Span:
    """One object in one metered state from ``start`` to ``end`` (``None``: still is)."""

    usage_type: UsageType
    usage_uuid: str
    owner: Owner
    start: datetime
    end: datetime | None
    description: str
    zone_uuid: str | None = None
    vm_uuid: str | None = None
    name: str | None = None
    offering_uuid: str | None = None
    template_uuid: str | None = None
    size: int | None = None

    def overlap_hours(self, since: datetime, until: datetime) -> float:
        start = max(self.start, since)
        end = until if self.end is None else min(self.end, until)
        return max((end - start).total_seconds(), 0.0) / 3600


async def spans_between(session: AsyncSession, since: datetime, until: datetime) -> list[Span]:
    """Every span that overlaps [``since``, ``until``)."""
    found = [
        *await _vm_spans(session, since, until),
        *await _address_spans(session, since, until),
        *await _row_spans(session, since, until),
    ]
    return [span for span in found if span.overlap_hours(since, until) > 0]


# --- from events --------------------------------------------------------------------


def _key(event: Event) -> tuple[str, str, str]:
    """What decides an event's meaning: its type, level and first word."""
    first = event.description.split(" ", 1)[0] if event.level == "INFO" else ""
    return event.type, event.level, first


def _opened_closed(
    events: Iterable[Event], opens: Callable[[Event], bool], closes: Callable[[Event], bool]
) -> list[tuple[datetime, datetime | None]]:
    """The intervals from an opening event to the next closing one (``opens``/``closes``
    tell whether an event does either)."""
    intervals: list[tuple[datetime, datetime | None]] = []
    started: datetime | None = None
    for event in events:
        if started is None and opens(event):
            started = event.created
        elif started is not None and closes(event):
            intervals.append((started, event.created))
            started = None
    if started is not None:
        intervals.append((started, None))
    return intervals


async def _events_by_resource(
    session: AsyncSession,
    until: datetime,
    resource_type: str,
    of: ColumnElement[bool],
    types: Sequence[str] | None = None,
) -> dict[str, list[Event]]:
    """The events before ``until`` of the resources ``of`` selects, by resource, in order."""
    query = select(Event).where(
        Event.resource_type == resource_type,
        Event.resource_uuid.is_not(None),
        Event.created < until,
        of,
    )
    if types is not None:
        query = query.where(Event.type.in_(types))
    grouped: dict[str, list[Event]] = {}
    for event in await session.scalars(query.order_by(Event.created, Event.id)):
        grouped.setdefault(event.resource_uuid or "", []).append(event)
    return grouped


async def _vm_spans(session: AsyncSession, since: datetime, until: datetime) -> list[Span]:
    """Only VMs not expunged before ``since`` are read: history ends with the VM."""
    alive = select(VirtualMachine.uuid).where(
        or_(VirtualMachine.removed.is_(None), VirtualMachine.removed >= since)
    )
    grouped = await _events_by_resource(
        session, until, VM_EVENT_RESOURCE, Event.resource_uuid.in_(alive)
    )
    vms = {
        vm.uuid: vm
        for vm in await session.scalars(
            select(VirtualMachine).where(VirtualMachine.uuid.in_(list(grouped)))
        )
    }
    spans: list[Span] = []
    for uuid, events in grouped.items():
        vm = vms.get(uuid)
        if vm is None:
            continue
        running = _opened_closed(
            events,
            lambda e: _key(e) in _RUNNING_FROM,
            lambda e: _key(e) in _RUNNING_TO or e.type in _ALWAYS_ENDS_RUNNING,
        )
        allocated = _opened_closed(
            events, lambda e: e.type in _ALLOCATED_FROM, lambda e: e.type in _ALLOCATED_TO
        )
        base = _vm_span(vm)
        spans += [
            replace(
                base,
                start=start,
                end=end,
                description=f"{vm.name} running time {base.description}",
            )
            for start, end in running
        ]
        spans += [
            replace(
                base,
                usage_type=UsageType.ALLOCATED_VM,
                start=start,
                end=end,
                description=f"{vm.name} allocated time {base.description}",
            )
            for start, end in allocated
        ]
    return spans


def _vm_span(vm: VirtualMachine) -> Span:
    """A VM's attributes; its type, times and description are filled in per interval."""
    return Span(
        usage_type=UsageType.RUNNING_VM,
        usage_uuid=vm.uuid,
        owner=Owner.of(vm.account),
        start=vm.created,
        end=None,
        description=(
            f"(ServiceOffering: {vm.service_offering.name}) (Template: {vm.template.name})"
        ),
        zone_uuid=vm.zone.uuid,
        vm_uuid=vm.uuid,
        name=vm.name,
        offering_uuid=vm.service_offering.uuid,
        template_uuid=vm.template.uuid,
    )


async def _address_spans(session: AsyncSession, since: datetime, until: datetime) -> list[Span]:
    """Only addresses held now, or released since ``since``, are read."""
    released_since = select(Event.resource_uuid).where(
        Event.type == "NET.IPRELEASE", Event.created >= since
    )
    of = or_(
        Event.resource_uuid.in_(select(IpAddress.uuid)),
        Event.resource_uuid.in_(released_since),
    )
    grouped = await _events_by_resource(
        session, until, _IP_RESOURCE, of, ("NET.IPASSIGN", "NET.IPRELEASE")
    )
    live = {
        address.uuid: address
        for address in await session.scalars(
            select(IpAddress).where(IpAddress.uuid.in_(list(grouped)))
        )
    }
    spans: list[Span] = []
    for uuid, events in grouped.items():
        first = events[0]
        if first.account_uuid is None:
            continue
        owner = Owner(first.account_uuid, first.account_name, first.domain_uuid, first.domain_path)
        address = live.get(uuid)
        name = address.address if address is not None else None
        for start, end in _opened_closed(
            events, lambda e: e.type == "NET.IPASSIGN", lambda e: e.type == "NET.IPRELEASE"
        ):
            spans.append(
                Span(
                    usage_type=UsageType.IP_ADDRESS,
                    usage_uuid=uuid,
                    owner=owner,
                    start=start,
                    end=end,
                    description=f"IPAddress: {name or uuid}",
                    zone_uuid=address.network.zone.uuid if address is not None else None,
                    name=name,
                )
            )
    return spans


# --- from rows' created and removed ---------------------------------------------------


def _alive(model: Any, since: datetime, until: datetime) -> ColumnElement[bool]:
    """Rows of ``model`` that existed at some moment of [``since``, ``until``)."""
    return and_(model.created < until, or_(model.removed.is_(None), model.removed > since))


async def _row_spans(session: AsyncSession, since: datetime, until: datetime) -> list[Span]:
    def alive(model: Any) -> Select[Any]:
        return select(model).where(_alive(model, since, until))

    volumes = await session.scalars(alive(Volume))
    spans = [_volume(volume) for volume in volumes.unique()]
    templates = await session.scalars(alive(Template))
    spans += [_template(template) for template in templates.unique()]
    snapshots = await session.scalars(alive(Snapshot))
    spans += [_snapshot(snapshot) for snapshot in snapshots.unique()]
    vm_snapshots = await session.scalars(alive(VmSnapshot))
    spans += [_vm_snapshot(snapshot) for snapshot in vm_snapshots.unique()]
    nics = await session.scalars(alive(Nic))
    return spans + [_nic(nic) for nic in nics.unique()]


def _volume(volume: Volume) -> Span:
    offering = volume.disk_offering
    return Span(
        usage_type=UsageType.VOLUME,
        usage_uuid=volume.uuid,
        owner=Owner.of(volume.account),
        start=volume.created,
        end=volume.removed,
        description=f"Volume {volume.name} usage time (size: {volume.size} bytes)",
        zone_uuid=volume.zone.uuid,
        vm_uuid=volume.vm.uuid if volume.vm is not None else None,
        name=volume.name,
        offering_uuid=offering.uuid if offering is not None else None,
        size=volume.size,
    )


def _template(template: Template) -> Span:
    return Span(
        usage_type=UsageType.TEMPLATE,
        usage_uuid=template.uuid,
        owner=Owner.of(template.account),
        start=template.created,
        end=template.removed,
        description=f"Template {template.name} usage time",
        zone_uuid=template.zone.uuid if template.zone is not None else None,
        name=template.name,
        template_uuid=template.uuid,
        size=template.size,
    )


def _snapshot(snapshot: Snapshot) -> Span:
    return Span(
        usage_type=UsageType.SNAPSHOT,
        usage_uuid=snapshot.uuid,
        owner=Owner.of(snapshot.account),
        start=snapshot.created,
        end=snapshot.removed,
        description=f"Snapshot {snapshot.name} usage time (size: {snapshot.size} bytes)",
        zone_uuid=snapshot.zone.uuid,
        name=snapshot.name,
        size=snapshot.size,
    )


def _vm_snapshot(snapshot: VmSnapshot) -> Span:
    return Span(
        usage_type=UsageType.VM_SNAPSHOT,
        usage_uuid=snapshot.uuid,
        owner=Owner.of(snapshot.account),
        start=snapshot.created,
        end=snapshot.removed,
        description=f"VM snapshot {snapshot.display_name} of {snapshot.vm.name} usage time",
        zone_uuid=snapshot.zone.uuid,
        vm_uuid=snapshot.vm.uuid,
        name=snapshot.display_name,
    )


def _nic(nic: Nic) -> Span:
    offering = nic.network.network_offering
    return Span(
        usage_type=UsageType.NETWORK_OFFERING,
        usage_uuid=nic.uuid,
        owner=Owner.of(nic.vm.account),
        start=nic.created,
        end=nic.removed,
        description=f"Network offering {offering.name} of {nic.vm.name} usage time",
        zone_uuid=nic.network.zone.uuid,
        vm_uuid=nic.vm.uuid,
        name=nic.vm.name,
        offering_uuid=offering.uuid,
    )
