"""A loopback HTTP server of disk images, each served the way a test needs: with or
without ``Content-Length``, paused halfway until the test lets it go on, broken halfway
(the connection closed mid-body), or not found.

It speaks just enough HTTP/1.1 by hand (asyncio streams) to misbehave on purpose, which
a real server framework would not.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

__all__ = ["ImageServer", "Served"]


@dataclass
class Served:
    data: bytes
    #: Send ``Content-Length``; without it the body ends when the connection closes.
    length: bool = True
    #: Close the connection after this many bytes of the body.
    break_after: int | None = None
    #: Send this many bytes, then wait for ``resume`` before the rest.
    pause_after: int | None = None
    resume: asyncio.Event = field(default_factory=asyncio.Event)
    #: Requests answered so far.
    requests: int = 0


class ImageServer:
    def __init__(self) -> None:
        self._images: dict[str, Served] = {}
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._answer, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            for image in self._images.values():
                image.resume.set()
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    def serve(self, path: str, data: bytes, **how: object) -> Served:
        """Serve ``data`` at ``path``; answer its URL's image record."""
        image = Served(data, **how)  # type: ignore[arg-type]
        self._images[path] = image
        return image

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await reader.readuntil(b"\r\n\r\n")
            path = request.split(b" ", 2)[1].decode()
            image = self._images.get(path)
            if image is None:
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found")
                await writer.drain()
                return
            image.requests += 1
            await self._send(writer, image)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _send(self, writer: asyncio.StreamWriter, image: Served) -> None:
        headers = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
        headers += f"Content-Length: {len(image.data)}\r\n" if image.length else ""
        writer.write((headers + "Connection: close\r\n\r\n").encode())
        body = image.data
        if image.break_after is not None:
            body = body[: image.break_after]
        if image.pause_after is not None:
            writer.write(body[: image.pause_after])
            await writer.drain()
            await image.resume.wait()
            body = body[image.pause_after :]
        for start in range(0, len(body), 256 * 1024):
            writer.write(body[start : start + 256 * 1024])
            await writer.drain()
