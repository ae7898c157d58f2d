"""Hostile requests for every command ``listApis`` lists, and what every answer must be.

Shared by the fuzz test (``tests/api/test_fuzz.py``, Hypothesis, in-process) and the
longer run over real HTTP (``bench/fuzz_bench.py``, plain ``random``): both build a
request from the same pools and judge the answer with :func:`check_answer`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree

import httpx
from sqlalchemy import select

from altostratus.db.engine import Database
from altostratus.db.models import Base

__all__ = [
    "ALLOWED_CODES",
    "EXCLUDED",
    "HOSTILE",
    "MAP_INDEXES",
    "MAP_KEYS",
    "TYPED",
    "ApiSpec",
    "Snapshot",
    "check_answer",
    "parse_apis",
    "random_request",
    "snapshot",
]

#: ``login`` and ``logout`` are the session code's (a failed login keeps its count by
#: design, and the lockout is tested there).
EXCLUDED = frozenset({"login", "logout"})

#: Every answer's code: never 530 (an internal error) or anything not CloudStack's.
ALLOWED_CODES = frozenset({200, 401, 405, 429, 431, 432, 531, 532, 533, 534, 535, 536})

HOSTILE: tuple[str, ...] = (
    "",
    " ",
    "x" * 10_000,
    "a\x00b",
    "\x00",
    "\x01\x1f\x7f",
    "\r\n",
    "line\nfeed",
    "\t",
    "' OR '1'='1",
    "1; DROP TABLE users; --",
    '"; SELECT pg_sleep(10); --',
    "%",
    "_",
    "\\",
    "<x>&amp;]]>",
    "${jndi:ldap://127.0.0.1/x}",
    "../../../etc/passwd",
    str(1 << 63),
    str(-(1 << 63) - 1),
    str(1 << 31),
    "9" * 5000,
    "-1",
    "0",
    "1e309",
    "NaN",
    "1.5",
    "true",
    "None",
    "null",
    ",",
    ",,,",
    "a,,b",
    " , ",
    "00000000-0000-0000-0000-000000000000",
    "7c3f5b9e-0000-4000-8000-00000000000g",
    "\U0001f600",
    "\ufffe\uffff",
    "2026-13-45T99:99:99+0000",
)
#: Values aimed at a parameter's type (``listApis``'s ``type``), drawn half the time.
TYPED: dict[str, tuple[str, ...]] = {
    "long": (str(1 << 63), str(-(1 << 63) - 1), "9" * 5000, "-1", "0", "1e309", "0x10"),
    "integer": (str(1 << 31), str(-(1 << 31) - 1), str(1 << 63), "-1", "0", "1.5"),
    "short": (str(1 << 15), str(-(1 << 15) - 1), str(1 << 63), "-1"),
    "uuid": ("00000000-0000-0000-0000-000000000000", "-1", "1", "{x}", "a\x00b"),
    "boolean": ("maybe", "TRUE", "None", "1", "\x00"),
    "date": ("2026-13-45", "9999-12-31T23:59:59+0000", "0000-00-00", "yesterday"),
    "list": (",,,", "a,,b", ",".join(["x"] * 2000), "\x00,\x01"),
}
#: Map entries (``tags[0].key=…``): indexes and keys, sane and not.
MAP_INDEXES: tuple[str, ...] = ("0", "1", "7", "99999999999999999999")
MAP_KEYS: tuple[str, ...] = ("key", "value", "name", "x")


@dataclass(frozen=True)
class ApiSpec:
    """A command as ``listApis`` describes it: its name and its parameters' types."""

    name: str
    params: tuple[tuple[str, str], ...]

    def maps(self) -> list[str]:
        return [name for name, kind in self.params if kind == "map"]


def parse_apis(listapis: dict[str, Any]) -> list[ApiSpec]:
    """Every command of a ``listApis`` answer but the excluded ones, by name."""
    specs = [
        ApiSpec(api["name"], tuple((p["name"], p["type"]) for p in api.get("params", [])))
        for api in listapis["api"]
        if api["name"] not in EXCLUDED
    ]
    return sorted(specs, key=lambda spec: spec.name)


def random_request(spec: ApiSpec, rng: random.Random, extra: Sequence[str] = ()) -> dict[str, str]:
    """Hostile values for a random subset of ``spec``'s parameters, half of them aimed
    at the parameter's type (``extra``: more values to draw from, such as the ids of
    existing objects)."""
    pool = (*HOSTILE, *extra)
    params: dict[str, str] = {}
    for name, kind in spec.params:
        if rng.random() < 0.4:
            continue
        if kind == "map" and rng.random() < 0.7:
            for _ in range(rng.randint(1, 3)):
                key = f"{name}[{rng.choice(MAP_INDEXES)}].{rng.choice(MAP_KEYS)}"
                params[key] = rng.choice(pool)
        elif kind in TYPED and rng.random() < 0.5:
            params[name] = rng.choice((*TYPED[kind], *(extra if kind == "uuid" else ())))
        else:
            params[name] = rng.choice(pool)
    return params


def check_answer(command: str, response: httpx.Response, *, as_json: bool) -> int:
    """Assert ``response`` is an answer CloudStack's clients read; return its code."""
    status = response.status_code
    assert status in ALLOWED_CODES, f"{command} answered {status}: {response.text[:500]}"
    for name, value in response.headers.items():
        assert not any((ord(c) < 32 and c != "\t") or ord(c) == 127 for c in value), (
            f"{command}: header {name} holds a control character: {value[:200]!r}"
        )
    description = response.headers.get("x-description")
    if description is not None:
        assert len(description) <= 512, f"{command}: X-Description of {len(description)}"
    roots = {f"{command.lower()}response", "errorresponse"}
    if as_json:
        assert response.headers["content-type"].startswith("application/json")
        data = json.loads(response.content)
        assert isinstance(data, dict)
        assert len(data) == 1, f"{command}: {str(data)[:300]}"
        ((root, body),) = data.items()
        assert root in roots, f"{command}: top-level key {root}"
        if status != 200:
            assert body["errorcode"] == status
            assert isinstance(body["cserrorcode"], int)
            assert isinstance(body["errortext"], str)
            assert body["errortext"]
    else:
        assert response.headers["content-type"].startswith("text/xml")
        element = ElementTree.fromstring(response.content)
        assert element.tag in roots, f"{command}: XML root {element.tag}"
        if status != 200:
            assert element.findtext("errorcode") == str(status)
            assert element.findtext("errortext")
    return status


#: Tables a background worker writes while requests run (membership heartbeats):
#: counted, but their rows' contents are not compared.
_WORKER_TABLES = frozenset({"management_servers", "leases"})


@dataclass(frozen=True)
class Snapshot:
    """Row counts of every table, and the contents of every table no worker writes."""

    counts: dict[str, int]
    contents: dict[str, list[str]]

    def differences(self, other: Snapshot) -> list[str]:
        changed = [
            f"{table}: {self.counts[table]} -> {other.counts.get(table)} rows"
            for table in self.counts
            if self.counts[table] != other.counts.get(table)
        ]
        changed += [
            f"{table}: rows changed"
            for table in self.contents
            if self.contents[table] != other.contents.get(table)
        ]
        return changed


async def snapshot(db: Database) -> Snapshot:
    """One query per table, in one transaction."""
    counts: dict[str, int] = {}
    contents: dict[str, list[str]] = {}
    async with db.transaction() as session:
        for name, table in Base.metadata.tables.items():
            rows = (await session.execute(select(table))).all()
            counts[name] = len(rows)
            if name not in _WORKER_TABLES:
                contents[name] = sorted(repr(tuple(row)) for row in rows)
    return Snapshot(counts, contents)
