"""The embedded image store: a directory of the management server (``data_dir/images``).

It serves a region of one server (the quick start) with no object store to run. A put
writes a hidden file beside the final one and renames it over it once complete, so a
reader never sees half an object. Its URLs are ``file://`` paths: hosts on the same
machine (the simulated ones, a one-machine lab) read them directly.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path

from altostratus.services.images.objects import ObjectMissing, ObjectStoreError

__all__ = ["LocalStore"]

_CHUNK = 1024 * 1024


class LocalStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise ObjectStoreError(f"object key {key!r} leaves the store")
        return path

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        path = self._path(key)
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
        size = 0
        try:
            with partial.open("wb") as out:
                async for chunk in chunks:
                    await asyncio.to_thread(out.write, chunk)
                    size += len(chunk)
            await asyncio.to_thread(os.replace, partial, path)
        finally:
            partial.unlink(missing_ok=True)
        return size

    async def get(self, key: str) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            source = path.open("rb")
        except FileNotFoundError:
            raise ObjectMissing(f"no object {key}") from None
        with source:
            while chunk := await asyncio.to_thread(source.read, _CHUNK):
                yield chunk

    async def head(self, key: str) -> int | None:
        path = self._path(key)
        return path.stat().st_size if path.is_file() else None

    async def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    async def url(self, key: str, seconds: int) -> str:
        return self._path(key).as_uri()

    async def close(self) -> None:
        return None
