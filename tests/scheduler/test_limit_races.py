"""limits.check under concurrency: N deploys racing for M < N slots create exactly M VMs."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from altostratus.db.models import Account, Domain, ResourceLimit, Role, VirtualMachine
from altostratus.errors import ResourceLimitExceeded
from altostratus.services.shared import limits
from altostratus.services.shared.limits import ResourceType
from tests.scheduler.conftest import FleetDb

_names = iter(range(1_000_000))


async def deploy(fleet_db: FleetDb, account_id: int, domain_id: int) -> bool:
    """Check the limits and create the VM in one transaction, as deployVirtualMachine does."""
    fleet = fleet_db.fleet
    try:
        async with fleet_db.db.transaction() as session:
            await limits.check(session, account_id, {ResourceType.INSTANCE: 1})
            # Give the other transactions time to run their checks meanwhile.
            await asyncio.sleep(0.01)
            name = f"vm{next(_names)}"
            session.add(
                VirtualMachine(
                    name=name,
                    display_name=name,
                    instance_name=f"i-{name}",
                    account_id=account_id,
                    domain_id=domain_id,
                    zone_id=fleet.zone_id,
                    service_offering_id=fleet.offering_id,
                    template_id=fleet.template_id,
                    cpu_number=1,
                    cpu_speed=500,
                    memory_mb=512,
                )
            )
        return True
    except ResourceLimitExceeded:
        return False


async def _vms(fleet_db: FleetDb) -> int:
    async with fleet_db.db.transaction(write=False) as session:
        return int(await session.scalar(select(func.count()).select_from(VirtualMachine)) or 0)


async def test_an_accounts_last_slots_go_to_exactly_as_many_deploys(fleet_db: FleetDb) -> None:
    fleet = fleet_db.fleet
    async with fleet_db.db.transaction() as session:
        session.add(
            ResourceLimit(
                account_id=fleet.account_id, domain_id=fleet.domain_id, resource_type=0, max=3
            )
        )
    results = await asyncio.gather(
        *(deploy(fleet_db, fleet.account_id, fleet.domain_id) for _ in range(8))
    )
    assert results.count(True) == 3
    assert await _vms(fleet_db) == 3


async def test_a_domain_limit_holds_across_its_accounts_racing(fleet_db: FleetDb) -> None:
    fleet = fleet_db.fleet
    async with fleet_db.db.transaction() as session:
        root = await session.get_one(Domain, fleet.domain_id)
        sales = Domain(name="sales", parent_id=root.id, path="ROOT/sales", level=1)
        session.add(sales)
        await session.flush()
        role = await session.scalar(select(Role))
        assert role is not None
        accounts = [
            Account(name=f"seller{number}", domain_id=sales.id, type=0, role_id=role.id)
            for number in range(3)
        ]
        session.add_all(accounts)
        session.add(ResourceLimit(account_id=None, domain_id=sales.id, resource_type=0, max=4))
        await session.flush()
        owners = [(account.id, sales.id) for account in accounts]
    results = await asyncio.gather(*(deploy(fleet_db, *owners[number % 3]) for number in range(9)))
    assert results.count(True) == 4
    assert await _vms(fleet_db) == 4
