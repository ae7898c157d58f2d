"""Templates: registering, who sees which under each templatefilter, updating, deleting."""

from __future__ import annotations

from typing import Any

from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld
from tests.support.jobs import wait_job

UNKNOWN = "6f1d0c2e-1d7a-4a57-9d55-0d6f4a0c9e11"


async def register(
    client: ApiClient, compute: ComputeWorld, name: str, **params: Any
) -> dict[str, Any]:
    required = {
        "displaytext": name,
        # A path on the hosts is Ready at once (downloads: test_template_downloads.py).
        "url": f"file:///var/lib/images/{name}.qcow2",
        "format": "QCOW2",
        "hypervisor": "Simulator",
        "ostypeid": compute.os_type_id,
        "zoneid": compute.zone_id,
    }
    answer = await client.ok("registerTemplate", name=name, **{**required, **params})
    assert answer["count"] == 1
    template: dict[str, Any] = answer["template"][0]
    return template


async def listed(client: ApiClient, templatefilter: str, **params: Any) -> list[str]:
    answer = await client.ok("listTemplates", templatefilter=templatefilter, **params)
    return sorted(t["name"] for t in answer.get("template", []))


async def test_register_template_on_the_hosts_is_ready_at_once(
    clients: Clients, compute: ComputeWorld
) -> None:
    template = await register(
        clients.alice, compute, "alice-img", passwordenabled=True, sshkeyenabled=True
    )
    assert template["isready"] is True
    assert template["status"] == "Download Complete"
    assert template["zoneid"] == compute.zone_id
    assert template["zonename"] == "zone1"
    assert template["crossZones"] is False
    assert template["account"] == "alice"
    assert template["ispublic"] is False
    assert template["passwordenabled"] is True
    assert template["sshkeyenabled"] is True
    assert template["templatetype"] == "USER"
    assert template["format"] == "QCOW2"
    assert template["hypervisor"] == "Simulator"
    assert template["ostypeid"] == compute.os_type_id
    assert template["ostypename"]
    events = await clients.alice.ok("listEvents", type="TEMPLATE.CREATE")
    assert events["count"] == 1


async def test_register_template_cross_zone_and_file_urls(
    api: ApiClient, compute: ComputeWorld
) -> None:
    everywhere = await register(api, compute, "everywhere", zoneid="-1")
    assert everywhere["crossZones"] is True
    assert "zoneid" not in everywhere
    local = await register(
        api, compute, "local", url="file:///var/lib/images/local.raw", format="raw", zoneid=None
    )
    assert local["crossZones"] is True
    assert local["format"] == "RAW"
    in_zone = await api.ok(
        "listTemplates", templatefilter="self", zoneid=compute.zone_id, name="everywhere"
    )
    assert in_zone["template"][0]["zoneid"] == compute.zone_id


async def test_register_template_rejects_bad_input(clients: Clients, compute: ComputeWorld) -> None:
    alice = clients.alice
    for url in ("ftp://host/x.qcow2", "file://relative/x", "http:///nohost", "images/x.qcow2"):
        text = await alice.fails(
            "registerTemplate",
            431,
            name="bad",
            displaytext="bad",
            url=url,
            format="QCOW2",
            hypervisor="KVM",
            ostypeid=compute.os_type_id,
        )
        assert "url" in text
    base = {
        "name": "bad",
        "displaytext": "bad",
        "url": "http://h/x",
        "format": "QCOW2",
        "hypervisor": "KVM",
        "ostypeid": compute.os_type_id,
    }
    assert "format" in await alice.fails("registerTemplate", 431, **{**base, "format": "ISO"})
    assert "hypervisor" in await alice.fails(
        "registerTemplate", 431, **{**base, "hypervisor": "Bochs"}
    )
    assert "ostypeid" in await alice.fails("registerTemplate", 431, **{**base, "ostypeid": UNKNOWN})
    assert "zoneid" in await alice.fails("registerTemplate", 431, **{**base, "zoneid": UNKNOWN})
    assert "zoneid" in await alice.fails("registerTemplate", 431, **{**base, "zoneid": "zone1"})
    await alice.fails("registerTemplate", 431, **{k: v for k, v in base.items() if k != "url"})


async def test_only_admins_publish_and_only_root_admins_feature(
    clients: Clients, compute: ComputeWorld
) -> None:
    await clients.alice.fails(
        "registerTemplate",
        531,
        name="pub",
        displaytext="pub",
        url="http://h/x",
        format="QCOW2",
        hypervisor="KVM",
        ostypeid=compute.os_type_id,
        ispublic=True,
    )
    shared = await register(clients.d1admin, compute, "d1-public", ispublic=True)
    assert shared["ispublic"] is True
    await clients.d1admin.fails(
        "registerTemplate",
        531,
        name="feat",
        displaytext="feat",
        url="http://h/x",
        format="QCOW2",
        hypervisor="KVM",
        ostypeid=compute.os_type_id,
        ispublic=True,
        isfeatured=True,
    )


async def test_template_filters(api: ApiClient, clients: Clients, compute: ComputeWorld) -> None:
    # The compute world has "Simulated Linux": public and featured, owned by admin.
    await register(api, compute, "community", ispublic=True)
    await register(api, compute, "admin-private")
    await register(clients.alice, compute, "alice-private")
    await register(clients.carol, compute, "carol-private")
    alice, bob, d1admin = clients.alice, clients.bob, clients.d1admin

    assert await listed(alice, "featured") == ["Simulated Linux"]
    assert await listed(alice, "community") == ["community"]
    assert await listed(alice, "self") == ["alice-private"]
    assert await listed(alice, "selfexecutable") == ["alice-private"]
    assert await listed(alice, "sharedexecutable") == []
    assert await listed(alice, "executable") == ["Simulated Linux", "alice-private", "community"]
    assert await listed(bob, "executable") == ["Simulated Linux", "community"]
    assert await listed(bob, "self") == []
    await alice.fails("listTemplates", 431, templatefilter="all")
    await alice.fails("listTemplates", 431, templatefilter="mine")
    await alice.fails("listTemplates", 431)

    # A domain admin sees its subtree's private templates, never other domains'.
    assert await listed(d1admin, "all") == [
        "Simulated Linux",
        "alice-private",
        "carol-private",
        "community",
    ]
    assert await listed(d1admin, "self") == []
    assert await listed(d1admin, "self", listall=True) == ["alice-private", "carol-private"]
    assert len(await listed(api, "all")) == 5
    assert await listed(api, "executable", keyword="PRIVATE") == [
        "admin-private",
        "alice-private",
        "carol-private",
    ]
    assert await listed(api, "all", hypervisor="KVM") == []


async def test_list_templates_by_zone_includes_cross_zone_ones(
    api: ApiClient, compute: ComputeWorld
) -> None:
    await register(api, compute, "everywhere", zoneid="-1")
    zone = await api.ok(
        "createZone", name="zone2", dns1="8.8.8.8", internaldns1="10.0.0.2", networktype="Basic"
    )
    zone2 = zone["zone"]["id"]
    await register(api, compute, "zone2-only", zoneid=zone2)
    assert await listed(api, "self", zoneid=compute.zone_id) == ["Simulated Linux", "everywhere"]
    # The compute world's template is cross-zone too.
    assert await listed(api, "self", zoneid=zone2) == [
        "Simulated Linux",
        "everywhere",
        "zone2-only",
    ]
    await api.fails("listTemplates", 431, templatefilter="self", zoneid=UNKNOWN)


async def test_update_template(clients: Clients, compute: ComputeWorld) -> None:
    template = await register(clients.alice, compute, "alice-img")
    other_os = await clients.alice.ok("listOsTypes", keyword="Debian GNU/Linux 12")
    os_id = other_os["ostype"][0]["id"]
    updated = await clients.alice.ok(
        "updateTemplate",
        id=template["id"],
        name="renamed",
        displaytext="Renamed",
        ostypeid=os_id,
        passwordenabled=True,
        bootable=False,
    )
    shown = updated["template"]
    assert (shown["name"], shown["displaytext"]) == ("renamed", "Renamed")
    assert shown["ostypeid"] == os_id
    assert shown["ostypename"] == "Debian GNU/Linux 12 (64-bit)"
    assert shown["passwordenabled"] is True
    assert shown["bootable"] is False
    # Alice's domain admin manages it; bob cannot see it; nobody but admins edits public ones.
    await clients.d1admin.ok("updateTemplate", id=template["id"], name="by-admin")
    await clients.bob.fails("updateTemplate", 431, id=template["id"], name="x")
    await clients.alice.fails("updateTemplate", 531, id=compute.template_id, name="mine")
    await clients.alice.fails("updateTemplate", 431, id=template["id"], ostypeid=UNKNOWN)


async def test_delete_template(clients: Clients, compute: ComputeWorld) -> None:
    template = await register(clients.alice, compute, "alice-img")
    await clients.bob.fails("deleteTemplate", 431, id=template["id"])
    await clients.alice.fails("deleteTemplate", 531, id=compute.template_id)
    answer = await clients.alice.ok("deleteTemplate", id=template["id"])
    assert "jobid" in answer
    job = await clients.alice.ok("queryAsyncJobResult", jobid=answer["jobid"])
    assert job["jobstatus"] == 1
    assert await listed(clients.alice, "self") == []
    await clients.alice.fails("deleteTemplate", 431, id=template["id"])
    events = await clients.alice.ok("listEvents", type="TEMPLATE.DELETE")
    assert events["count"] == 1


async def test_template_limit(api: ApiClient, clients: Clients, compute: ComputeWorld) -> None:
    alice = await api.ok("listAccounts", name="alice", listall=True)
    await api.ok(
        "updateResourceLimit",
        account="alice",
        domainid=alice["account"][0]["domainid"],
        resourcetype=4,
        max=1,
    )
    await register(clients.alice, compute, "first")
    text = await clients.alice.fails(
        "registerTemplate",
        532,
        name="second",
        displaytext="second",
        url="http://h/x",
        format="QCOW2",
        hypervisor="KVM",
        ostypeid=compute.os_type_id,
    )
    assert "template" in text


async def test_executable_for_another_account_includes_the_public_templates(
    api: ApiClient, clients: Clients, compute: ComputeWorld
) -> None:
    """An admin listing ``executable`` for an account sees what that account may deploy:
    the public (featured or not) templates and its own, not other accounts' private ones;
    and deploying one of them for that account works."""
    await register(api, compute, "community", ispublic=True)
    await register(api, compute, "admin-private")
    await register(clients.alice, compute, "alice-private")
    await register(clients.carol, compute, "carol-private")
    alice = (await api.ok("listAccounts", name="alice", listall=True))["account"][0]
    for_alice = {"account": "alice", "domainid": alice["domainid"]}
    usable = ["Simulated Linux", "alice-private", "community"]
    assert await listed(api, "executable", **for_alice) == usable
    assert await listed(clients.d1admin, "executable", **for_alice) == usable
    assert await listed(api, "featured", **for_alice) == ["Simulated Linux"]
    assert await listed(api, "community", **for_alice) == ["community"]
    # Owned-only filters stay owned-only.
    assert await listed(api, "self", **for_alice) == ["alice-private"]
    assert await listed(api, "selfexecutable", **for_alice) == ["alice-private"]
    # By domain: the public ones and those owned in that domain.
    assert await listed(api, "executable", domainid=alice["domainid"]) == [
        "Simulated Linux",
        "alice-private",
        "community",
    ]
    # Errors as for every listing naming an account.
    await api.fails("listTemplates", 431, templatefilter="executable", account="alice")
    await api.fails(
        "listTemplates",
        431,
        templatefilter="executable",
        account="nobody",
        domainid=alice["domainid"],
    )
    # A user may not list for another account (it is not found, not forbidden).
    for other in (clients.carol, clients.bob):
        text = await other.fails("listTemplates", 431, templatefilter="executable", **for_alice)
        assert "Unable to find account" in text
    # What the listing offers deploys for that account.
    featured = await api.ok(
        "listTemplates", templatefilter="executable", name="Simulated Linux", **for_alice
    )
    answer = await api.ok(
        "deployVirtualMachine",
        zoneid=compute.zone_id,
        serviceofferingid=compute.small_offering_id,
        templateid=featured["template"][0]["id"],
        startvm=False,
        **for_alice,
    )
    job = await wait_job(api, answer["jobid"])
    assert job["jobresult"]["virtualmachine"]["account"] == "alice"
