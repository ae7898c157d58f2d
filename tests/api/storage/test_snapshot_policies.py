"""Snapshot policies: what a user sets up, and the scheduler that takes and prunes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from starlette.applications import Starlette

from altostratus.core.worker import run_round
from altostratus.db.models import SnapshotPolicy
from altostratus.services.storage.snapshot_scheduler import SnapshotScheduler
from tests.api.storage.test_snapshots import snapshot
from tests.api.storage.test_volumes import UNKNOWN, create_volume
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld
from tests.support.jobs import run_job, wait_job
from tests.support.world import Identity

DAILY = {"intervaltype": "DAILY", "schedule": "30:02", "timezone": "UTC", "maxsnaps": 2}


async def ready_volume(client: ApiClient, compute: ComputeWorld, name: str = "data") -> str:
    """A Ready data disk (restored from a snapshot): policies need one with data."""
    blank = await create_volume(client, compute, f"{name}-blank")
    taken = await snapshot(client, blank["id"])
    restored = await run_job(client, "createVolume", name=name, snapshotid=taken["id"])
    volume_id: str = restored["volume"]["id"]
    return volume_id


def scheduler(app: Starlette) -> SnapshotScheduler:
    runtime = app.state.runtime
    return SnapshotScheduler(runtime.db, runtime.deps)


async def policy_rows(app: Starlette) -> int:
    async with app.state.runtime.db.transaction(write=False) as session:
        return int(await session.scalar(select(func.count()).select_from(SnapshotPolicy)) or 0)


async def scheduled_snapshots(
    admin: ApiClient, client: ApiClient, volume_id: str
) -> list[dict[str, Any]]:
    """The volume's snapshots the scheduler took, once every one of its jobs ended (the
    scheduler's jobs are the system's: the root admin waits for them)."""
    jobs = await admin.ok("listAsyncJobs", listall=True)
    for job in jobs.get("asyncjobs", []):
        if job.get("jobinstancetype") == "Snapshot":
            await wait_job(admin, job["jobid"])
    listed = await client.ok("listSnapshots", volumeid=volume_id)
    return [s for s in listed.get("snapshot", []) if s["snapshottype"] != "MANUAL"]


async def test_a_policy_is_created_listed_and_changed_per_interval(
    clients: Clients, compute: ComputeWorld
) -> None:
    alice = clients.alice
    volume_id = await ready_volume(alice, compute)
    created = (await alice.ok("createSnapshotPolicy", volumeid=volume_id, **DAILY))[
        "snapshotpolicy"
    ]
    assert created["volumeid"] == volume_id
    assert created["intervaltype"] == 1
    assert (created["schedule"], created["timezone"], created["maxsnaps"]) == ("30:02", "UTC", 2)
    assert created["fordisplay"] is True

    # The same interval again changes that policy (what Ansible's module relies on).
    changed = await alice.ok(
        "createSnapshotPolicy", volumeid=volume_id, **{**DAILY, "schedule": "00:23", "maxsnaps": 5}
    )
    assert changed["snapshotpolicy"]["id"] == created["id"]
    hourly = await alice.ok(
        "createSnapshotPolicy",
        volumeid=volume_id,
        intervaltype="hourly",
        schedule="15",
        timezone="Europe/Berlin",
        maxsnaps=3,
    )
    assert hourly["snapshotpolicy"]["intervaltype"] == 0

    listed = await alice.ok("listSnapshotPolicies", volumeid=volume_id)
    assert listed["count"] == 2
    by_interval = {p["intervaltype"]: p for p in listed["snapshotpolicy"]}
    assert (by_interval[1]["schedule"], by_interval[1]["maxsnaps"]) == ("00:23", 5)
    assert by_interval[0]["timezone"] == "Europe/Berlin"
    one = await alice.ok("listSnapshotPolicies", id=created["id"])
    assert [p["id"] for p in one["snapshotpolicy"]] == [created["id"]]
    assert (await alice.ok("listEvents", type="SNAPSHOTPOLICY.CREATE"))["count"] == 3

    assert await alice.ok(
        "deleteSnapshotPolicies", ids=f"{created['id']},{hourly['snapshotpolicy']['id']}"
    ) == {"success": "true"}
    assert await alice.ok("listSnapshotPolicies", volumeid=volume_id) == {}


#: Bad input, and the parameter the 431 names.
BAD: list[tuple[dict[str, Any], str]] = [
    ({"intervaltype": "YEARLY"}, "intervaltype"),
    ({"schedule": "30"}, "schedule"),
    ({"schedule": "61:02"}, "schedule"),
    ({"schedule": "30:24"}, "schedule"),
    ({"intervaltype": "WEEKLY", "schedule": "00:10:8"}, "schedule"),
    ({"intervaltype": "MONTHLY", "schedule": "00:10:29"}, "schedule"),
    ({"intervaltype": "HOURLY", "schedule": "a"}, "schedule"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"maxsnaps": 0}, "maxsnaps"),
    ({"maxsnaps": 9}, "maxsnaps"),
    ({"volumeid": UNKNOWN}, "volumeid"),
]


async def test_bad_policies_are_refused_naming_the_parameter(
    app: Starlette, clients: Clients, compute: ComputeWorld
) -> None:
    alice = clients.alice
    volume_id = await ready_volume(alice, compute)
    for params, named in BAD:
        text = await alice.fails(
            "createSnapshotPolicy", 431, **{"volumeid": volume_id, **DAILY, **params}
        )
        assert named in text, (params, text)
    assert await policy_rows(app) == 0


async def test_who_may_set_and_see_a_volumes_policies(
    app: Starlette, clients: Clients, compute: ComputeWorld
) -> None:
    alice, bob = clients.alice, clients.bob
    volume_id = await ready_volume(alice, compute)
    blank = await create_volume(alice, compute, "never-attached")
    assert "not Ready" in await alice.fails(
        "createSnapshotPolicy", 431, volumeid=blank["id"], **DAILY
    )
    assert "volumeid" in await bob.fails("createSnapshotPolicy", 431, volumeid=volume_id, **DAILY)
    policy = (await alice.ok("createSnapshotPolicy", volumeid=volume_id, **DAILY))["snapshotpolicy"]
    assert await bob.ok("listSnapshotPolicies") == {}
    await bob.fails("listSnapshotPolicies", 431, volumeid=volume_id)
    await bob.fails("deleteSnapshotPolicies", 431, id=policy["id"])
    await bob.fails("updateSnapshotPolicy", 431, id=policy["id"], fordisplay=False)
    # One policy among ids the caller may not delete: none is deleted.
    await alice.fails("deleteSnapshotPolicies", 431, ids=f"{policy['id']},{UNKNOWN}")
    await alice.fails("deleteSnapshotPolicies", 431)
    await alice.fails("deleteSnapshotPolicies", 431, id=policy["id"], ids=policy["id"])
    assert await policy_rows(app) == 1

    # fordisplay is an admin's: a user cannot hide a policy, an admin can, from users.
    assert (await alice.ok("updateSnapshotPolicy", id=policy["id"], fordisplay=False))[
        "snapshotpolicy"
    ]["fordisplay"] is True
    await clients.d1admin.ok("updateSnapshotPolicy", id=policy["id"], fordisplay=False)
    assert await alice.ok("listSnapshotPolicies") == {}
    assert (await clients.d1admin.ok("listSnapshotPolicies"))["count"] == 1


async def test_the_scheduler_takes_due_snapshots_once_and_keeps_maxsnaps(
    api: ApiClient, app: Starlette, clients: Clients, compute: ComputeWorld
) -> None:
    alice = clients.alice
    volume_id = await ready_volume(alice, compute)
    await alice.ok("createSnapshotPolicy", volumeid=volume_id, **DAILY)
    rounds = scheduler(app)
    start = datetime.now(UTC).replace(hour=2, minute=30, second=0, microsecond=0)

    assert not (await rounds.tick(now=start - timedelta(days=1) - timedelta(hours=1))).changed
    taken: list[str] = []
    for day in range(1, 4):
        moment = start + timedelta(days=day, minutes=1)
        tick = await rounds.tick(now=moment)
        assert "1 scheduled snapshot(s) started" in tick.sentence
        # The same moment again: the policy already moved on to the next day.
        assert "0 scheduled snapshot(s) started" in (await rounds.tick(now=moment)).sentence
        done = await scheduled_snapshots(api, alice, volume_id)
        (new,) = {s["id"] for s in done} - set(taken)
        taken.append(new)
        assert all(s["snapshottype"] == "DAILY" and s["intervaltype"] == "DAILY" for s in done)
        assert all(s["state"] == "BackedUp" for s in done)

    # Three taken, two kept: a round once the third is backed up deletes the oldest
    # (the repeated round above may already have).
    await rounds.tick(now=start + timedelta(days=3, minutes=2))
    kept = await scheduled_snapshots(api, alice, volume_id)
    assert sorted(s["id"] for s in kept) == sorted(taken[1:])
    assert (await alice.ok("listEvents", type="SNAPSHOT.DELETE"))["count"] == 1
    # A manual snapshot is never a policy's to delete.
    manual = await snapshot(alice, volume_id)
    assert (
        "0 beyond maxsnaps"
        in (await rounds.tick(now=start + timedelta(days=3, minutes=3))).sentence
    )
    listed = await alice.ok("listSnapshots", volumeid=volume_id)
    assert manual["id"] in {s["id"] for s in listed["snapshot"]}


async def test_a_policy_over_the_snapshot_limit_says_why_and_takes_nothing(
    api: ApiClient,
    app: Starlette,
    clients: Clients,
    compute: ComputeWorld,
    identities: dict[str, Identity],
) -> None:
    alice = clients.alice
    volume_id = await ready_volume(alice, compute)
    await alice.ok("createSnapshotPolicy", volumeid=volume_id, **DAILY)
    await api.ok(
        "updateResourceLimit",
        account="alice",
        domainid=identities["alice"].domain_id,
        resourcetype=3,
        max=1,
    )
    due = datetime.now(UTC) + timedelta(days=2)
    assert "0 scheduled snapshot(s) started" in (await scheduler(app).tick(now=due)).sentence
    events = await alice.ok("listEvents", type="SNAPSHOT.CREATE", level="ERROR")
    assert "not taken" in events["event"][0]["description"]


async def test_a_deleted_volume_takes_its_policies_with_it(
    app: Starlette, clients: Clients, compute: ComputeWorld
) -> None:
    alice = clients.alice
    volume_id = await ready_volume(alice, compute)
    await alice.ok("createSnapshotPolicy", volumeid=volume_id, **DAILY)
    await alice.ok("deleteVolume", id=volume_id)
    assert await alice.ok("listSnapshotPolicies") == {}
    tick = await run_round(scheduler(app))
    assert "1 policy(ies) of deleted volumes removed" in tick.sentence
    assert await policy_rows(app) == 0


async def test_an_account_with_policies_can_be_deleted(
    api: ApiClient,
    app: Starlette,
    clients: Clients,
    compute: ComputeWorld,
    identities: dict[str, Identity],
) -> None:
    alice = clients.alice
    volume_id = await ready_volume(alice, compute)
    await alice.ok("createSnapshotPolicy", volumeid=volume_id, **DAILY)
    await run_job(api, "deleteAccount", id=identities["alice"].account_id)
    assert await policy_rows(app) == 0


async def test_the_most_a_policy_keeps_is_an_admins_setting(
    api: ApiClient, clients: Clients, compute: ComputeWorld
) -> None:
    volume_id = await ready_volume(clients.alice, compute)
    await api.ok("updateConfiguration", name="snapshot.max.daily", value="20")
    policy = await clients.alice.ok(
        "createSnapshotPolicy", volumeid=volume_id, **{**DAILY, "maxsnaps": 20}
    )
    assert policy["snapshotpolicy"]["maxsnaps"] == 20
    assert "snapshot.max.daily" in await clients.alice.fails(
        "createSnapshotPolicy", 431, volumeid=volume_id, **{**DAILY, "maxsnaps": 21}
    )
