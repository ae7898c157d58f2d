"""The example configurations in ``deploy/`` are accepted by the real tools.

Each check runs the tool the file is for (``haproxy -c``, ``patroni --validate-config``,
``etcd``, ``systemd-analyze verify``) with the example's private addresses swapped for
loopback ones, since a validator that probes addresses cannot judge another network.
A missing tool skips its test, or fails it when ``ALTO_REQUIRE_HA=1`` (CI).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from altostratus.settings import load_settings
from tests.support.postgres import free_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ETCD_MEMBERS = ("etcd1", "etcd2", "etcd3")


def require(tool: str) -> str:
    """The tool's path; skip (or fail under ``ALTO_REQUIRE_HA=1``) when it is missing."""
    path = shutil.which(tool)
    if path is None:
        message = f"{tool} is not installed (apt-get install patroni etcd-server haproxy)"
        if os.environ.get("ALTO_REQUIRE_HA") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


def load_yaml(path: Path) -> Any:
    """Parse with the interpreter and PyYAML that Patroni itself runs on."""
    interpreter = Path(require("patroni")).read_text().splitlines()[0].removeprefix("#!")
    program = "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))"
    result = subprocess.run(
        [*interpreter.split(), "-c", program, str(path)],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return json.loads(result.stdout)


def write_yaml(path: Path, data: Any) -> Path:
    """JSON is YAML: what the tools read back is exactly ``data``."""
    path.write_text(json.dumps(data, indent=2))
    return path


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


# --- HAProxy ------------------------------------------------------------------------------


def test_haproxy_accepts_the_configuration() -> None:
    result = run(require("haproxy"), "-c", "-f", str(DEPLOY / "haproxy/haproxy.cfg"))
    assert result.returncode == 0, result.stdout + result.stderr


def haproxy_sections() -> dict[str, list[str]]:
    """``"backend alto_api"`` -> its lines, without comments."""
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for raw in (DEPLOY / "haproxy/haproxy.cfg").read_text().splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if line and not line[0].isspace():
            current = sections.setdefault(line, [])
        elif line:
            current.append(" ".join(line.split()))
    return sections


def test_haproxy_routes_the_api_by_readiness_and_postgres_by_patroni() -> None:
    sections = haproxy_sections()
    api, pg = sections["backend alto_api"], sections["backend postgres_primary"]
    assert "option httpchk GET /health/ready" in api
    assert "http-check expect status 200" in api
    assert "default-server inter 2s fall 2 rise 2" in api
    assert [line for line in api if line.startswith("server ")] == [
        f"server alto{n} 10.0.2.2{n}:8080 check" for n in (1, 2, 3)
    ]
    assert "bind :8080" in sections["frontend alto_api"]
    assert "option httpchk GET /primary" in pg
    assert "default-server inter 2s fall 2 rise 2 on-marked-down shutdown-sessions" in pg
    assert [line for line in pg if line.startswith("server ")] == [
        f"server db{n} 10.0.1.1{n}:5432 check port 8008" for n in (1, 2, 3)
    ]
    assert "bind :5000" in sections["frontend postgres_primary"]
    assert "bind 127.0.0.1:8404" in sections["listen stats"]


# --- Patroni ------------------------------------------------------------------------------

#: Patroni 3.0's validator still requires the pre-2.0 ``bootstrap.pg_hba``; the example
#: keeps pg_hba where Patroni reads it now (``postgresql.pg_hba``, written on every node).
OUTDATED_VALIDATOR_MESSAGES = {"bootstrap.pg_hba  is not defined."}


@pytest.fixture
def listening_port() -> Iterator[int]:
    """Something that accepts connections, standing in for etcd for the validator's probe."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_patroni_validator_accepts_the_configuration(tmp_path: Path, listening_port: int) -> None:
    patroni = require("patroni")
    config = load_yaml(DEPLOY / "patroni/patroni.yml")
    config["restapi"]["listen"] = f"127.0.0.1:{free_port()}"
    config["postgresql"]["listen"] = f"127.0.0.1:{free_port()}"
    config["etcd3"]["hosts"] = f"127.0.0.1:{listening_port}"
    result = run(patroni, "--validate-config", str(write_yaml(tmp_path / "patroni.yml", config)))
    complaints = set((result.stdout + result.stderr).splitlines()) - OUTDATED_VALIDATOR_MESSAGES
    assert not complaints, complaints


def test_patroni_settings_are_the_measured_ones() -> None:
    config = load_yaml(DEPLOY / "patroni/patroni.yml")
    dcs = config["bootstrap"]["dcs"]
    assert (dcs["ttl"], dcs["loop_wait"], dcs["retry_timeout"]) == (10, 1, 4)
    assert dcs["loop_wait"] + 2 * dcs["retry_timeout"] <= dcs["ttl"], "Patroni's own rule"
    assert dcs["primary_start_timeout"] == 0
    assert dcs["synchronous_mode"] is True
    assert dcs["synchronous_mode_strict"] is True
    assert dcs["failsafe_mode"] is False
    postgresql = dcs["postgresql"]
    assert (postgresql["use_slots"], postgresql["use_pg_rewind"]) == (False, True)
    assert postgresql["parameters"]["wal_log_hints"] == "on"
    assert postgresql["parameters"]["wal_retrieve_retry_interval"] == "500ms"
    assert config["postgresql"]["bin_dir"] == "/usr/lib/postgresql/15/bin"
    assert config["restapi"]["listen"].endswith(":8008")
    assert len(config["etcd3"]["hosts"].split(",")) == 3
    hba = [" ".join(line.split()) for line in config["postgresql"]["pg_hba"]]
    assert "host replication replicator 10.0.1.0/24 scram-sha-256" in hba
    assert "host alto alto 10.0.2.0/24 scram-sha-256" in hba
    assert hba[-1] == "host all all 0.0.0.0/0 reject"


# --- etcd ---------------------------------------------------------------------------------


def test_etcd_names_three_founding_members() -> None:
    config = load_yaml(DEPLOY / "etcd/etcd.conf.yml")
    members = dict(entry.split("=", 1) for entry in config["initial-cluster"].split(","))
    assert tuple(members) == ETCD_MEMBERS
    assert members[config["name"]] == config["initial-advertise-peer-urls"]
    assert config["listen-peer-urls"] == config["initial-advertise-peer-urls"]
    assert config["initial-cluster-state"] == "new"


def member_config(base: dict[str, Any], number: int, data_dir: Path) -> dict[str, Any]:
    """Member ``number`` as the file's header says: name and its own addresses differ.

    The loopback client URL gets a member-specific placeholder port, so that
    ``on_loopback`` gives each member its own.
    """
    own = {
        key: base[key]
        .replace("10.0.1.11", f"10.0.1.1{number}")
        .replace("127.0.0.1:2379", f"127.0.0.1:2379{number}")
        for key in (
            "listen-peer-urls",
            "initial-advertise-peer-urls",
            "listen-client-urls",
            "advertise-client-urls",
        )
    }
    return {**base, **own, "name": f"etcd{number}", "data-dir": str(data_dir)}


def on_loopback(text: str, ports: dict[str, int]) -> str:
    """Every ``host:port`` of the example moved to its own free loopback port."""

    def replace(match: re.Match[str]) -> str:
        return f"127.0.0.1:{ports.setdefault(match.group(0), free_port())}"

    return re.sub(r"(?:10\.0\.1\.1\d|127\.0\.0\.1):\d+", replace, text)


@pytest.mark.slow
def test_etcd_members_form_a_cluster(tmp_path: Path) -> None:
    etcd, etcdctl = require("etcd"), require("etcdctl")
    base = load_yaml(DEPLOY / "etcd/etcd.conf.yml")
    ports: dict[str, int] = {}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for number in (1, 2, 3):
            config = member_config(base, number, tmp_path / f"data{number}")
            path = tmp_path / f"etcd{number}.yml"
            path.write_text(on_loopback(json.dumps(config), ports))
            with (tmp_path / f"etcd{number}.log").open("wb") as log:
                processes.append(
                    subprocess.Popen([etcd, "--config-file", str(path)], stdout=log, stderr=log)
                )
        client = f"127.0.0.1:{ports['10.0.1.11:2379']}"
        # ``--cluster`` checks the members that have published their client URLs: a member
        # that joined the quorum a moment ago is missing from the report, not unhealthy.
        deadline = time.monotonic() + 30
        while True:
            health = run(etcdctl, f"--endpoints={client}", "endpoint", "health", "--cluster")
            report = health.stdout + health.stderr
            healthy = health.returncode == 0 and report.count("is healthy") == 3
            if healthy or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert health.returncode == 0, report
        assert report.count("is healthy") == 3, report
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)


# --- systemd ------------------------------------------------------------------------------

UNITS = {"alto-server.service": "alto server", "alto-agent.service": "alto agent"}


@pytest.mark.parametrize("unit", sorted(UNITS))
def test_systemd_accepts_the_unit(tmp_path: Path, unit: str) -> None:
    analyze = require("systemd-analyze")
    # verify checks that ExecStart's program exists: point it at this checkout's alto.
    alto = Path(sys.executable).parent / "alto"
    text = (DEPLOY / "systemd" / unit).read_text().replace("/usr/local/bin/alto", str(alto))
    (tmp_path / unit).write_text(text)
    result = run(analyze, "verify", "--man=no", str(tmp_path / unit))
    assert (result.returncode, result.stderr) == (0, ""), result.stderr


@pytest.mark.parametrize(("unit", "command"), sorted(UNITS.items()))
def test_units_run_alto_as_alto_and_restart(unit: str, command: str) -> None:
    text = (DEPLOY / "systemd" / unit).read_text().replace("\\\n", " ")
    lines = {
        line.split("=", 1)[0]: line.split("=", 1)[1]
        for line in text.splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert " ".join(lines["ExecStart"].split()).startswith(f"/usr/local/bin/{command} ")
    assert (lines["User"], lines["Restart"], lines["RestartSec"]) == ("alto", "always", "2")
    assert lines["EnvironmentFile"].startswith("/etc/altostratus/")
    assert (lines["NoNewPrivileges"], lines["ProtectSystem"]) == ("true", "strict")


def test_agent_environment_supplies_what_the_unit_expands() -> None:
    unit = (DEPLOY / "systemd/alto-agent.service").read_text()
    example = (DEPLOY / "systemd/agent.env.example").read_text()
    defined = set(re.findall(r"^(ALTO_\w+)=", example, re.MULTILINE))
    # The agent reads its token from the environment itself (kept out of `ps`).
    assert set(re.findall(r"\$\{?(ALTO_\w+)", unit)) | {"ALTO_AGENT_TOKEN"} == defined
    assert "--token" not in unit


# --- Altostratus --------------------------------------------------------------------------


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``ALTO_*`` from the caller."""
    for name in list(os.environ):
        if name.startswith("ALTO_"):
            monkeypatch.delenv(name)


@pytest.mark.usefixtures("clean_environment")
def test_server_toml_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    for line in (DEPLOY / "systemd/server.env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, value = line.split("=", 1)
            monkeypatch.setenv(name, value)
    settings = load_settings(DEPLOY / "altostratus/server.toml")
    assert settings.database_url is not None
    assert settings.database_url.startswith("ENC(")
    assert settings.data_dir == Path("/var/lib/altostratus")
    assert settings.host == "10.0.2.21", "server.env wins over server.toml"
    assert settings.server_down_after > settings.server_heartbeat_interval
