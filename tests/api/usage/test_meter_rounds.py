"""The meter's rounds: under the region's lease, from where the last round stopped, at
most a week per round."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import func, select
from starlette.applications import Starlette

from altostratus.core.worker import run_round
from altostratus.db.models import Account, UsageRecord, Volume, Zone
from altostratus.services.usage.worker import UsageMeter
from tests.api.usage.day import DAY
from tests.support.compute_world import ComputeWorld
from tests.support.world import Identity


async def _add_volume(app: Starlette, world: ComputeWorld, alice: Identity) -> None:
    """A volume alice created ten days before DAY and still has."""
    async with app.state.runtime.db.transaction() as session:
        account = await session.scalar(select(Account).where(Account.uuid == alice.account_id))
        zone = await session.scalar(select(Zone).where(Zone.uuid == world.zone_id))
        assert account is not None
        assert zone is not None
        session.add(
            Volume(
                name="old", account_id=account.id, domain_id=account.domain_id,
                zone_id=zone.id, type="DATADISK", size=5 * 1024**3,
                created=DAY - timedelta(days=10),
            )
        )  # fmt: skip


async def _count(app: Starlette) -> int:
    async with app.state.runtime.db.transaction(write=False) as session:
        return int(await session.scalar(select(func.count()).select_from(UsageRecord)) or 0)


async def test_a_long_history_is_metered_a_week_per_round(
    app: Starlette, compute: ComputeWorld, identities: dict[str, Identity]
) -> None:
    await _add_volume(app, compute, identities["alice"])
    runtime = app.state.runtime
    meter = UsageMeter(runtime.db, runtime.deps)
    first = await meter.tick(now=DAY + timedelta(minutes=5))
    assert first.changed
    assert await _count(app) == 7 * 24
    second = await meter.tick(now=DAY + timedelta(minutes=5))
    assert "metered 72 usage records" in second.sentence
    assert await _count(app) == 10 * 24
    idle = await meter.tick(now=DAY + timedelta(minutes=5))
    assert not idle.changed
    assert idle.sentence == "usage is metered up to 2026-11-02T00:00:00+0000"


async def test_one_server_at_a_time_meters_under_the_lease(
    app: Starlette, compute: ComputeWorld, identities: dict[str, Identity]
) -> None:
    await _add_volume(app, compute, identities["alice"])
    runtime = app.state.runtime
    holder = UsageMeter(runtime.db, runtime.deps)
    other = UsageMeter(runtime.db, replace(runtime.deps, server_id="another server"))
    assert (await run_round(holder)).changed
    skipped = await run_round(other)
    assert skipped.sentence == "another server holds the usage lease"
