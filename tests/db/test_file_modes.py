"""Files at rest are the owner's only: the data directory 0700, everything in it 0600.

The SQLite database holds password hashes and encrypted secrets; its WAL and
shared-memory files hold the same pages.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy import text

from altostratus.runtime import Runtime
from altostratus.settings import Settings


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _cheap(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, password_time_cost=1, password_memory_kib=64)


async def test_a_new_region_keeps_its_files_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    old_umask = os.umask(0o022)  # the usual umask, which alone would make them 0644
    try:
        runtime = await Runtime.start(_cheap(data_dir))
        try:
            async with runtime.db.transaction() as session:
                await session.execute(text("SELECT 1"))
            names = {path.name for path in data_dir.iterdir()}
            assert {"altostratus.db", "altostratus.db-wal", "altostratus.db-shm"} <= names
            assert _mode(data_dir) == 0o700
            assert {path.name: _mode(path) for path in data_dir.iterdir()} == dict.fromkeys(
                names, 0o600
            )
        finally:
            await runtime.close()
    finally:
        os.umask(old_umask)


async def test_a_start_fixes_what_an_older_version_left_readable(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    runtime = await Runtime.start(_cheap(data_dir))
    await runtime.close()
    data_dir.chmod(0o755)
    for path in data_dir.iterdir():
        path.chmod(0o644)
    runtime = await Runtime.start(_cheap(data_dir))
    try:
        assert _mode(data_dir) == 0o700
        assert {_mode(path) for path in data_dir.iterdir()} == {0o600}
    finally:
        await runtime.close()
