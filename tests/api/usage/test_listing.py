"""Who lists which usage records, bad input, and the other usage commands.

The records are written directly (what the meter would write): these tests are about
the listing's rules, ``test_metering`` about where records come from.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette

from altostratus.db.models import Account, Project, UsageRecord
from altostratus.services.usage.spans import Owner
from altostratus.services.usage.types import UsageType
from altostratus.timeutil import utcnow
from tests.api.identity.test_projects import create
from tests.api.usage.day import at
from tests.api.usage.records import owner_of, record, write_records
from tests.conftest import Clients
from tests.support.postgres import free_port
from tests.support.world import Identity

DATES = {"startdate": "2026-11-02", "enddate": "2026-11-02"}


@pytest.fixture
async def metered(app: Starlette, identities: dict[str, Identity]) -> dict[str, Identity]:
    """One hour of a running VM for every seeded account; alice also has a volume."""
    owned = [
        (who, UsageType.RUNNING_VM, f"00000000-0000-4000-8000-00000000000{index}", 1.0)
        for index, who in enumerate(("admin", "d1admin", "alice", "carol", "bob"))
    ]
    owned.append(("alice", UsageType.VOLUME, "00000000-0000-4000-8000-0000000000aa", 0.25))
    await write_records(
        app.state.runtime.db,
        (
            record(owner_of(identities[who]), kind, uuid, at(8), hours)
            for who, kind, uuid, hours in owned
        ),
    )
    return identities


def owners(answer: dict[str, object]) -> list[str]:
    records = answer.get("usagerecord", [])
    assert isinstance(records, list)
    return sorted(str(record["account"]) for record in records)


async def test_a_user_lists_its_own_account_only(
    clients: Clients, metered: dict[str, Identity]
) -> None:
    assert owners(await clients.alice.ok("listUsageRecords", **DATES)) == ["alice", "alice"]
    assert owners(await clients.alice.ok("listUsageRecords", listall=True, **DATES)) == [
        "alice",
        "alice",
    ]
    bob = metered["bob"]
    await clients.alice.fails("listUsageRecords", 531, accountid=bob.account_id, **DATES)
    await clients.alice.fails("listUsageRecords", 531, domainid=bob.domain_id, **DATES)


async def test_a_domain_admin_lists_its_subtree(
    clients: Clients, metered: dict[str, Identity]
) -> None:
    d1 = metered["d1admin"].domain_id
    assert owners(await clients.d1admin.ok("listUsageRecords", **DATES)) == [
        "alice", "alice", "carol", "d1admin",
    ]  # fmt: skip
    assert owners(await clients.d1admin.ok("listUsageRecords", domainid=d1, **DATES)) == [
        "alice", "alice", "d1admin",
    ]  # fmt: skip
    recursive = await clients.d1admin.ok("listUsageRecords", domainid=d1, isrecursive=True, **DATES)
    assert owners(recursive) == ["alice", "alice", "carol", "d1admin"]
    carol = metered["carol"]
    by_name = await clients.d1admin.ok(
        "listUsageRecords", account="carol", domainid=carol.domain_id, **DATES
    )
    assert owners(by_name) == ["carol"]
    bob = metered["bob"]
    await clients.d1admin.fails("listUsageRecords", 531, domainid=bob.domain_id, **DATES)
    await clients.d1admin.fails("listUsageRecords", 531, accountid=bob.account_id, **DATES)


async def test_the_root_admin_lists_everything_and_filters(
    clients: Clients, metered: dict[str, Identity]
) -> None:
    every = await clients.admin.ok("listUsageRecords", **DATES)
    assert owners(every) == ["admin", "alice", "alice", "bob", "carol", "d1admin"]
    alice = metered["alice"]
    volumes = await clients.admin.ok(
        "listUsageRecords", accountid=alice.account_id, type=int(UsageType.VOLUME), **DATES
    )
    (volume,) = volumes["usagerecord"]
    assert volume["usage"] == "0.25 Hrs"
    assert volume["usagetype"] == 6
    assert volume["startdate"] == "2026-11-02T08:00:00+0000"
    by_object = await clients.admin.ok(
        "listUsageRecords", usageid=volume["usageid"], type=6, **DATES
    )
    assert by_object["count"] == 1
    page = await clients.admin.ok("listUsageRecords", page=2, pagesize=4, **DATES)
    assert page["count"] == 6
    assert len(page["usagerecord"]) == 2
    other_day = await clients.admin.ok(
        "listUsageRecords", startdate="2026-11-03", enddate="2026-11-04"
    )
    assert other_day == {}


async def test_bad_input_is_a_431_naming_the_parameter(
    clients: Clients, metered: dict[str, Identity]
) -> None:
    for params, name in (
        ({"startdate": "2026-11-03", "enddate": "2026-11-02"}, "enddate"),
        ({"enddate": "2026-11-02"}, "startdate"),
        ({"startdate": "yesterday", "enddate": "2026-11-02"}, "startdate"),
        ({**DATES, "type": 99}, "type"),
        ({**DATES, "accountid": "6f1d0c2e-1d7a-4a57-9d55-0d6f4a0c9e11"}, "accountid"),
        ({**DATES, "domainid": "6f1d0c2e-1d7a-4a57-9d55-0d6f4a0c9e11"}, "domainid"),
        ({**DATES, "account": "nobody"}, "account"),
        ({**DATES, "page": 1}, "pagesize"),
        ({**DATES, "usageid": "6f1d0c2e-1d7a-4a57-9d55-0d6f4a0c9e11"}, "usageid"),
    ):
        text = await clients.admin.fails("listUsageRecords", 431, **params)
        assert name in text, (params, text)
    text = await clients.admin.fails(
        "generateUsageRecords", 431, startdate="2026-11-03", enddate="2026-11-02"
    )
    assert "enddate" in text
    assert "interval" in await clients.admin.fails("removeRawUsageRecords", 431, interval=0)


async def test_only_the_root_admin_generates_and_removes(
    app: Starlette, clients: Clients, metered: dict[str, Identity]
) -> None:
    for client in (clients.alice, clients.d1admin):
        await client.fails("generateUsageRecords", 531, **DATES)
        await client.fails("removeRawUsageRecords", 531, interval=1)
    age = (utcnow() - at(9)).days  # whole days since the records' period ended
    kept = await clients.admin.ok("removeRawUsageRecords", interval=age + 1)
    assert kept["displaytext"] == "0 usage records removed"
    removed = await clients.admin.ok("removeRawUsageRecords", interval=age - 1)
    assert removed["displaytext"] == "6 usage records removed"
    async with app.state.runtime.db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(UsageRecord)) == 0


async def test_list_usage_types(clients: Clients) -> None:
    answer = await clients.bob.ok("listUsageTypes")
    types = {t["usagetypeid"]: t["description"] for t in answer["usagetype"]}
    assert {t["id"]: t["name"] for t in answer["usagetype"]}[25] == "VM_SNAPSHOT"
    assert types[1] == "Running Vm Usage"
    assert types[2] == "Allocated Vm Usage"
    assert types[3] == "IP Address Usage"
    assert types[6] == "Volume Usage"
    assert set(types) == {1, 2, 3, 6, 7, 9, 13, 25}


async def test_all_regions_reports_an_unreachable_region_as_missing(
    clients: Clients, metered: dict[str, Identity]
) -> None:
    """A peer nothing answers at (a closed loopback port) is listed, not left out."""
    alone = await clients.alice.ok("listUsageRecords", allregions=True, **DATES)
    assert {r["regionname"] for r in alone["usagerecord"]} == {"Local"}
    assert "missingregion" not in alone
    endpoint = f"http://127.0.0.1:{free_port()}/client/api"
    await clients.admin.ok("addRegion", id=2, name="Gone", endpoint=endpoint)
    answer = await clients.alice.ok("listUsageRecords", allregions=True, **DATES)
    assert owners(answer) == ["alice", "alice"]
    (missing,) = answer["missingregion"]
    assert missing["regionid"] == 2
    assert missing["regionname"] == "Gone"
    assert "127.0.0.1" in missing["reason"]


async def test_project_members_list_the_projects_usage(
    app: Starlette, clients: Clients, metered: dict[str, Identity]
) -> None:
    project = (await create(clients.alice, "billed"))["id"]
    async with app.state.runtime.db.transaction(write=False) as session:
        account = await session.scalar(
            select(Account)
            .join(Project, Project.account_id == Account.id)
            .where(Project.uuid == project)
        )
        assert account is not None
        owner = Owner(account.uuid, account.name, account.domain.uuid, account.domain.path)
    uuid = "00000000-0000-4000-8000-0000000000bb"
    await write_records(app.state.runtime.db, [record(owner, UsageType.VOLUME, uuid, at(8), 1.0)])
    listed = await clients.alice.ok("listUsageRecords", projectid=project, **DATES)
    assert [r["usageid"] for r in listed["usagerecord"]] == [uuid]
    assert "projectid" in await clients.bob.fails(
        "listUsageRecords", 431, projectid=project, **DATES
    )
    own = await clients.alice.ok("listUsageRecords", **DATES)
    assert uuid not in {r["usageid"] for r in own["usagerecord"]}


async def test_a_user_naming_its_own_domain_still_lists_its_own_account(
    clients: Clients, metered: dict[str, Identity]
) -> None:
    alice = metered["alice"]
    answer = await clients.alice.ok("listUsageRecords", domainid=alice.domain_id, **DATES)
    assert owners(answer) == ["alice", "alice"]
    mine = await clients.alice.ok(
        "listUsageRecords", account="alice", domainid=alice.domain_id, **DATES
    )
    assert owners(mine) == ["alice", "alice"]
    await clients.alice.fails(
        "listUsageRecords", 531, account="d1admin", domainid=alice.domain_id, **DATES
    )
