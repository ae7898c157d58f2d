"""Every module's ``__all__`` is what the module offers, no more and no less.

``__all__`` is how a reader (and ``from … import *``) tells a module's interface from its
helpers, so it has to stay true as modules grow: each listed name exists, the list keeps
ruff's order (RUF022) without repeats, and every public function or class the module
defines is listed; one that should not be is named ``_private``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from types import ModuleType

import pytest

import altostratus


def _unimportable(package: str) -> None:
    """walk_packages would skip a package that fails to import, and all its modules."""
    raise ImportError(f"cannot import {package}")


# Alembic's directory (db/migrations) is no package: Alembic loads env.py and the revision
# files by path, so walk_packages never reaches them (and importing env.py outside Alembic
# would raise); they are scripts with no interface to list.
MODULES = [
    "altostratus",
    *sorted(
        info.name
        for info in pkgutil.walk_packages(altostratus.__path__, "altostratus.", _unimportable)
    ),
]


def _ruff_order(name: str) -> tuple[int, list[tuple[int, int, str]]]:
    """RUF022's isort-style key: CONSTANTS, then Classes, then the rest, each naturally
    sorted (``v2`` before ``v10``), so this test and ``ruff check --fix`` agree."""
    if len(name) > 1 and name.isupper():
        kind = 0
    elif name[:1].isupper():
        kind = 1
    else:
        kind = 2
    chunks = re.findall(r"\d+|\D+", name)
    return kind, [(0, int(c), "") if c.isdigit() else (1, 0, c) for c in chunks]


def _defined_here(module: ModuleType) -> list[str]:
    """The public functions and classes the module defines itself (not imports)."""
    return [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and value.__module__ == module.__name__
    ]


def _offers_anything(module: ModuleType) -> bool:
    """A package whose ``__init__`` holds only a docstring offers nothing but its modules."""
    return any(
        not name.startswith("_")
        and not isinstance(value, ModuleType)
        and type(value).__module__ != "__future__"  # from __future__ import annotations
        for name, value in vars(module).items()
    )


@pytest.mark.parametrize("name", MODULES)
def test_all_is_honest(name: str) -> None:
    module = importlib.import_module(name)
    if "__all__" not in vars(module):
        assert module.__spec__ is not None
        assert module.__spec__.submodule_search_locations is not None, (
            f"{name} has no __all__: list the names it offers (none: __all__ = [])"
        )
        assert not _offers_anything(module), (
            f"{name} has no __all__, yet offers names of its own: list them in __all__"
        )
        return
    listed = list(module.__all__)
    problems = []
    if missing := [entry for entry in listed if not hasattr(module, entry)]:
        problems.append(f"lists names it does not have: {missing}")
    if repeated := sorted({entry for entry in listed if listed.count(entry) > 1}):
        problems.append(f"lists names more than once: {repeated}")
    if listed != sorted(listed, key=_ruff_order):
        problems.append(
            f"is not in ruff's order (RUF022); it should read {sorted(listed, key=_ruff_order)}"
        )
    if unlisted := [entry for entry in _defined_here(module) if entry not in listed]:
        problems.append(
            f"misses public names defined here: {unlisted} (list them, or rename them _private)"
        )
    assert not problems, f"{name}.__all__ " + "; ".join(problems)
