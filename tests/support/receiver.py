"""A webhook receiver on loopback: a real HTTP server in a thread, on a free port.

It records every request (headers and body), answers with the statuses it is given in
turn (then 200), and can be told to hold every request until released, like a
receiver that never answers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["Received", "Receiver", "receiving"]


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str = ""
    statuses: list[int] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    #: Set when a request arrives.
    arrived: threading.Event = field(default_factory=threading.Event)
    #: While cleared, requests wait before being answered.
    released: threading.Event = field(default_factory=threading.Event)

    def hold(self) -> None:
        self.released.clear()


@contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.released.set()

    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True  # else each answer waits for a delayed ACK

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            receiver.requests.append(Received(dict(self.headers.items()), body))
            receiver.arrived.set()
            receiver.released.wait(120)
            status = receiver.statuses.pop(0) if receiver.statuses else 200
            answer = f"answered {status}".encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256  # many deliveries connect at once

    server = Server(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.released.set()
        server.shutdown()
        server.server_close()
        thread.join()
