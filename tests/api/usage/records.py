"""Usage records written directly, as a region's meter would write them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from altostratus.db.engine import Database
from altostratus.db.models import UsageRecord
from altostratus.services.usage.spans import Owner
from altostratus.services.usage.types import UsageType
from tests.support.world import Identity

__all__ = ["owner_of", "record", "write_records"]


def owner_of(identity: Identity) -> Owner:
    return Owner(identity.account_id, identity.account, identity.domain_id, identity.domain_path)


def record(
    owner: Owner, usage_type: UsageType, usage_uuid: str, start: datetime, hours: float
) -> UsageRecord:
    """One hour-long period's record of ``owner``'s object, ``hours`` of it used."""
    return UsageRecord(
        usage_type=usage_type,
        usage_uuid=usage_uuid,
        start_date=start,
        end_date=start + timedelta(hours=1),
        raw_usage=hours,
        description=f"{owner.account_name}'s {usage_type.description}",
        account_uuid=owner.account_uuid,
        account_name=owner.account_name,
        domain_uuid=owner.domain_uuid,
        domain_path=owner.domain_path,
    )


async def write_records(db: Database, records: Iterable[UsageRecord]) -> None:
    async with db.transaction() as session:
        session.add_all(list(records))
