"""A server runs its background work unless it is configured as API-only."""

from __future__ import annotations

from pathlib import Path

from altostratus.core.worker import running
from altostratus.runtime import Runtime
from altostratus.workers import federation_workers
from tests.conftest import test_settings as settings_for


async def _started(tmp_path: Path, key_file: Path, *, enabled: bool) -> int:
    settings = settings_for(
        tmp_path / "data",
        f"sqlite:///{tmp_path / 'alto.db'}",
        key_file,
        background_workers=enabled,
    )
    runtime = await Runtime.start(settings)
    try:
        async with federation_workers(runtime) as workers, running(workers):
            return len(workers)
    finally:
        await runtime.close()


async def test_background_work_runs_by_default(tmp_path: Path, key_file: Path) -> None:
    assert await _started(tmp_path, key_file, enabled=True) == 4


async def test_an_api_only_server_starts_no_background_work(tmp_path: Path, key_file: Path) -> None:
    assert await _started(tmp_path, key_file, enabled=False) == 0
