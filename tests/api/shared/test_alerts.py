"""Alerts: raised by the region or by ``generateAlert``, read with ``listAlerts``, and
put away with ``archiveAlerts`` and ``deleteAlerts`` under CloudStack's rules."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from altostratus.db.models import Alert, Pod, Zone
from altostratus.services.shared.alerts import AlertType, raise_alert
from altostratus.timeutil import format_timestamp
from tests.api.infrastructure.test_pods import make_pod
from tests.api.infrastructure.test_zones import UNKNOWN, make_zone
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.jobs import wait_job

DAY_1 = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
DAY_2 = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
DAY_3 = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)


async def raise_alerts(
    app: Starlette, *alerts: tuple[AlertType, str, datetime | None]
) -> list[str]:
    """Raise ``(type, subject, when)`` through the service, in order; their uuids.

    ``when`` backdates an alert (``None``: now), so date ranges can be tested.
    """
    uuids = []
    async with app.state.runtime.db.transaction() as session:
        for alert_type, subject, when in alerts:
            alert = await raise_alert(session, alert_type, subject)
            if when is not None:
                alert.created = when
            uuids.append(alert.uuid)
    return uuids


async def listed(api: ApiClient, **params: Any) -> list[str]:
    """The subjects ``listAlerts`` answers, in its order."""
    answer = await api.ok("listAlerts", **params)
    return [alert["description"] for alert in answer.get("alert", [])]


@pytest.fixture
async def three_days(app: Starlette) -> list[str]:
    """A host alert on day 1, a VM alert on day 2 and another host alert on day 3."""
    return await raise_alerts(
        app,
        (AlertType.HOST, "host h1 could not be proven dead", DAY_1),
        (AlertType.USERVM, "Unable to restart vm1: insufficient capacity", DAY_2),
        (AlertType.HOST, "fencing host h2 failed", DAY_3),
    )


async def test_a_raised_alert_is_listed_and_logged(
    app: Starlette, api: ApiClient, caplog: pytest.LogCaptureFixture
) -> None:
    zone = await make_zone(api)
    async with app.state.runtime.db.transaction() as session:
        zone_key = await session.scalar(select(Zone.id).where(Zone.uuid == zone["id"]))
        with caplog.at_level(logging.WARNING, logger="altostratus.services.shared.alerts"):
            alert = await raise_alert(
                session, AlertType.HOST, "host h1 could not be proven dead", zone_id=zone_key
            )
        raised = (alert.uuid, format_timestamp(alert.created))
    (shown,) = (await api.ok("listAlerts"))["alert"]
    assert shown == {
        "id": raised[0],
        "type": 7,
        "name": "ALERT.COMPUTE.HOST",
        "description": "host h1 could not be proven dead",
        "sent": raised[1],
    }
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert f"ALERT.COMPUTE.HOST {raised[0]}" in record.getMessage()
    assert f"zone {zone_key}" in record.getMessage()
    assert "host h1 could not be proven dead" in record.getMessage()


def test_alert_types_are_cloudstacks() -> None:
    assert (AlertType.HOST, AlertType.HOST.alert_name) == (7, "ALERT.COMPUTE.HOST")
    assert (AlertType.USERVM, AlertType.USERVM.alert_name) == (8, "ALERT.USERVM")
    assert (AlertType.MANAGEMENT_NODE.alert_name, AlertType.OOBM_AUTH_ERROR) == (
        "ALERT.MANAGEMENT",
        29,
    )
    assert (AlertType.HA_ACTION, AlertType.HA_ACTION.alert_name) == (30, "ALERT.HA.ACTION")
    assert all(alert_type.alert_name.startswith("ALERT.") for alert_type in AlertType)


async def test_generate_alert_is_an_async_command(app: Starlette, api: ApiClient) -> None:
    zone = await make_zone(api)
    pod = await make_pod(api, zone["id"])
    answer = await api.ok(
        "generateAlert", type=100, name="ALERT.CUSTOM", description="rack 4 is hot", podid=pod["id"]
    )
    job = await wait_job(api, answer["jobid"])
    assert (job["jobstatus"], job["jobresult"]) == (1, {"success": "true"})
    (shown,) = (await api.ok("listAlerts"))["alert"]
    assert (shown["type"], shown["name"], shown["description"]) == (
        100,
        "ALERT.CUSTOM",
        "rack 4 is hot",
    )
    async with app.state.runtime.db.read_transaction() as session:
        alert = await session.scalar(select(Alert).where(Alert.uuid == shown["id"]))
        assert alert is not None
        placed = await session.scalar(select(Pod).where(Pod.id == alert.pod_id))
        assert placed is not None
        assert placed.uuid == pod["id"]
        assert alert.zone_id == placed.zone_id
    (event,) = (await api.ok("listEvents", type="ALERT.GENERATE"))["event"]
    assert event["description"] == "Generating alert of type 100; name ALERT.CUSTOM"


async def test_generate_alert_keeps_cloudstacks_names(api: ApiClient) -> None:
    text = await api.fails("generateAlert", 431, type=7, name="ALERT.MINE", description="x")
    assert "parameter name" in text
    assert "There is a default alert having type 7 and name ALERT.COMPUTE.HOST" in text
    # The name of a default type may be given in any case; it is stored as CloudStack's.
    await api.ok("generateAlert", type=7, name="alert.compute.host", description="h1 is down")
    assert [a["name"] for a in (await api.ok("listAlerts"))["alert"]] == ["ALERT.COMPUTE.HOST"]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"name": "A", "description": "x"}, "type"),
        ({"type": "seven", "name": "A", "description": "x"}, "type"),
        ({"type": 1 << 15, "name": "A", "description": "x"}, "type"),
        ({"type": 100, "description": "x"}, "name"),
        ({"type": 100, "name": "A"}, "description"),
        ({"type": 100, "name": "A", "description": "x" * 1000}, "description"),
        ({"type": 100, "name": "A", "description": "x", "zoneid": UNKNOWN}, "zoneid"),
        ({"type": 100, "name": "A", "description": "x", "podid": UNKNOWN}, "podid"),
    ],
)
async def test_generate_alert_refuses_bad_input(
    api: ApiClient, params: dict[str, Any], parameter: str
) -> None:
    assert parameter in await api.fails("generateAlert", 431, **params)
    assert await listed(api) == []


async def test_generate_alert_refuses_a_pod_of_another_zone(api: ApiClient) -> None:
    zone1, zone2 = await make_zone(api, "zone1"), await make_zone(api, "zone2")
    pod = await make_pod(api, zone1["id"])
    text = await api.fails(
        "generateAlert",
        431,
        type=100,
        name="A",
        description="x",
        zoneid=zone2["id"],
        podid=pod["id"],
    )
    assert "parameter podid" in text
    assert await listed(api) == []


async def test_list_filters_and_pages(api: ApiClient, three_days: list[str]) -> None:
    day1, day2, day3 = three_days
    assert await listed(api) == [
        "fencing host h2 failed",
        "Unable to restart vm1: insufficient capacity",
        "host h1 could not be proven dead",
    ]
    assert await listed(api, type=7) == [
        "fencing host h2 failed",
        "host h1 could not be proven dead",
    ]
    assert await listed(api, name="ALERT.USERVM") == [
        "Unable to restart vm1: insufficient capacity"
    ]
    assert await listed(api, keyword="PROVEN") == ["host h1 could not be proven dead"]
    assert await listed(api, id=day2) == ["Unable to restart vm1: insufficient capacity"]
    page = await api.ok("listAlerts", page=2, pagesize=2)
    assert page["count"] == 3
    assert [a["id"] for a in page["alert"]] == [day1]
    assert await listed(api, type=8, name="ALERT.COMPUTE.HOST") == []
    assert await api.ok("listAlerts", id=UNKNOWN) == {}
    assert [a["id"] for a in (await api.ok("listAlerts", pagesize=-1))["alert"]] == [
        day3,
        day2,
        day1,
    ]


async def test_list_refuses_bad_filters(api: ApiClient) -> None:
    assert "parameter type" in await api.fails("listAlerts", 431, type="host")
    assert "parameter id" in await api.fails("listAlerts", 431, id="nope")


@pytest.mark.parametrize("command", ["archiveAlerts", "deleteAlerts"])
async def test_by_ids(api: ApiClient, three_days: list[str], command: str) -> None:
    day1, _, day3 = three_days
    await api.ok(command, ids=[day1, day3])
    assert await listed(api) == ["Unable to restart vm1: insufficient capacity"]
    # Gone from the listing, so no longer selectable: the whole request is refused.
    text = await api.fails(command, 431, ids=[three_days[1], day1])
    assert "parameter ids" in text
    assert day1 in text
    assert three_days[1] not in text
    assert await listed(api) == ["Unable to restart vm1: insufficient capacity"]


@pytest.mark.parametrize("command", ["archiveAlerts", "deleteAlerts"])
async def test_an_unknown_id_changes_nothing(
    api: ApiClient, three_days: list[str], command: str
) -> None:
    text = await api.fails(command, 431, ids=[three_days[0], UNKNOWN])
    assert "parameter ids" in text
    assert UNKNOWN in text
    assert len(await listed(api)) == 3


@pytest.mark.parametrize("command", ["archiveAlerts", "deleteAlerts"])
async def test_ids_must_match_the_other_criteria(
    api: ApiClient, three_days: list[str], command: str
) -> None:
    """An id of another type than the one given is refused, as in CloudStack."""
    assert "parameter ids" in await api.fails(command, 431, ids=[three_days[1]], type=7)
    await api.ok(command, ids=[three_days[0]], type=7)
    assert len(await listed(api)) == 2


@pytest.mark.parametrize("command", ["archiveAlerts", "deleteAlerts"])
async def test_by_type(api: ApiClient, three_days: list[str], command: str) -> None:
    await api.ok(command, type=7)
    assert await listed(api) == ["Unable to restart vm1: insufficient capacity"]
    await api.ok(command, type=7)  # nothing left of that type: not an error
    assert await listed(api, type=8) == ["Unable to restart vm1: insufficient capacity"]


@pytest.mark.parametrize("command", ["archiveAlerts", "deleteAlerts"])
async def test_by_dates(api: ApiClient, three_days: list[str], command: str) -> None:
    # Both bounds included; a date-only end date covers its whole day.
    await api.ok(command, startdate="2026-11-02", enddate="2026-11-02")
    assert await listed(api) == ["fencing host h2 failed", "host h1 could not be proven dead"]
    await api.ok(command, enddate="2026-11-01T09:30:00")
    assert await listed(api) == ["fencing host h2 failed"]
    await api.ok(command, type=8, startdate="2026-10-01", enddate="2026-12-01")
    assert await listed(api) == ["fencing host h2 failed"]


async def test_archived_alerts_are_kept_and_cannot_be_deleted(
    app: Starlette, api: ApiClient, three_days: list[str]
) -> None:
    await api.ok("archiveAlerts", ids=[three_days[0]])
    await api.ok("deleteAlerts", enddate="2026-12-01")
    assert await listed(api) == []
    async with app.state.runtime.db.read_transaction() as session:
        kept = (await session.scalars(select(Alert.uuid))).all()
    assert kept == [three_days[0]]


@pytest.mark.parametrize(
    ("command", "params", "parameter", "reason"),
    [
        ("archiveAlerts", {}, "ids", "either ids, type, startdate or enddate must be specified"),
        ("deleteAlerts", {}, "ids", "either ids, type or enddate must be specified"),
        ("deleteAlerts", {"startdate": "2026-11-01"}, "ids", "either ids, type or enddate"),
        ("archiveAlerts", {"type": 7, "startdate": "2026-11-01"}, "enddate", "with startdate"),
        ("deleteAlerts", {"type": "host"}, "type", ""),
        ("archiveAlerts", {"ids": "nope"}, "ids", ""),
        ("deleteAlerts", {"enddate": "yesterday"}, "enddate", ""),
    ],
)
async def test_archive_and_delete_refuse_bad_input(
    api: ApiClient,
    three_days: list[str],
    command: str,
    params: dict[str, Any],
    parameter: str,
    reason: str,
) -> None:
    text = await api.fails(command, 431, **params)
    assert f"parameter {parameter}" in text
    assert reason in text
    assert len(await listed(api)) == 3


async def test_only_root_admins(clients: Clients, three_days: list[str]) -> None:
    for client in (clients.d1admin, clients.alice):
        await client.fails("listAlerts", 531)
        await client.fails("archiveAlerts", 531, ids=three_days[:1])
        await client.fails("deleteAlerts", 531, type=7)
        await client.fails("generateAlert", 531, type=100, name="A", description="x")
    assert len(await listed(clients.admin)) == 3
