"""The probe listener: how a neighbour tells a host that is up from one that is gone.

``alto agent --probe-listen ADDRESS:PORT`` listens on the host's own network; to every
connection it writes one line, ``altostratus-probe`` and the names of the hosts this
agent process runs, and closes it. A neighbour asked to check a suspect host
(``CheckHost``) connects, reads the line and counts the suspect reachable only if the
line names it, so another machine that took over the address is not mistaken for it.
The listener answers from the agent's own event loop: a host whose agent hangs does not
answer either.
"""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["PROBE_TIMEOUT", "listen", "parse_address", "probe"]

_HELLO = "altostratus-probe"
#: Seconds a neighbour waits for the connection and the line.
PROBE_TIMEOUT = 1.0


def parse_address(address: str) -> tuple[str, int]:
    """``(host, port)`` of ``HOST:PORT`` or ``[IPv6]:PORT``; ``ValueError`` if it is neither."""
    host, separator, port = address.rpartition(":")
    if not separator or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"not ADDRESS:PORT: {address}")
    return host.removeprefix("[").removesuffix("]"), int(port)


async def listen(address: str, names: list[str]) -> tuple[asyncio.Server, str]:
    """Serve the hello line naming ``names`` on ``address``; the server and its address.

    The address answered has the port actually bound, so ``…:0`` picks a free one.
    """
    host, port = parse_address(address)
    line = " ".join([_HELLO, *names]).encode() + b"\n"

    async def hello(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            writer.write(line)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(hello, host, port)
    bound = server.sockets[0].getsockname()[1]
    return server, f"[{host}]:{bound}" if ":" in host else f"{host}:{bound}"


async def probe(address: str, host_name: str) -> bool:
    """Whether the probe listener at ``address`` answers, naming ``host_name``, in time."""
    host, port = parse_address(address)
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                line = await reader.readline()
            finally:
                writer.close()
    except (OSError, TimeoutError):
        return False
    words = line.decode(errors="replace").split()
    return words[:1] == [_HELLO] and host_name in words[1:]
