"""The committed API reference is the one the declarations generate."""

from __future__ import annotations

from pathlib import Path

from altostratus.api.docs import render_reference
from altostratus.api.registry import build_registry

REFERENCE = Path(__file__).parents[3] / "docs" / "api.md"


def test_docs_api_md_is_generated_from_the_declarations() -> None:
    expected = render_reference(build_registry())
    assert REFERENCE.read_text() == expected, "run: .venv/bin/alto api-docs -o docs/api.md"


def test_reference_lists_every_command_with_its_parameters() -> None:
    text = render_reference(build_registry())
    for command in build_registry():
        assert f"## {command.name}\n" in text
    assert "| `endpoint` | string | yes |" in text
