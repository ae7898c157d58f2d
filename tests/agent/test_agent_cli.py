"""``alto agent``'s safety-belt options refuse what could not work, before anything runs."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from altostratus.cli.main import app

BASE = ["agent", "--endpoint", "http://127.0.0.1:9", "--token", "t", "--driver", "simulator"]


@pytest.mark.parametrize(
    ("extra", "complaint"),
    [
        (["--probe-listen", "0.0.0.0:7070"], "own address"),
        (["--probe-listen", "7070"], "ADDRESS:PORT"),
        (["--lease-ttl", "2", "--storage-heartbeat-interval", "2"], "shorter than --lease-ttl"),
    ],
    ids=["wildcard probe address", "no port", "heartbeat not under the TTL"],
)
def test_unusable_belt_options_are_refused(extra: list[str], complaint: str) -> None:
    result = CliRunner().invoke(app, [*BASE, *extra], env={"COLUMNS": "250"})
    assert result.exit_code == 2
    assert complaint in " ".join(result.output.split())
