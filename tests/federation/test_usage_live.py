"""Usage across three live regions: one call in any region gives the sum of the three,
each record tagged with its region; a stopped region is reported missing.

Each region's records are written into its own database (what its meter would write):
what is tested is the consolidation over the signed region-to-region channel, and
``alto usage report`` on top of it. One federation for the whole module.
"""

from __future__ import annotations

import asyncio
import csv
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from altostratus.db.engine import Database
from altostratus.services.usage.spans import Owner
from altostratus.services.usage.types import UsageType
from tests.api.usage.records import record, write_records
from tests.federation.support import (
    LiveRegion,
    admin_keys,
    call_ok,
    eventually,
    live_federation,
    stop_all,
)

pytestmark = pytest.mark.slow

DAY = datetime(2026, 11, 2, tzinfo=UTC)
DATES = {"startdate": "2026-11-02", "enddate": "2026-11-02"}
#: Per region: (usage type, hours of each of its records, how many records).
METERED = {1: (1, 1.0, 3), 2: (1, 0.5, 2), 3: (6, 0.25, 4)}


@pytest.fixture(scope="module")
def regions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[LiveRegion]]:
    federation = live_federation(tmp_path_factory.mktemp("usage"), 3)
    try:
        yield federation
    finally:
        stop_all(federation)


@pytest.fixture(scope="module")
def customer(regions: list[LiveRegion]) -> dict[str, Any]:
    """An account created in region 1, replicated everywhere, with records in each region."""
    keys = admin_keys(regions[0])
    domain = call_ok(regions[0].endpoint, keys, "createDomain", name="billing")["domain"]
    account = call_ok(
        regions[0].endpoint, keys, "createAccount",
        username="acme", password="usage secret", email="acme@example.org",
        firstname="Acme", lastname="Corp", accounttype="0", domainid=domain["id"],
    )["account"]  # fmt: skip
    user = account["user"][0]
    pair = call_ok(regions[0].endpoint, keys, "registerUserKeys", id=user["id"])["userkeys"]
    for region in regions[1:]:
        eventually(partial(_replicated, region, keys, user["id"]))
    for region in regions:
        asyncio.run(_write_records(region, account, domain))
    return {"account": account, "domain": domain, "keys": pair}


def _replicated(region: LiveRegion, keys: dict[str, str], user_id: str) -> None:
    users = call_ok(region.endpoint, keys, "listUsers", id=user_id, listall="true")
    assert users.get("count") == 1, users


async def _write_records(
    region: LiveRegion, account: dict[str, Any], domain: dict[str, Any]
) -> None:
    usage_type, hours, count = METERED[region.region_id]
    owner = Owner(account["id"], account["name"], domain["id"], domain["path"])
    db = Database(region.url)
    try:
        await write_records(
            db,
            (
                record(
                    owner,
                    UsageType(usage_type),
                    f"00000000-0000-4000-8000-{region.region_id:06d}{index:06d}",
                    DAY + timedelta(hours=index),
                    hours,
                )
                for index in range(count)
            ),
        )
    finally:
        await db.close()


def _by_region(records: list[dict[str, Any]]) -> dict[int, tuple[int, float, int]]:
    """Per region: its records' (usage type, total hours, count)."""
    seen: dict[int, tuple[int, float, int]] = {}
    for entry in records:
        _, hours, count = seen.get(entry["regionid"], (0, 0.0, 0))
        seen[entry["regionid"]] = (
            entry["usagetype"],
            hours + float(entry["rawusage"]),
            count + 1,
        )
    return seen


def _expected(region_ids: tuple[int, ...]) -> dict[int, tuple[int, float, int]]:
    return {r: (METERED[r][0], METERED[r][1] * METERED[r][2], METERED[r][2]) for r in region_ids}


def _report(
    region: LiveRegion, keys: dict[str, str], out: Path
) -> tuple[int, list[dict[str, str]]]:
    alto = Path(sys.executable).parent / "alto"
    done = subprocess.run(
        [
            str(alto), "usage", "report", "--endpoint", region.endpoint,
            "--apikey", keys["apikey"], "--secretkey", keys["secretkey"],
            "--startdate", DATES["startdate"], "--enddate", DATES["enddate"], "-o", str(out),
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    with out.open() as lines:
        return done.returncode, list(csv.DictReader(lines))


def test_one_call_in_any_region_gives_the_sum_of_every_region(
    regions: list[LiveRegion], customer: dict[str, Any], tmp_path: Path
) -> None:
    for region in regions:
        answer = call_ok(
            region.endpoint, customer["keys"], "listUsageRecords", allregions="true", **DATES
        )
        assert "missingregion" not in answer
        assert _by_region(answer["usagerecord"]) == _expected((1, 2, 3))
        assert {r["regionname"] for r in answer["usagerecord"]} == {"R1", "R2", "R3"}
        assert {r["account"] for r in answer["usagerecord"]} == {"acme"}
    local = call_ok(regions[1].endpoint, customer["keys"], "listUsageRecords", **DATES)
    assert _by_region(local["usagerecord"]) == _expected((2,))

    status, rows = _report(regions[1], customer["keys"], tmp_path / "report.csv")
    assert status == 0
    lines = {(row["regionid"], row["usagetype"]): row for row in rows}
    assert {key: (row["rawusage"], row["records"]) for key, row in lines.items()} == {
        ("1", "1"): ("3", "3"),
        ("2", "1"): ("1", "2"),
        ("3", "6"): ("1", "4"),
        ("all", "1"): ("4", "5"),  # running VM hours: regions 1 and 2
        ("all", "6"): ("1", "4"),
    }
    assert {row["account"] for row in rows} == {"acme"}
    assert [row["status"] for row in rows] == ["ok", "ok", "ok", "total", "total"]


def test_a_stopped_region_is_reported_missing(
    regions: list[LiveRegion], customer: dict[str, Any], tmp_path: Path
) -> None:
    regions[2].stop()
    answer = call_ok(
        regions[0].endpoint, customer["keys"], "listUsageRecords", allregions="true", **DATES
    )
    assert _by_region(answer["usagerecord"]) == _expected((1, 2))
    (missing,) = answer["missingregion"]
    assert (missing["regionid"], missing["regionname"]) == (3, "R3")

    status, rows = _report(regions[0], customer["keys"], tmp_path / "report.csv")
    assert status == 2
    assert [(row["regionid"], row["status"]) for row in rows if row["status"] == "missing"] == [
        ("3", "missing")
    ]
