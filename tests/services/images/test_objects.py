"""The object-store contract (``services/images/objects.py``), for S3 and the local store."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from altostratus.services.images.objects import ObjectMissing, ObjectStore
from altostratus.services.images.s3 import PART_SIZE


async def stream(data: bytes, chunk: int = 1 << 20) -> AsyncIterator[bytes]:
    for start in range(0, len(data), chunk):
        yield data[start : start + chunk]


async def read(store: ObjectStore, key: str) -> bytes:
    return b"".join([chunk async for chunk in store.get(key)])


class Broken(Exception):
    pass


async def breaks_after(data: bytes) -> AsyncIterator[bytes]:
    async for chunk in stream(data):
        yield chunk
    raise Broken("the source broke")


async def test_small_object_round_trip(object_store: ObjectStore) -> None:
    assert await object_store.head("a/small.raw") is None
    assert await object_store.put("a/small.raw", stream(b"hello image")) == 11
    assert await object_store.head("a/small.raw") == 11
    assert await read(object_store, "a/small.raw") == b"hello image"
    await object_store.delete("a/small.raw")
    assert await object_store.head("a/small.raw") is None
    await object_store.delete("a/small.raw")  # absent: not an error
    with pytest.raises(ObjectMissing):
        await read(object_store, "a/small.raw")


async def test_large_object_in_parts(object_store: ObjectStore) -> None:
    data = os.urandom(PART_SIZE * 2 + 12345)
    assert await object_store.put("big.qcow2", stream(data, 700_000)) == len(data)
    assert await object_store.head("big.qcow2") == len(data)
    assert await read(object_store, "big.qcow2") == data


@pytest.mark.parametrize("size", [1000, PART_SIZE + 1000])
async def test_a_broken_stream_leaves_the_previous_object(
    object_store: ObjectStore, size: int
) -> None:
    await object_store.put("img", stream(b"old bytes"))
    with pytest.raises(Broken):
        await object_store.put("img", breaks_after(b"n" * size))
    assert await read(object_store, "img") == b"old bytes"
    with pytest.raises(Broken):
        await object_store.put("fresh", breaks_after(b"n" * size))
    assert await object_store.head("fresh") is None


async def test_url_serves_the_object(object_store: ObjectStore) -> None:
    await object_store.put("templates/x.raw", stream(b"served"))
    url = await object_store.url("templates/x.raw", 60)
    parts = urlsplit(url)
    if parts.scheme == "file":
        assert Path(parts.path).read_bytes() == b"served"  # noqa: ASYNC240
    else:
        async with httpx.AsyncClient() as client:
            answer = await client.get(url)
        assert answer.status_code == 200
        assert answer.content == b"served"
        # The signature covers the key: another object is refused.
        other = url.replace("x.raw", "y.raw")
        async with httpx.AsyncClient() as client:
            assert (await client.get(other)).status_code == 403
