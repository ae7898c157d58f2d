"""What every object store offers the region: the contract its providers keep.

Guarantees, for S3 and the local directory alike:

- ``put`` consumes an async stream of chunks and makes the object visible only once the
  stream ended without error: a stream that raises (the source broke, a checksum did
  not match) leaves no object, not even a partial one, and an object already under the
  key stays as it was. The stream may therefore check the bytes after its last chunk.
- ``get`` streams an object's bytes; ``head`` answers its size, ``None`` if absent.
- ``delete`` of an absent object is not an error.
- ``url`` is a time-limited GET URL hosts fetch the object from.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Protocol

__all__ = ["ObjectMissing", "ObjectStore", "ObjectStoreError"]


class ObjectStoreError(Exception):
    """The store refused or could not be reached; the message names the cause."""


class ObjectMissing(ObjectStoreError):
    """No object under the key."""


class ObjectStore(Protocol):
    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        """Store the stream under ``key``; answer the bytes stored."""
        ...

    def get(self, key: str) -> AsyncIterator[bytes]:
        """Stream the object's bytes; ``ObjectMissing`` if there is none."""
        ...

    async def head(self, key: str) -> int | None: ...

    async def delete(self, key: str) -> None: ...

    async def url(self, key: str, seconds: int) -> str: ...

    async def close(self) -> None: ...
