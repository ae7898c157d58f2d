"""A scripted day gives the expected usage records, once however often and by however
many servers it is metered. One day per backend (it takes a while to play): the checks
follow each other in the one test."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from starlette.applications import Starlette

from altostratus.db.models import UsageRecord
from altostratus.services.usage.types import UsageType
from altostratus.services.usage.worker import UsageMeter
from tests.api.compute.vm_support import hosts_up
from tests.api.usage.day import Day, at, script_day
from tests.conftest import Clients
from tests.support.compute_world import ComputeWorld

#: Just past midnight (and the meter's settling minute): the whole day has ended.
NEXT_MORNING = at(24, 5)
#: running 9 (08-12, 13:30-18), allocated 10, root volume 16, data volume 8, address 2, NIC 16.
RECORDS = 9 + 10 + 16 + 8 + 2 + 16


def meter(app: Starlette) -> UsageMeter:
    runtime = app.state.runtime
    return UsageMeter(runtime.db, runtime.deps)


async def record_keys(app: Starlette) -> list[tuple[int, str, object, float]]:
    async with app.state.runtime.db.transaction(write=False) as session:
        rows = await session.scalars(select(UsageRecord).order_by(UsageRecord.id))
        return [(r.usage_type, r.usage_uuid, r.start_date, r.raw_usage) for r in rows]


def hours_by_object(rows: list[dict[str, Any]]) -> dict[tuple[int, str], float]:
    total: dict[tuple[int, str], float] = defaultdict(float)
    for row in rows:
        total[int(row["usagetype"]), row["usageid"]] += float(row["rawusage"])
    return {key: round(value, 6) for key, value in total.items()}


def running_at(rows: list[dict[str, Any]], hour: str) -> list[dict[str, Any]]:
    return [
        r
        for r in rows
        if r["usagetype"] == UsageType.RUNNING_VM and r["startdate"].endswith(f"T{hour}+0000")
    ]


async def test_a_scripted_day_is_metered_once_into_the_expected_records(
    app: Starlette, clients: Clients, compute: ComputeWorld
) -> None:
    day: Day = await script_day(app, clients.alice, await hosts_up(app, compute))

    # An admin meters the morning first: only its ended periods (before 12:00).
    answer = await clients.admin.ok(
        "generateUsageRecords", startdate="2026-11-02T00:00:00Z", enddate="2026-11-02T11:59:59Z"
    )
    # 08:00-12:00: 4 running, 4 allocated, 4 root volume, 4 NIC; 3 data volume; 2 address.
    assert answer["displaytext"] == "21 usage records added"
    async with app.state.runtime.db.transaction(write=False) as session:
        assert await session.scalar(select(func.max(UsageRecord.end_date))) == at(12)

    # Two servers' meters at once (the lease bypassed): the rest of the day, each once.
    first, second = await asyncio.gather(
        meter(app).tick(now=NEXT_MORNING), meter(app).tick(now=NEXT_MORNING)
    )
    assert first.changed or second.changed
    keys = [key[:3] for key in await record_keys(app)]
    assert len(keys) == len(set(keys)) == RECORDS

    listed = await clients.alice.ok(
        "listUsageRecords", startdate="2026-11-02", enddate="2026-11-02"
    )
    rows = listed["usagerecord"]
    assert listed["count"] == len(rows) == RECORDS
    assert hours_by_object(rows) == {
        (UsageType.RUNNING_VM, day.vm): 8.5,  # 08:00-12:00 and 13:30-18:00
        (UsageType.ALLOCATED_VM, day.vm): 10.0,  # created 08:00, destroyed 18:00
        (UsageType.VOLUME, day.root_volume): 16.0,  # to midnight: not expunged
        (UsageType.VOLUME, day.data_volume): 8.0,  # 09:00-17:00
        (UsageType.IP_ADDRESS, day.address): 1.5,  # 10:15-11:45
        (UsageType.NETWORK_OFFERING, day.nic): 16.0,
    }
    (eight,) = running_at(rows, "08:00:00")
    assert eight["usage"] == "1 Hrs"
    assert eight["rawusage"] == "1"
    assert eight["enddate"] == "2026-11-02T09:00:00+0000"
    assert eight["virtualmachineid"] == day.vm
    assert eight["name"] == "metered"
    assert eight["account"] == "alice"
    assert eight["regionid"] == 1
    assert [r["usage"] for r in running_at(rows, "13:00:00")] == ["0.5 Hrs"]
    assert running_at(rows, "12:00:00") == []
    address = [r for r in rows if r["usagetype"] == UsageType.IP_ADDRESS]
    assert [r["rawusage"] for r in address] == ["0.75", "0.75"]

    # Metering the day again, by the worker or an admin, changes nothing.
    before = await record_keys(app)
    again = await meter(app).tick(now=NEXT_MORNING)
    assert not again.changed, again.sentence
    regenerated = await clients.admin.ok(
        "generateUsageRecords", startdate="2026-11-02", enddate="2026-11-02"
    )
    assert regenerated["displaytext"] == "0 usage records added"
    assert await record_keys(app) == before
