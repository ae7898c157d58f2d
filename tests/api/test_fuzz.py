"""Hostile values to every command, as the root admin: an answer always arrives, in
CloudStack's shape, never a 530, and a refused request changes nothing.

The commands come from ``listApis``, so a new command is fuzzed without a line here.
Values are the pools of ``tests.support.fuzz`` (empty, 10k characters, control
characters and NUL, SQL-ish text, 2**63, malformed lists and maps) and the ids of
existing objects, so a request can get past parsing into the services. Bounded for CI
by ``ALTO_FUZZ_EXAMPLES`` (default 80 per backend); ``bench/fuzz_bench.py`` runs longer
over real HTTP.
"""

from __future__ import annotations

import logging
import os
import random
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from altostratus.security.signatures import sign
from altostratus.settings import Settings
from tests import conftest
from tests.conftest import Template
from tests.support.client import ApiClient
from tests.support.fuzz import (
    ApiSpec,
    Snapshot,
    check_answer,
    parse_apis,
    random_request,
    snapshot,
)
from tests.support.world import Identity

EXAMPLES = int(os.environ.get("ALTO_FUZZ_EXAMPLES", "80"))


@pytest.fixture(name="settings")
def quiet_settings(database: tuple[str, Template], tmp_path: Path, key_file: Path) -> Settings:
    """No job executor or simulated hosts: nothing changes the database but the requests."""
    return conftest.test_settings(tmp_path / "data", database[0], key_file, compute_workers=False)


@pytest.fixture
async def apis(api: ApiClient) -> list[ApiSpec]:
    return parse_apis(await api.ok("listApis"))


@pytest.fixture
def existing_ids(identities: dict[str, Identity]) -> list[str]:
    """Ids of the seeded objects, the root admin's own left out (disabling it would end
    the run, not find a bug)."""
    others = [who for name, who in identities.items() if name != "admin"]
    return sorted(
        {who.domain_id for who in others}
        | {who.account_id for who in others}
        | {who.user_id for who in others}
    )


@pytest.fixture
def last_snapshot() -> list[Snapshot]:
    """The database as the previous refused request left it: still true for the next
    example, so it need not be taken again."""
    return []


@pytest.mark.timeout(max(120, EXAMPLES))  # about 0.2 s an example on a busy machine
@hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), rng=st.randoms(use_true_random=False), as_json=st.booleans())
async def test_hostile_values_to_every_command(
    app: Starlette,
    http: httpx.AsyncClient,
    identities: dict[str, Identity],
    apis: list[ApiSpec],
    existing_ids: list[str],
    last_snapshot: list[Snapshot],
    caplog: pytest.LogCaptureFixture,
    data: st.DataObject,
    rng: random.Random,
    as_json: bool,
) -> None:
    spec = data.draw(st.sampled_from(apis), label="command")
    params = random_request(spec, rng, existing_ids)
    admin = identities["admin"]
    query = {**params, "command": spec.name, "apikey": admin.api_key}
    if as_json:
        query["response"] = "json"
    query["signature"] = sign(query, admin.secret_key)
    db = app.state.runtime.db
    before = last_snapshot.pop() if last_snapshot else await snapshot(db)
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        response = await http.post("/client/api", data=query)
    status = check_answer(spec.name, response, as_json=as_json)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, f"{spec.name} {params}: logged {errors}"
    if status != 200:
        after = await snapshot(db)
        assert not before.differences(after), (
            f"{spec.name} {params} answered {status} but changed {before.differences(after)}"
        )
        last_snapshot.append(after)


async def test_every_listed_command_is_fuzzed(apis: list[ApiSpec]) -> None:
    """The fuzz covers what listApis lists, login and logout aside (the session code's)."""
    names = {spec.name for spec in apis}
    assert {"addRegion", "deployVirtualMachine", "createTags", "listZones"} <= names
    assert "login" not in names
    assert len(names) > 100
