"""The HA tests' Patroni cluster, and the failover harness's table at the end of the run.

Under pytest-xdist workers' output is not shown, but a test's ``record_property`` values
travel with its report to the controller, which prints them in the terminal summary.
"""

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


_TABLES: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        _TABLES.extend(
            str(value) for name, value in report.user_properties if name == "failover_table"
        )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for table in _TABLES:
        terminalreporter.write_sep("=", "failover harness")
        terminalreporter.write_line(table)
