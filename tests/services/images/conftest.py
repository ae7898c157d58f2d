"""Every store test runs against both providers: a real SeaweedFS and the local one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from altostratus.services.images.local import LocalStore
from altostratus.services.images.objects import ObjectStore
from altostratus.services.images.s3 import S3Settings, S3Store
from tests.support.seaweedfs import SeaweedFs


@pytest.fixture(params=["local", "s3"])
async def object_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[ObjectStore]:
    store: ObjectStore
    if request.param == "local":
        store = LocalStore(tmp_path / "images")
    else:
        weed: SeaweedFs = request.getfixturevalue("seaweedfs")
        bucket = f"t{abs(hash(request.node.nodeid)) % 10**12:012d}"
        store = S3Store(S3Settings(weed.endpoint, bucket, weed.access_key, weed.secret_key))
    yield store
    await store.close()
