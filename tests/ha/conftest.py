"""The HA tests' Patroni cluster (the harness's table is printed by ``tests/conftest.py``)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ha_cluster import PatroniCluster, require_ha


@pytest.fixture(scope="module")
def cluster() -> Iterator[PatroniCluster]:
    """One etcd and three PostgreSQL nodes under Patroni, for the whole module."""
    require_ha()
    # Not tmp_path: the postgres user must reach the cluster's directory.
    root = Path(tempfile.mkdtemp(prefix="alto-ha-"))
    root.chmod(0o711)
    try:
        with PatroniCluster(root) as cluster:
            yield cluster
    finally:
        shutil.rmtree(root, ignore_errors=True)
