"""Resource tags: createTags, deleteTags and listTags, and who may tag what."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette

from altostratus.services.shared import tags
from tests.api.compute.test_affinity import create_group, settings
from tests.api.infrastructure.test_zones import UNKNOWN
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld, InsertedVm, insert_vm
from tests.support.jobs import run_job
from tests.support.world import Identity

__all__ = ["settings"]  # no job executor needed (tests.api.compute.test_affinity)


def tag_params(**pairs: str) -> dict[str, str]:
    """``tags[i].key``/``tags[i].value`` parameters for ``pairs``."""
    params: dict[str, str] = {}
    for index, (key, value) in enumerate(pairs.items()):
        params[f"tags[{index}].key"] = key
        params[f"tags[{index}].value"] = value
    return params


async def tag(
    client: ApiClient, resource_type: str, ids: list[str], **pairs: str
) -> dict[str, Any]:
    return await run_job(
        client,
        "createTags",
        resourcetype=resource_type,
        resourceids=",".join(ids),
        **tag_params(**pairs),
    )


async def listed_tags(client: ApiClient, **params: Any) -> list[tuple[str, str, str]]:
    answer = await client.ok("listTags", **params)
    return sorted((t["resourceid"], t["key"], t["value"]) for t in answer.get("tag", []))


async def alice_vms(
    app: Starlette, compute: ComputeWorld, identities: dict[str, Identity]
) -> tuple[InsertedVm, InsertedVm]:
    alice = identities["alice"]
    return (
        await insert_vm(app.state.runtime, compute, alice.account, "vm1"),
        await insert_vm(app.state.runtime, compute, alice.account, "vm2"),
    )


async def test_create_and_list(
    app: Starlette, compute: ComputeWorld, clients: Clients, identities: dict[str, Identity]
) -> None:
    alice = identities["alice"]
    vm1, vm2 = await alice_vms(app, compute, identities)
    answer = await clients.alice.ok(
        "createTags",
        resourcetype="UserVm",
        resourceids=f"{vm1.uuid},{vm2.uuid}",
        customer="acme",
        **tag_params(env="prod", team="web"),
    )
    job = await clients.alice.ok("queryAsyncJobResult", jobid=answer["jobid"])
    assert (job["jobstatus"], job["jobresult"]) == (1, {"success": "true"})
    listed = (await clients.alice.ok("listTags", resourceid=vm1.uuid, key="env"))["tag"]
    assert listed == [
        {
            "key": "env",
            "value": "prod",
            "resourcetype": "UserVm",
            "resourceid": vm1.uuid,
            "account": "alice",
            "domainid": alice.domain_id,
            "domain": "d1",
            "customer": "acme",
        }
    ]
    assert len(await listed_tags(clients.alice)) == 4
    assert await listed_tags(clients.alice, value="web") == sorted(
        [(vm1.uuid, "team", "web"), (vm2.uuid, "team", "web")]
    )
    assert len(await listed_tags(clients.alice, keyword="PRO")) == 2
    assert len(await listed_tags(clients.alice, customer="acme")) == 4
    assert await listed_tags(clients.alice, customer="other") == []
    assert len(await listed_tags(clients.alice, resourcetype="uservm")) == 4
    assert await listed_tags(clients.alice, resourcetype="Volume") == []
    await clients.alice.fails("listTags", 431, resourcetype="Hypervisor")
    page = await clients.alice.ok("listTags", page=2, pagesize=3)
    assert (page["count"], len(page["tag"])) == (4, 1)
    events = await clients.alice.ok("listEvents", type="CREATE_TAGS")
    assert sorted(event["resourceid"] for event in events["event"]) == sorted([vm1.uuid, vm2.uuid])


async def test_tags_of_and_delete_tags_of(
    app: Starlette, compute: ComputeWorld, clients: Clients, identities: dict[str, Identity]
) -> None:
    vm1, vm2 = await alice_vms(app, compute, identities)
    await tag(clients.alice, "UserVm", [vm1.uuid], b="2", a="1")
    async with app.state.runtime.db.transaction() as session:
        found = await tags.tags_of(session, "UserVm", [vm1.uuid, vm2.uuid])
        assert {uuid: [(t.key, t.value) for t in rows] for uuid, rows in found.items()} == {
            vm1.uuid: [("b", "2"), ("a", "1")],
            vm2.uuid: [],
        }
        await tags.delete_tags_of(session, "UserVm", vm1.uuid)
    assert await listed_tags(clients.alice) == []


async def test_bad_input_is_431_and_creates_nothing(
    app: Starlette, compute: ComputeWorld, clients: Clients, identities: dict[str, Identity]
) -> None:
    vm1, _ = await alice_vms(app, compute, identities)
    target = {"resourcetype": "UserVm", "resourceids": vm1.uuid}
    text = await clients.alice.fails(
        "createTags", 431, resourcetype="Hypervisor", resourceids=vm1.uuid, **tag_params(a="1")
    )
    assert "resourcetype" in text
    assert "UserVm" in text
    assert "tags" in await clients.alice.fails("createTags", 431, **target)
    text = await clients.alice.fails("createTags", 431, **target, **{"tags[0].key": "a"})
    assert "tags[0].value" in text
    text = await clients.alice.fails(
        "createTags",
        431,
        **target,
        **{"tags[0].key": "a", "tags[0].value": "1", "tags[1].key": "a", "tags[1].value": "2"},
    )
    assert "given twice" in text
    text = await clients.alice.fails(
        "createTags", 431, resourcetype="UserVm", resourceids="not-a-uuid", **tag_params(a="1")
    )
    assert "resourceids" in text
    text = await clients.alice.fails(
        "createTags", 431, resourcetype="UserVm", resourceids=UNKNOWN, **tag_params(a="1")
    )
    assert f"Unable to find UserVm with id {UNKNOWN}" in text
    await tag(clients.alice, "UserVm", [vm1.uuid], a="1")
    text = await clients.alice.fails("createTags", 431, **target, **tag_params(a="2"))
    assert "already has a tag with key a" in text
    assert await listed_tags(clients.alice) == [(vm1.uuid, "a", "1")]
    jobs = await clients.alice.ok("listAsyncJobs")
    assert jobs["count"] == 1


async def test_alice_cannot_tag_bobs_vm(
    app: Starlette, compute: ComputeWorld, clients: Clients, identities: dict[str, Identity]
) -> None:
    vm1, _ = await alice_vms(app, compute, identities)
    bobs = await insert_vm(app.state.runtime, compute, "bob", "bobs")
    text = await clients.alice.fails(
        "createTags",
        431,
        resourcetype="UserVm",
        resourceids=f"{vm1.uuid},{bobs.uuid}",
        **tag_params(owner="alice"),
    )
    assert f"Unable to find UserVm with id {bobs.uuid}" in text
    # All or nothing: her own VM was not tagged either.
    assert await listed_tags(clients.alice) == []
    await tag(clients.bob, "UserVm", [bobs.uuid], mine="yes")
    await clients.alice.fails("deleteTags", 431, resourcetype="UserVm", resourceids=bobs.uuid)
    assert await listed_tags(clients.alice, resourceid=bobs.uuid) == []
    assert await listed_tags(clients.alice, listall=True) == []
    assert await listed_tags(clients.bob) == [(bobs.uuid, "mine", "yes")]


async def test_admins_tag_for_the_owner(
    api: ApiClient,
    app: Starlette,
    compute: ComputeWorld,
    clients: Clients,
    identities: dict[str, Identity],
) -> None:
    vm1, _ = await alice_vms(app, compute, identities)
    await tag(clients.d1admin, "UserVm", [vm1.uuid], by="d1admin")
    await tag(api, "UserVm", [vm1.uuid], by_root="admin")
    # The tags belong to the VM's owner, who lists them as her own.
    assert await listed_tags(clients.alice) == sorted(
        [(vm1.uuid, "by", "d1admin"), (vm1.uuid, "by_root", "admin")]
    )
    assert await listed_tags(clients.d1admin) == []
    assert len(await listed_tags(clients.d1admin, listall=True)) == 2
    alice = identities["alice"]
    assert len(await listed_tags(api, account="alice", domainid=alice.domain_id)) == 2
    await clients.bob.fails("listTags", 431, account="alice", domainid=alice.domain_id)


async def test_shared_resources_are_531_for_users(
    api: ApiClient, compute: ComputeWorld, clients: Clients
) -> None:
    for resource_type, uuid in (
        ("Template", compute.template_id),
        ("Network", compute.network_id),
    ):
        text = await clients.alice.fails(
            "createTags", 531, resourcetype=resource_type, resourceids=uuid, **tag_params(a="1")
        )
        assert "belongs to another account" in text
        await tag(api, resource_type, [uuid], os="linux")
    assert len(await listed_tags(api)) == 2
    assert await listed_tags(clients.alice) == []


async def test_other_resource_types(clients: Clients) -> None:
    group = await create_group(clients.alice, "web")
    await tag(clients.alice, "affinitygroup", [group["id"]], tier="web")
    listed = (await clients.alice.ok("listTags"))["tag"]
    assert [(t["resourcetype"], t["resourceid"]) for t in listed] == [
        ("AffinityGroup", group["id"])
    ]
    await clients.bob.fails(
        "createTags",
        431,
        resourcetype="AffinityGroup",
        resourceids=group["id"],
        **tag_params(a="1"),
    )
    # Its tags go with it.
    await run_job(clients.alice, "deleteAffinityGroup", id=group["id"])
    assert await listed_tags(clients.alice) == []
    text = await clients.alice.fails(
        "createTags", 431, resourcetype="SSHKeyPair", resourceids=UNKNOWN, **tag_params(a="1")
    )
    assert "resourcetype" in text


async def test_delete_by_key_value_or_all(
    app: Starlette, compute: ComputeWorld, clients: Clients, identities: dict[str, Identity]
) -> None:
    vm1, vm2 = await alice_vms(app, compute, identities)
    both = [vm1.uuid, vm2.uuid]
    await tag(clients.alice, "UserVm", both, env="prod", team="web", tier="1")
    target = {"resourcetype": "UserVm", "resourceids": ",".join(both)}
    result = await run_job(clients.alice, "deleteTags", **target, **{"tags[0].key": "env"})
    assert result == {"success": "true"}
    assert {key for _, key, _ in await listed_tags(clients.alice)} == {"team", "tier"}
    # A value must match too when given.
    text = await clients.alice.fails(
        "deleteTags", 431, **target, **{"tags[0].key": "team", "tags[0].value": "db"}
    )
    assert "Unable to find any tags" in text
    await run_job(
        clients.alice,
        "deleteTags",
        resourcetype="UserVm",
        resourceids=vm1.uuid,
        **{"tags[0].key": "team", "tags[0].value": "web"},
    )
    assert await listed_tags(clients.alice) == sorted(
        [(vm1.uuid, "tier", "1"), (vm2.uuid, "team", "web"), (vm2.uuid, "tier", "1")]
    )
    await run_job(clients.alice, "deleteTags", **target)
    assert await listed_tags(clients.alice) == []
    await clients.alice.fails("deleteTags", 431, **target)
    events = await clients.alice.ok("listEvents", type="DELETE_TAGS")
    assert events["count"] == 5
