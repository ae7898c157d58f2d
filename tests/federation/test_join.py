"""``alto region join`` end to end: real server processes, the real command line."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from altostratus.federation.join import JOIN_PATH
from altostratus.security.signatures import sign
from tests.federation.support import LIVE_ENV
from tests.support import server as server_module
from tests.support.postgres import free_port
from tests.support.server import LiveServer

pytestmark = pytest.mark.slow


def api(endpoint: str, keys: dict[str, str], command: str, **params: str) -> httpx.Response:
    query = {**params, "command": command, "response": "json", "apikey": keys["apikey"]}
    query["signature"] = sign(query, keys["secretkey"])
    return httpx.get(endpoint, params=query, timeout=30)


def alto_join(
    data_dir: Path, peer: str, keys: dict[str, str], *extra: str
) -> subprocess.CompletedProcess[str]:
    alto = Path(sys.executable).parent / "alto"
    command = [
        str(alto), "region", "join", "--data-dir", str(data_dir), "--peer", peer,
        "--peer-apikey", keys["apikey"], "--peer-secretkey", keys["secretkey"], *extra,
    ]  # fmt: skip
    env = {
        "PATH": str(alto.parent),
        "ALTO_PASSWORD_TIME_COST": "1",
        "ALTO_PASSWORD_MEMORY_KIB": "64",
    }
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)


def region_ids(endpoint: str, keys: dict[str, str]) -> list[int]:
    answer = api(endpoint, keys, "listRegions")
    assert answer.status_code == 200, answer.text
    return [region["id"] for region in answer.json()["listregionsresponse"]["region"]]


@pytest.fixture
def region1(tmp_path: Path) -> Iterator[LiveServer]:
    with LiveServer(tmp_path / "r1", extra_env=LIVE_ENV) as server:
        yield server


def start_on(port: int, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> LiveServer:
    """A LiveServer on ``port``: the port the region was registered with at join."""
    with monkeypatch.context() as patch:
        patch.setattr(server_module, "free_port", lambda: port)
        return LiveServer(data_dir, extra_env=LIVE_ENV)


def test_a_new_region_joins_with_one_command(
    region1: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = region1.admin
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}/client/api"
    joined = alto_join(
        tmp_path / "r2", region1.endpoint, admin,
        "--region-id", "2", "--region-name", "R2", "--endpoint", endpoint,
    )  # fmt: skip
    assert joined.returncode == 0, joined.stderr
    assert "alto server --data-dir" in joined.stderr
    assert region_ids(region1.endpoint, admin) == [1, 2]
    with start_on(port, tmp_path / "r2", monkeypatch) as region2:
        # Region 1's root admin (and its keys) work on region 2; it knows both regions.
        assert region_ids(region2.endpoint, admin) == [1, 2]
        assert region2.admin["apikey"] == admin["apikey"]
        users = api(region2.endpoint, admin, "listUsers", listall="true").json()
        assert [u["username"] for u in users["listusersresponse"]["user"]] == ["admin"]
        again = alto_join(tmp_path / "r2", region1.endpoint, admin)
        assert again.returncode == 1
        assert "already belongs to a federation" in again.stderr
    # A region whose server is running is not joined: the server would keep its old keys.
    with LiveServer(tmp_path / "r3", args=("--region-id", "3")):
        running = alto_join(tmp_path / "r3", region1.endpoint, admin)
    assert running.returncode == 1
    assert "stop this region's servers" in running.stderr
    assert region_ids(region1.endpoint, admin) == [1, 2]


def test_a_non_admin_cannot_join_and_nothing_is_registered(
    region1: LiveServer, tmp_path: Path
) -> None:
    admin = region1.admin
    created = api(
        region1.endpoint, admin, "createAccount", accounttype="0", username="alice",
        password="pass-word-1", email="a@example.org", firstname="A", lastname="L",
    )  # fmt: skip
    assert created.status_code == 200, created.text
    user_id = created.json()["createaccountresponse"]["account"]["user"][0]["id"]
    keys = api(region1.endpoint, admin, "registerUserKeys", id=user_id).json()
    alice = keys["registeruserkeysresponse"]["userkeys"]
    joined = alto_join(tmp_path / "r2", region1.endpoint, alice, "--region-id", "2")
    assert joined.returncode == 1
    assert "(531)" in joined.stderr
    forged = alto_join(
        tmp_path / "r3", region1.endpoint, {**admin, "secretkey": "forged"}, "--region-id", "3"
    )
    assert forged.returncode == 1
    assert "(401)" in forged.stderr
    unsigned = httpx.post(
        region1.endpoint.removesuffix("/client/api") + JOIN_PATH,
        data={"regionid": "4", "regionname": "R4", "endpoint": "http://r4/client/api"},
    )
    assert unsigned.status_code == 401
    assert region_ids(region1.endpoint, admin) == [1]
    assert not (tmp_path / "r2" / "admin.json").exists()
