"""Image stores: adding S3 ones (a real SeaweedFS) and the local one, listing, read-only,
deleting; their keys are stored encrypted and never shown."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from altostratus.db.models import ImageStore
from altostratus.runtime import Runtime
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld
from tests.support.seaweedfs import SeaweedFs

UNKNOWN = "6f1d0c2e-1d7a-4a57-9d55-0d6f4a0c9e11"


def s3_details(weed: SeaweedFs, bucket: str) -> dict[str, str]:
    """``addImageStore``'s details map in CloudStack's key/value spelling."""
    given = {
        "bucket": bucket,
        "endpoint": weed.endpoint,
        "accesskey": weed.access_key,
        "secretkey": weed.secret_key,
    }
    params: dict[str, str] = {}
    for index, (key, value) in enumerate(given.items()):
        params[f"details[{index}].key"] = key
        params[f"details[{index}].value"] = value
    return params


async def add_s3_store(
    api: ApiClient, weed: SeaweedFs, name: str, bucket: str, **params: Any
) -> dict[str, Any]:
    answer = await api.ok(
        "addImageStore", name=name, provider="S3", **s3_details(weed, bucket), **params
    )
    store: dict[str, Any] = answer["imagestore"]
    return store


async def test_add_list_update_delete(
    app: Starlette, api: ApiClient, compute: ComputeWorld, seaweedfs: SeaweedFs
) -> None:
    region = await add_s3_store(api, seaweedfs, "region-store", "region-images")
    assert region["providername"] == "S3"
    assert region["scope"] == "REGION"
    assert region["protocol"] == "http"
    assert region["url"] == f"{seaweedfs.endpoint}/region-images"
    assert region["readonly"] is False
    assert "zoneid" not in region
    zonal = (
        await api.ok(
            "addImageStoreS3",
            accesskey=seaweedfs.access_key,
            secretkey=seaweedfs.secret_key,
            endpoint=seaweedfs.endpoint.removeprefix("http://"),
            usehttps=False,
            bucket="zone-images",
            zoneid=compute.zone_id,
        )
    )["imagestore"]
    assert (zonal["name"], zonal["scope"], zonal["zoneid"], zonal["zonename"]) == (
        "zone-images",
        "ZONE",
        compute.zone_id,
        "zone1",
    )
    assert zonal["url"] == f"{seaweedfs.endpoint}/zone-images"

    listed = await api.ok("listImageStores")
    assert [s["name"] for s in listed["imagestore"]] == ["region-store", "zone-images"]
    assert (await api.ok("listImageStores", zoneid=compute.zone_id))["count"] == 2
    assert (await api.ok("listImageStores", name="zone-images"))["count"] == 1
    assert (await api.ok("listImageStores", keyword="REGION"))["count"] == 1
    assert seaweedfs.secret_key not in str(listed)
    assert seaweedfs.access_key not in str(listed)

    runtime: Runtime = app.state.runtime
    async with runtime.db.transaction() as session:
        rows = (await session.scalars(select(ImageStore))).all()
    assert all(seaweedfs.secret_key not in row.details for row in rows)

    updated = await api.ok("updateImageStore", id=zonal["id"], readonly=True)
    assert updated["imagestore"]["readonly"] is True
    assert (await api.ok("listImageStores", readonly=True))["count"] == 1
    await api.ok("deleteImageStore", id=zonal["id"])
    assert (await api.ok("listImageStores"))["count"] == 1
    await api.fails("deleteImageStore", 431, id=zonal["id"])


async def test_the_local_store(api: ApiClient) -> None:
    store = (await api.ok("addImageStore", name="here", provider="local"))["imagestore"]
    assert (store["providername"], store["protocol"], store["scope"]) == (
        "Local",
        "file",
        "REGION",
    )
    assert store["url"].startswith("file:///")
    assert store["url"].endswith("/images")


async def test_bad_input(api: ApiClient, compute: ComputeWorld, seaweedfs: SeaweedFs) -> None:
    details = s3_details(seaweedfs, "bad-input")
    assert "provider" in await api.fails("addImageStore", 431, name="x", provider="Swift")
    assert "details" in await api.fails("addImageStore", 431, name="x", provider="S3")
    partial = {k: v for k, v in details.items() if not k.startswith("details[3]")}
    text = await api.fails("addImageStore", 431, name="x", provider="S3", **partial)
    assert "secretkey" in text
    assert "zoneid" in await api.fails(
        "addImageStore", 431, name="x", provider="S3", zoneid=UNKNOWN, **details
    )
    await add_s3_store(api, seaweedfs, "taken", "bad-input")
    assert "name" in await api.fails("addImageStore", 431, name="taken", provider="S3", **details)
    assert "bucket" in await api.fails(
        "addImageStoreS3", 431, accesskey="a", secretkey="s", endpoint="h:1", bucket="b"
    )
    await api.fails("updateImageStore", 431, id=UNKNOWN, readonly=True)
    assert (await api.ok("listImageStores"))["count"] == 1


@pytest.mark.parametrize("who", ["d1admin", "alice"])
async def test_only_root_admins(clients: Clients, who: str) -> None:
    client: ApiClient = getattr(clients, who)
    await client.fails("listImageStores", 531)
    await client.fails("addImageStore", 531, name="x", provider="local")
