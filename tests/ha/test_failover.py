"""Kills of a management server and of the PostgreSQL primary lose nothing acknowledged.

The harness (``tests/ha/harness.py``) runs a whole region on loopback with a client
workload through HAProxy and injects each fault in turn. Every account the clients saw
created must be in the database, and every job they saw accepted must have finished.
The table of figures is printed at the end of the pytest run (``conftest.py``).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.ha.harness import SCENARIOS, format_table, run_harness
from tests.support.ha_cluster import PatroniSettings, require_ha

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ha_cluster"), pytest.mark.timeout(900)]


def test_no_acknowledged_write_or_job_is_lost_across_failovers(
    record_property: Callable[[str, object], None],
) -> None:
    require_ha()
    settings = PatroniSettings()
    root = Path(tempfile.mkdtemp(prefix="alto-failover-"))
    try:
        results = run_harness(root, settings)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    record_property("failover_table", format_table(settings, results))

    assert [result.name for result in results] == [scenario.name for scenario in SCENARIOS]
    for result in results:
        assert result.writes_lost == 0, result
        assert result.jobs_lost == 0, result
        # The workload went on: writes were acknowledged around every fault.
        assert result.acknowledged > 0, result
        # Well within the retry window: the region came back by itself.
        assert result.unavailable < 25, result
