"""ISOs: registered on the templates' download path, listed and deleted by their own
commands; the template commands never see them."""

from __future__ import annotations

import hashlib
import os

from tests.api.catalog.test_template_downloads import settled
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld
from tests.support.image_server import ImageServer
from tests.support.jobs import wait_job


async def test_register_download_list_delete(
    api: ApiClient, compute: ComputeWorld, images: ImageServer
) -> None:
    data = os.urandom(100_000)
    images.serve("/tools.iso", data)
    answer = await api.ok(
        "registerIso",
        name="tools",
        url=images.url("/tools.iso"),
        ostypeid=compute.os_type_id,
        zoneid=compute.zone_id,
        checksum="{SHA-256}" + hashlib.sha256(data).hexdigest(),
    )
    (iso,) = answer["iso"]
    assert (iso["isready"], iso["format"], iso["status"]) == (False, "ISO", "Downloading")
    done = await settled(api, iso["id"], kind="iso")
    assert done["isready"] is True
    assert (done["size"], done["physicalsize"]) == (len(data), len(data))

    assert [i["name"] for i in (await api.ok("listIsos"))["iso"]] == ["tools"]
    assert (await api.ok("listIsos", isofilter="executable", id=iso["id"]))["count"] == 1
    assert await api.ok("listTemplates", templatefilter="self", name="tools") == {}
    await api.fails("deleteTemplate", 431, id=iso["id"])
    await api.fails("deleteIso", 431, id=compute.template_id)
    text = await api.fails(
        "deployVirtualMachine",
        431,
        templateid=iso["id"],
        zoneid=compute.zone_id,
        serviceofferingid=compute.small_offering_id,
    )
    assert "templateid" in text

    job = await api.ok("deleteIso", id=iso["id"])
    assert (await wait_job(api, job["jobid"]))["jobstatus"] == 1
    assert await api.ok("listIsos") == {}
    events = await api.ok("listEvents", type="ISO.CREATE")
    assert events["count"] == 1


async def test_an_iso_on_the_hosts_and_bad_input(api: ApiClient, compute: ComputeWorld) -> None:
    answer = await api.ok(
        "registerIso", name="local", url="file:///isos/x.iso", ostypeid=compute.os_type_id
    )
    assert answer["iso"][0]["isready"] is True
    assert answer["iso"][0]["crossZones"] is True
    base = {"name": "bad", "url": "http://127.0.0.1:9/x.iso", "ostypeid": compute.os_type_id}
    assert "url" in await api.fails("registerIso", 431, **{**base, "url": "ftp://h/x.iso"})
    assert "checksum" in await api.fails("registerIso", 431, **base, checksum="{MD5}12")
    assert "isofilter" in await api.fails("listIsos", 431, isofilter="mine")
    assert (await api.ok("listIsos"))["count"] == 1
