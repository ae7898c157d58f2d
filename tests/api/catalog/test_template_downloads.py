"""registerTemplate downloads the image into the image store (a loopback HTTP source):
its states and status, its size from the bytes, the checksum verified, errors named;
and a deploy from it needs no rootdisksize."""

from __future__ import annotations

import asyncio
import hashlib
import os
import struct
import time
from typing import Any

from starlette.applications import Starlette

from tests.api.compute.vm_support import deploy, hosts_up
from tests.api.storage.test_image_stores import add_s3_store
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld
from tests.support.image_server import ImageServer
from tests.support.seaweedfs import SeaweedFs

GIB = 1024**3


def qcow2(virtual: int, payload: int = 200_000) -> bytes:
    """A QCOW2 header saying ``virtual`` bytes, then filler: what a download reads."""
    header = b"QFI\xfb" + struct.pack(">I", 3) + bytes(16) + struct.pack(">Q", virtual)
    return header + os.urandom(payload)


async def register(api: ApiClient, compute: ComputeWorld, url: str, **params: Any) -> str:
    answer = await api.ok(
        "registerTemplate",
        name=params.pop("name", "downloaded"),
        displaytext="downloaded",
        url=url,
        format=params.pop("format", "QCOW2"),
        hypervisor="Simulator",
        ostypeid=compute.os_type_id,
        zoneid=compute.zone_id,
        **params,
    )
    (template,) = answer["template"]
    assert template["isready"] is False
    assert template["status"] == "Downloading"
    return str(template["id"])


async def shown(api: ApiClient, template_id: str, kind: str = "template") -> dict[str, Any]:
    answer = await api.ok(f"list{kind.title()}s", **{f"{kind}filter": "self"}, id=template_id)
    template: dict[str, Any] = answer[kind][0]
    return template


async def settled(
    api: ApiClient, template_id: str, within: float = 30, kind: str = "template"
) -> dict[str, Any]:
    """The template (or ISO) once its download ended, ready or in error."""
    deadline = time.monotonic() + within
    while True:
        template = await shown(api, template_id, kind)
        if template["isready"] or template["status"].startswith("Download Error"):
            return template
        assert time.monotonic() < deadline, f"still downloading after {within}s: {template}"
        await asyncio.sleep(0.1)


async def test_download_with_length_and_sha256_then_deploy_without_rootdisksize(
    app: Starlette, api: ApiClient, compute: ComputeWorld, images: ImageServer
) -> None:
    data = qcow2(virtual=3 * GIB)
    images.serve("/linux.qcow2", data)
    checksum = "{SHA-256}" + hashlib.sha256(data).hexdigest()
    template_id = await register(api, compute, images.url("/linux.qcow2"), checksum=checksum)
    template = await settled(api, template_id)
    assert template["isready"] is True
    assert template["status"] == "Download Complete"
    assert template["size"] == 3 * GIB, "the virtual size from the QCOW2 header"
    assert template["physicalsize"] == len(data)
    assert template["checksum"] == checksum
    executable = await api.ok("listTemplates", templatefilter="executable", id=template_id)
    assert executable["count"] == 1

    world = await hosts_up(app, compute)
    vm = await deploy(api, world, templateid=template_id)
    root = (await api.ok("listVolumes", virtualmachineid=vm["id"], type="ROOT"))["volume"][0]
    assert root["size"] == 3 * GIB


async def test_download_without_length_into_s3_with_bare_md5(
    api: ApiClient, compute: ComputeWorld, images: ImageServer, seaweedfs: SeaweedFs
) -> None:
    store = await add_s3_store(api, seaweedfs, "images", "downloads-s3")
    data = os.urandom(300_000)
    images.serve("/disk.raw", data, length=False)
    template_id = await register(
        api, compute, images.url("/disk.raw"), format="RAW", checksum=hashlib.md5(data).hexdigest()
    )
    template = await settled(api, template_id)
    assert template["isready"] is True
    assert (template["size"], template["physicalsize"]) == (len(data), len(data))
    assert template["checksum"] == "{MD5}" + hashlib.md5(data).hexdigest()
    # The store holds it now: it cannot be removed.
    text = await api.fails("deleteImageStore", 536, id=store["id"])
    assert "holds 1 template" in text


async def test_progress_while_the_source_is_slow(
    api: ApiClient, compute: ComputeWorld, images: ImageServer
) -> None:
    data = qcow2(virtual=GIB, payload=400_000)
    slow = images.serve("/slow.qcow2", data, pause_after=len(data) // 2)
    template_id = await register(api, compute, images.url("/slow.qcow2"))
    deadline = time.monotonic() + 30
    while not (template := await shown(api, template_id))["status"].endswith("% Downloaded"):
        assert time.monotonic() < deadline, template
        await asyncio.sleep(0.05)
    assert template["isready"] is False
    percent = int(template["status"].split("%")[0])
    assert 0 <= percent < 100
    executable = await api.ok("listTemplates", templatefilter="executable", id=template_id)
    assert executable == {}, "not launchable before it is complete"
    slow.resume.set()
    assert (await settled(api, template_id))["isready"] is True


async def test_errors_name_their_cause(
    api: ApiClient, compute: ComputeWorld, images: ImageServer
) -> None:
    data = qcow2(virtual=GIB)
    images.serve("/broken.qcow2", data, break_after=len(data) // 2)
    images.serve("/wrong.qcow2", data)
    missing = await register(api, compute, images.url("/missing.qcow2"), name="missing")
    broken = await register(api, compute, images.url("/broken.qcow2"), name="broken")
    wrong = await register(
        api, compute, images.url("/wrong.qcow2"), name="wrong", checksum="{MD5}" + "0" * 32
    )
    expected = {
        missing: "HTTP 404",
        broken: f"connection broken after {len(data) // 2}",
        wrong: "checksum mismatch",
    }
    for template_id, cause in expected.items():
        template = await settled(api, template_id)
        assert template["isready"] is False
        assert template["status"].startswith("Download Error: ")
        assert cause in template["status"]
        assert template.get("size") is None


async def test_bad_checksums_are_refused(api: ApiClient, compute: ComputeWorld) -> None:
    for checksum in ("{MD5}abc", "{CRC32}" + "0" * 8, "not hex", "{SHA-256}" + "0" * 32):
        text = await api.fails(
            "registerTemplate",
            431,
            name="bad",
            displaytext="bad",
            url="http://127.0.0.1:9/x.qcow2",
            format="QCOW2",
            hypervisor="Simulator",
            ostypeid=compute.os_type_id,
            checksum=checksum,
        )
        assert "checksum" in text
    assert await api.ok("listTemplates", templatefilter="self", name="bad") == {}


async def test_a_store_that_cannot_be_reached_is_named(
    api: ApiClient, compute: ComputeWorld, images: ImageServer
) -> None:
    await api.ok(
        "addImageStoreS3",
        bucket="unreachable",
        endpoint="http://127.0.0.1:9",
        accesskey="a",
        secretkey="s",
        maxerrorretry=0,
        zoneid=compute.zone_id,
    )
    images.serve("/img.qcow2", qcow2(virtual=GIB))
    template = await settled(api, await register(api, compute, images.url("/img.qcow2")))
    assert template["status"].startswith("Download Error: image store: ")
    assert template["isready"] is False
