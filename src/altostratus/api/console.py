"""The web console's files under ``/client/``, with the headers that keep it safe to serve.

The console is static ES modules, HTML and CSS (``altostratus/console``): a client of the
same CloudStack API as ``cs``, so nothing here knows about users or sessions. Files are
revalidated on every load (``no-cache`` with an ``ETag``), so an upgrade is seen at once
while unchanged files cost a 304. The policy forbids inline and foreign script, framing
and MIME sniffing, so an injected string can never run as code.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

__all__ = ["CONSOLE_DIRECTORY", "SECURITY_HEADERS", "ConsoleFiles"]

CONSOLE_DIRECTORY = Path(__file__).resolve().parent.parent / "console"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class ConsoleFiles(StaticFiles):
    """Starlette's static files (``ETag``, ``Last-Modified``, 304s) plus the headers above."""

    def __init__(self) -> None:
        super().__init__(directory=CONSOLE_DIRECTORY, html=True)

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(SECURITY_HEADERS)
        return response
