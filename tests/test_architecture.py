"""The layer rule and the absence of import cycles, checked on the real import graph.

The contracts live in ``pyproject.toml`` (``[tool.importlinter]``), where a newcomer
reads them next to the other tool settings; this test makes CI refuse a change that
breaks one, and adds what import-linter does not check: that no two modules import
each other, directly or through others.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]


def test_every_import_contract_is_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def import_cycles(package: str) -> list[str]:
    """Every direct import that the imported module's own imports lead back from."""
    graph = grimp.build_graph(package, cache_dir=None)
    return sorted(
        f"{importer} -> {imported} -> … -> {importer}"
        for importer in graph.modules
        for imported in graph.find_modules_directly_imported_by(importer)
        if graph.chain_exists(importer=imported, imported=importer)
    )


def test_no_module_is_part_of_an_import_cycle() -> None:
    assert import_cycles("altostratus") == []


def test_the_cycle_check_finds_a_cycle(tmp_path: Path) -> None:
    """The check above would also pass if it saw nothing: show it on a real cycle."""
    package = tmp_path / "cyclic"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from cyclic import b\n")
    (package / "b.py").write_text("from cyclic import a\n")
    (package / "c.py").write_text("from cyclic import a\n")
    sys.path.insert(0, str(tmp_path))
    try:
        found = import_cycles("cyclic")
    finally:
        sys.path.remove(str(tmp_path))
    assert found == [
        "cyclic.a -> cyclic.b -> … -> cyclic.a",
        "cyclic.b -> cyclic.a -> … -> cyclic.b",
    ]
