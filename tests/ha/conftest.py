"""The HA tests' Patroni cluster (the harness's table is printed by ``tests/conftest.py``)."""

from __future__ import annotations

import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ha_cluster import PatroniCluster, require_ha

#: Seconds a bootstrap may take before it is tried once more, afresh. It takes 10-20 s;
#: on a loaded 2-core CI machine one start in a few has been seen not to settle at all.
BOOTSTRAP_SECONDS = 90.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[PatroniCluster]:
    """One etcd and three PostgreSQL nodes under Patroni, for the whole module."""
    require_ha()
    # Not tmp_path: the postgres user must reach the cluster's directory.
    root = Path(tempfile.mkdtemp(prefix="alto-ha-"))
    root.chmod(0o711)
    try:
        cluster = _started(root)
        try:
            yield cluster
        finally:
            cluster.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _started(root: Path) -> PatroniCluster:
    """A healthy cluster under ``root``; a second bootstrap (new ports, new directories)
    if the first does not settle, with the first one's diagnosis as a warning."""
    try:
        return _start(PatroniCluster(root / "first"))
    except TimeoutError as error:
        warnings.warn(f"Patroni bootstrap tried again: {error}", stacklevel=1)
    return _start(PatroniCluster(root / "second"))


def _start(cluster: PatroniCluster) -> PatroniCluster:
    try:
        cluster.start(timeout=BOOTSTRAP_SECONDS)
    except BaseException:
        cluster.stop()
        raise
    return cluster
