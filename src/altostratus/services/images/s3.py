"""An S3-compatible image store (SeaweedFS, Ceph RGW, MinIO, AWS) through aiobotocore.

A put of up to one part is a single ``PutObject`` once the stream ended; a longer one
is a multipart upload, completed only after the stream's last chunk (an upload that
fails is aborted), so the object appears whole or not at all. The bucket is created on
first use if it does not exist.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from altostratus.services.images.objects import ObjectMissing, ObjectStoreError

__all__ = ["S3Settings", "S3Store"]

#: S3's smallest part but the last; larger parts mean fewer requests per image.
PART_SIZE = 8 * 1024 * 1024
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class S3Settings:
    """What ``addImageStoreS3`` (or ``addImageStore``'s details) gives of a bucket."""

    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    connection_timeout: float = 10.0
    socket_timeout: float = 60.0
    max_error_retry: int = 3


class S3Store:
    def __init__(self, settings: S3Settings) -> None:
        self.settings = settings
        self._stack = AsyncExitStack()
        self._client: Any = None
        self._lock = asyncio.Lock()

    async def _s3(self) -> Any:
        async with self._lock:
            if self._client is None:
                s = self.settings
                config = AioConfig(
                    connect_timeout=s.connection_timeout,
                    read_timeout=s.socket_timeout,
                    retries={"max_attempts": s.max_error_retry},
                    s3={"addressing_style": "path"},
                )
                client = await self._stack.enter_async_context(
                    get_session().create_client(
                        "s3",
                        endpoint_url=s.endpoint,
                        region_name=s.region,
                        aws_access_key_id=s.access_key,
                        aws_secret_access_key=s.secret_key,
                        config=config,
                    )
                )
                await _ensure_bucket(client, s.bucket, s.region)
                self._client = client
            return self._client

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        s3, bucket = await self._s3(), self.settings.bucket
        parts = _parts(chunks)
        first = await anext(parts, b"")
        second = await anext(parts, None)
        try:
            if second is None:
                await s3.put_object(Bucket=bucket, Key=key, Body=first)
                return len(first)
            return await _multipart(s3, bucket, key, first, second, parts)
        except (BotoCoreError, ClientError) as error:
            raise ObjectStoreError(f"S3 refused {key}: {error}") from error

    async def get(self, key: str) -> AsyncIterator[bytes]:
        s3 = await self._s3()
        try:
            answer = await s3.get_object(Bucket=self.settings.bucket, Key=key)
        except ClientError as error:
            if _code(error) in ("NoSuchKey", "404"):
                raise ObjectMissing(f"no object {key}") from None
            raise ObjectStoreError(f"S3 refused {key}: {error}") from error
        async with answer["Body"] as body:
            while chunk := await body.read(_CHUNK):
                yield chunk

    async def head(self, key: str) -> int | None:
        s3 = await self._s3()
        try:
            answer = await s3.head_object(Bucket=self.settings.bucket, Key=key)
        except ClientError as error:
            if _code(error) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise ObjectStoreError(f"S3 refused {key}: {error}") from error
        return int(answer["ContentLength"])

    async def delete(self, key: str) -> None:
        s3 = await self._s3()
        try:
            await s3.delete_object(Bucket=self.settings.bucket, Key=key)
        except (BotoCoreError, ClientError) as error:
            raise ObjectStoreError(f"S3 refused to delete {key}: {error}") from error

    async def url(self, key: str, seconds: int) -> str:
        s3 = await self._s3()
        url: str = await s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.settings.bucket, "Key": key}, ExpiresIn=seconds
        )
        return url

    async def close(self) -> None:
        self._client = None
        await self._stack.aclose()


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


async def _ensure_bucket(s3: Any, bucket: str, region: str) -> None:
    try:
        await s3.head_bucket(Bucket=bucket)
    except ClientError as error:
        if _code(error) not in ("404", "NoSuchBucket", "NotFound"):
            raise ObjectStoreError(f"S3 bucket {bucket}: {error}") from error
        # Outside us-east-1, AWS wants the bucket's region named.
        where = {} if region == "us-east-1" else {"LocationConstraint": region}
        try:
            await s3.create_bucket(
                Bucket=bucket, **({"CreateBucketConfiguration": where} if where else {})
            )
        except ClientError as failure:
            raise ObjectStoreError(f"S3 bucket {bucket}: {failure}") from failure
    except BotoCoreError as error:
        raise ObjectStoreError(f"S3 at {s3.meta.endpoint_url}: {error}") from error


async def _parts(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """The stream regrouped into parts of ``PART_SIZE`` (the last one shorter)."""
    buffer = bytearray()
    async for chunk in chunks:
        buffer += chunk
        while len(buffer) >= PART_SIZE:
            yield bytes(buffer[:PART_SIZE])
            del buffer[:PART_SIZE]
    if buffer:
        yield bytes(buffer)


async def _multipart(
    s3: Any, bucket: str, key: str, first: bytes, second: bytes, rest: AsyncIterator[bytes]
) -> int:
    upload = await s3.create_multipart_upload(Bucket=bucket, Key=key)
    upload_id = upload["UploadId"]
    done: list[dict[str, Any]] = []
    size = 0

    async def send(data: bytes) -> None:
        nonlocal size
        number = len(done) + 1
        answer = await s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
        )
        done.append({"PartNumber": number, "ETag": answer["ETag"]})
        size += len(data)

    try:
        await send(first)
        await send(second)
        async for part in rest:
            await send(part)
        await s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": done}
        )
    except BaseException:
        await asyncio.shield(s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id))
        raise
    return size
