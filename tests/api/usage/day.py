"""A scripted day of one account's VM, volume and address, through the real API.

The operations run now (the simulator plays the hosts); their times are then set to
the script's (the events' and rows' timestamps), so the usage meter, told what time
it is, meters a day that took a few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from starlette.applications import Starlette

from altostratus.db.models import Event, Nic, VirtualMachine, Volume
from tests.api.compute.vm_support import deploy
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld
from tests.support.jobs import run_job

__all__ = ["DAY", "Day", "at", "script_day"]

DAY = datetime(2026, 11, 2, tzinfo=UTC)


def at(hour: int, minute: int = 0) -> datetime:
    return DAY + timedelta(hours=hour, minutes=minute)


#: The VM's events in order, as (type, first word of the description), and when they
#: happen in the script: up 08:00-12:00 and 13:30-18:00, destroyed at 18:00.
VM_SCRIPT = [
    (("VM.CREATE", "Created"), at(8)),
    (("VM.START", "Started"), at(8)),
    (("VM.STOP", "Stopping"), at(12)),
    (("VM.STOP", "Stopped"), at(12)),
    (("VM.START", "Starting"), at(13, 30)),
    (("VM.START", "Started"), at(13, 30)),
    (("VM.STOP", "Stopping,"), at(18)),
    (("VM.STOP", "Stopped"), at(18)),
    (("VM.DESTROY", "Destroyed"), at(18)),
]


@dataclass(frozen=True)
class Day:
    vm: str
    root_volume: str
    data_volume: str
    address: str
    nic: str


async def script_day(app: Starlette, client: ApiClient, world: ComputeWorld) -> Day:
    """Run the day's operations, then move their timestamps to the script's."""
    vm = await deploy(client, world, name="metered")
    await run_job(client, "stopVirtualMachine", id=vm["id"])
    await run_job(client, "startVirtualMachine", id=vm["id"])
    volume = (
        await run_job(
            client, "createVolume", name="data", zoneid=world.zone_id,
            diskofferingid=world.disk_offering_id,
        )
    )["volume"]  # fmt: skip
    assert (await client.ok("deleteVolume", id=volume["id"])) == {"success": "true"}
    address = (await run_job(client, "associateIpAddress", zoneid=world.zone_id))["ipaddress"]
    await run_job(client, "disassociateIpAddress", id=address["id"])
    await run_job(client, "destroyVirtualMachine", id=vm["id"])
    async with app.state.runtime.db.transaction() as session:
        row = await session.scalar(select(VirtualMachine).where(VirtualMachine.uuid == vm["id"]))
        assert row is not None
        events = list(
            await session.scalars(
                select(Event).where(Event.resource_uuid == vm["id"]).order_by(Event.id)
            )
        )
        happened = [(e.type, e.description.split(" ", 1)[0]) for e in events]
        assert happened == [step for step, _ in VM_SCRIPT]
        for event, (_, moment) in zip(events, VM_SCRIPT, strict=True):
            event.created = moment
        row.created = at(8)
        root = await session.scalar(select(Volume).where(Volume.vm_id == row.id))
        nic = await session.scalar(select(Nic).where(Nic.vm_id == row.id))
        assert root is not None
        assert nic is not None
        root.created, nic.created = at(8), at(8)
        await session.execute(
            update(Volume).where(Volume.uuid == volume["id"]).values(created=at(9), removed=at(17))
        )
        for event_type, moment in (("NET.IPASSIGN", at(10, 15)), ("NET.IPRELEASE", at(11, 45))):
            await session.execute(
                update(Event)
                .where(Event.resource_uuid == address["id"], Event.type == event_type)
                .values(created=moment)
            )
        return Day(vm["id"], root.uuid, volume["id"], address["id"], nic.uuid)
