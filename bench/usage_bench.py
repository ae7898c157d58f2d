"""How fast the usage meter meters a day: records written per second, and what metering
the same day again costs (every insert ignored by the unique key).

The bench writes ``--vms`` VMs of one account straight into a fresh SQLite database
(in a temporary directory), each with the events of a day: created and started at a
random time in the morning, stopped and started again around noon, stopped in the
evening, so each VM gives about 20 running and 20 allocated hourly records. Then it
times one round of the meter (``UsageMeter.tick`` told it is the next morning), and
``generateUsageRecords``' service over the same day (nothing new to add).

    uv run python bench/usage_bench.py [--vms 1000,5000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select

from altostratus.db.models import Account, Event, UsageRecord, VirtualMachine
from altostratus.runtime import Runtime
from altostratus.services.quickstart import build_region
from altostratus.services.usage.meter import generate
from altostratus.services.usage.worker import UsageMeter
from altostratus.settings import Settings

DAY = datetime(2026, 11, 2, tzinfo=UTC)


def _hour(rng: random.Random, low: float, high: float) -> datetime:
    return DAY + timedelta(hours=rng.uniform(low, high))


async def _seed(runtime: Runtime, vms: int) -> None:
    rng = random.Random(7)
    async with runtime.db.transaction() as session:
        region = await build_region(session, hosts=1)
        admin = await session.scalar(select(Account).where(Account.name == "admin"))
        assert admin is not None
        offering, template = region.service_offerings[0], region.template
        for index in range(vms):
            created = _hour(rng, 0, 6)
            vm = VirtualMachine(
                name=f"vm{index}", display_name=f"vm{index}", instance_name=f"i-{index}-VM",
                account_id=admin.id, domain_id=admin.domain_id, zone_id=region.zone.id,
                service_offering_id=offering.id, template_id=template.id,
                cpu_number=1, cpu_speed=500, memory_mb=512, created=created,
            )  # fmt: skip
            session.add(vm)
            await session.flush()
            noon = _hour(rng, 11, 13)
            for event_type, text, moment in (
                ("VM.CREATE", "Created", created),
                ("VM.START", "Started on host h:", created),
                ("VM.STOP", "Stopped", noon),
                ("VM.START", "Started on host h:", noon + timedelta(minutes=30)),
                ("VM.STOP", "Stopped", _hour(rng, 20, 23)),
            ):
                session.add(
                    Event(
                        type=event_type,
                        description=f"{text} VM {vm.name}",
                        username="bench",
                        account_name=admin.name,
                        account_uuid=admin.uuid,
                        domain_uuid=admin.domain.uuid,
                        domain_path=admin.domain.path,
                        resource_type="VirtualMachine",
                        resource_uuid=vm.uuid,
                        created=moment,
                    )
                )


async def _run(vms: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        settings = Settings(
            data_dir=data, key_file=data / "key", password_time_cost=1, password_memory_kib=64
        )
        runtime = await Runtime.start(settings)
        try:
            await _seed(runtime, vms)
            meter = UsageMeter(runtime.db, runtime.deps)
            started = time.perf_counter()
            await meter.tick(now=DAY + timedelta(days=1, minutes=5))
            metering = time.perf_counter() - started
            async with runtime.db.transaction(write=False) as session:
                records = await session.scalar(select(func.count()).select_from(UsageRecord))
            started = time.perf_counter()
            async with runtime.db.transaction() as session:
                added = await generate(session, DAY, DAY + timedelta(days=1), 60)
            again = time.perf_counter() - started
        finally:
            await runtime.close()
    assert records is not None
    assert added == 0
    print(
        f"{vms:>6} {records:>8} {metering:>8.2f} {records / metering:>10.0f} {again:>8.2f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", default="1000,5000", help="comma-separated VM counts")
    args = parser.parse_args()
    print("   vms  records  meter s  records/s  again s")
    for vms in (int(count) for count in args.vms.split(",")):
        asyncio.run(_run(vms))


if __name__ == "__main__":
    main()
