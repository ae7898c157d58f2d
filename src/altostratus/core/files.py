"""Files only their owner may read: credentials and keys written by the server or the CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["make_private_dir", "write_private_json"]


def make_private_dir(path: Path) -> None:
    """Create ``path`` for its owner only (0700) and make the files in it 0600.

    The data directory holds the SQLite database (password hashes, encrypted secrets),
    the key file and the admin's credentials: no other local user may read any of them,
    including what an older version left readable.
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    for entry in path.iterdir():
        if entry.is_file() and not entry.is_symlink():
            entry.chmod(0o600)


def write_private_json(path: Path, body: dict[str, Any]) -> None:
    """Replace ``path`` atomically with ``body``, readable by the owner only (mode 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(body, handle, indent=2)
        handle.write("\n")
    os.replace(tmp, path)
