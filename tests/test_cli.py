"""The ``alto`` command line, run in-process with typer's runner."""

from __future__ import annotations

import asyncio
import os
import pickle
import re
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from typer.main import get_command
from typer.testing import CliRunner

from altostratus.api.app import create_app
from altostratus.cli.main import app
from altostratus.security.keyring import Keyring
from altostratus.security.signatures import sign
from altostratus.settings import Settings
from tests.support.server import LiveServer

runner = CliRunner()


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``ALTO_*`` from the shell; cheap password hashing; a wide terminal for tables."""
    for name in list(os.environ):
        if name.startswith("ALTO_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ALTO_PASSWORD_TIME_COST", "1")
    monkeypatch.setenv("ALTO_PASSWORD_MEMORY_KIB", "64")
    monkeypatch.setenv("COLUMNS", "250")


def _alto(*args: str | Path) -> str:
    result = runner.invoke(app, [str(arg) for arg in args])
    assert result.exit_code == 0, f"alto {args}: {result.output}{result.exception!r}"
    return result.output


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _command_paths(command: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and group below ``command`` (typer vendors click, so duck-typed)."""
    paths = [prefix]
    for name, sub in getattr(command, "commands", {}).items():
        paths += _command_paths(sub, (*prefix, name))
    return paths


def test_every_command_has_help() -> None:
    paths = _command_paths(get_command(app))
    assert {
        ("server",),
        ("db", "upgrade"),
        ("admin", "reset-password"),
        ("admin", "new-keys"),
        ("config", "show"),
        ("secret", "encrypt"),
    } <= set(paths)
    for path in paths:
        output = _alto(*path, "--help")
        assert "Usage:" in output, path
    assert "--data-dir" in _alto("server", "--help")


def test_db_upgrade(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = _alto("db", "upgrade", "--data-dir", data)
    assert "(empty) →" in first
    assert (data / "altostratus.db").exists()
    assert (data / "secret.key").exists()
    head = first.strip().rsplit(" ", 1)[-1]
    assert _alto("db", "upgrade", "--data-dir", data).strip().endswith(f"{head} → {head}")


def _status(settings: Settings, method: str, params: dict[str, str]) -> int:
    """Start a server on ``settings`` in-process and send it one request."""

    async def go() -> int:
        application = create_app(settings)
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                response = await http.request(method, "/client/api", params=params)
                return response.status_code

    return asyncio.run(go())


def _login(settings: Settings, username: str, password: str) -> int:
    params = {"command": "login", "response": "json", "username": username, "password": password}
    return _status(settings, "POST", params)


def _list_regions(settings: Settings, api_key: str, secret_key: str) -> int:
    params = {"command": "listRegions", "response": "json", "apikey": api_key}
    params["signature"] = sign(params, secret_key)
    return _status(settings, "GET", params)


def test_admin_reset_password(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _alto("admin", "reset-password", "--data-dir", data, "--password", "n3w-pass")
    settings = Settings(data_dir=data, password_time_cost=1, password_memory_kib=64)
    assert _login(settings, "admin", "n3w-pass") == 200
    assert _login(settings, "admin", "wrong") == 531
    generated = _alto("admin", "reset-password", "--data-dir", data)
    match = re.search(r"reset: (\S+)", generated)
    assert match, generated
    assert _login(settings, "admin", "n3w-pass") == 531
    assert _login(settings, "admin", match.group(1)) == 200


def test_reset_password_unlocks(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _alto("admin", "reset-password", "--data-dir", data, "--password", "n3w-pass")
    settings = Settings(data_dir=data, password_time_cost=1, password_memory_kib=64)
    for _ in range(settings.login_attempts_allowed):
        _login(settings, "admin", "wrong")
    assert _login(settings, "admin", "n3w-pass") == 531, "locked"
    _alto("admin", "reset-password", "--data-dir", data, "--password", "n3w-pass")
    assert _login(settings, "admin", "n3w-pass") == 200


def test_reset_password_of_unknown_user_fails(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["admin", "reset-password", "--data-dir", str(tmp_path), "--username", "nobody"]
    )
    assert result.exit_code == 1
    assert "nobody" in result.output


def _keys(output: str) -> tuple[str, str]:
    match = re.search(r"apikey:\s+(\S+)\s+secretkey:\s+(\S+)", output)
    assert match, output
    return match.group(1), match.group(2)


def test_admin_new_keys(tmp_path: Path) -> None:
    data = tmp_path / "data"
    old = _keys(_alto("admin", "new-keys", "--data-dir", data))
    new = _keys(_alto("admin", "new-keys", "--data-dir", data))
    assert old != new
    settings = Settings(data_dir=data, password_time_cost=1, password_memory_kib=64)
    assert _list_regions(settings, *new) == 200
    assert _list_regions(settings, *old) == 401


def test_config_show(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "alto.toml"
    config.write_text('region_name = "Nordic"\nport = 9100\n')
    monkeypatch.setenv("ALTO_PORT", "9200")
    output = _alto(
        "config",
        "show",
        "--config",
        config,
        "--database-url",
        "postgresql://alto:topsecret@db.example:5432/alto",
    )
    rows = {line.split("│")[1].strip(): line for line in output.splitlines() if "│" in line}
    assert "Nordic" in rows["region_name"]
    assert "9200" in rows["port"], "ALTO_* overrides the file"
    assert "ALTO_DATA_DIR" in rows["data_dir"]
    assert "postgresql://alto:***@db.example:5432/alto" in rows["database_url"]
    assert "topsecret" not in output


def test_server_hands_its_workers_the_file_not_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``alto server --config``: the app each worker unpickles runs on the file's settings,
    and the command leaves ``os.environ`` as it found it."""
    config = tmp_path / "alto.toml"
    config.write_text(f'region_name = "Nordic"\nport = 9100\ndata_dir = "{tmp_path / "data"}"\n')
    served: list[uvicorn.Config] = []

    def run(self: uvicorn.Server, sockets: object = None) -> None:
        served.append(self.config)
        self.started = True

    monkeypatch.setattr(uvicorn.Server, "run", run)
    before = dict(os.environ)
    _alto("server", "--config", config)
    assert dict(os.environ) == before
    [served_config] = served
    assert served_config.port == 9100
    worker_app = pickle.loads(pickle.dumps(served_config.app))()
    assert isinstance(worker_app, Starlette)

    async def worker_settings() -> Settings:
        async with worker_app.router.lifespan_context(worker_app):
            settings: Settings = worker_app.state.runtime.settings
            return settings

    settings = asyncio.run(worker_settings())
    assert (settings.config, settings.region_name) == (config, "Nordic")


def test_server_says_when_its_port_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A port already in use: one clear sentence naming it and --port, a non-zero exit,
    and nothing started (no data directory, no database, uvicorn never runs)."""

    def run(self: uvicorn.Server, sockets: object = None) -> None:
        raise AssertionError("the server must not start")

    monkeypatch.setattr(uvicorn.Server, "run", run)
    data = tmp_path / "data"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(
            app, ["server", "--data-dir", str(data), "--host", "127.0.0.1", "--port", str(port)]
        )
    assert result.exit_code != 0
    output = " ".join(result.output.split())
    assert f"Cannot listen on 127.0.0.1:{port}" in output
    assert f"port {port} is already in use" in output
    assert "--port" in output
    assert "Traceback" not in output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not data.exists()


def test_server_listens_on_the_socket_it_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The port is free: uvicorn is handed the socket the command bound, on that port."""
    handed: list[int] = []

    def run(self: uvicorn.Server, sockets: list[socket.socket] | None = None) -> None:
        assert sockets is not None
        handed.extend(sock.getsockname()[1] for sock in sockets)
        self.started = True

    monkeypatch.setattr(uvicorn.Server, "run", run)
    port = _free_port()
    _alto("server", "--data-dir", tmp_path / "data", "--host", "127.0.0.1", "--port", str(port))
    assert handed == [port]


def test_served_connections_have_nagle_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every connection the server accepts sends small writes at once: with Nagle's
    algorithm on, a response's second write waits for the client's delayed ACK and
    every keep-alive request takes 40 ms (what `bench/api_wrk_bench.py` showed)."""
    nodelay: list[int] = []

    async def accept_one(listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        accepted: asyncio.Future[asyncio.BaseTransport] = loop.create_future()

        class Recorder(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                accepted.set_result(transport)

        served = await loop.create_server(Recorder, sock=listener)
        _reader, writer = await asyncio.open_connection(*listener.getsockname()[:2])
        transport = await accepted
        nodelay.append(
            transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        )
        writer.close()
        transport.close()
        served.close()

    def run(self: uvicorn.Server, sockets: list[socket.socket] | None = None) -> None:
        assert sockets is not None
        asyncio.run(accept_one(sockets[0]))
        self.started = True

    monkeypatch.setattr(uvicorn.Server, "run", run)
    port = _free_port()
    _alto("server", "--data-dir", tmp_path / "data", "--host", "127.0.0.1", "--port", str(port))
    assert nodelay == [1]


@pytest.mark.slow
def test_server_workers_run_on_the_config_file(tmp_path: Path) -> None:
    """Two real worker processes, the count and the region's name both from the file."""
    config = tmp_path / "alto.toml"
    config.write_text('workers = 2\nregion_name = "FromToml"\n')
    with LiveServer(tmp_path / "data", args=("--config", str(config))) as live:
        params = {"command": "listRegions", "response": "json", "apikey": live.admin["apikey"]}
        params["signature"] = sign(params, live.admin["secretkey"])
        response = httpx.get(live.endpoint, params=params)
        assert response.status_code == 200, response.text
        [region] = response.json()["listregionsresponse"]["region"]
        assert region["name"] == "FromToml"
        assert "Started parent process" in live.log_path.read_text(), "more than one worker"


def test_secret_encrypt_round_trips(tmp_path: Path) -> None:
    data = tmp_path / "data"
    wrapped = _alto("secret", "encrypt", "--data-dir", data, "pa ss=wörd").strip()
    assert wrapped.startswith("ENC(")
    assert "pa ss" not in wrapped
    assert Keyring.load_or_create(data / "secret.key").unwrap(wrapped) == "pa ss=wörd"


def test_encrypted_database_url_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    url = f"sqlite:///{tmp_path / 'hidden.db'}"
    monkeypatch.setenv(
        "ALTO_DATABASE_URL", _alto("secret", "encrypt", "--data-dir", data, url).strip()
    )
    _alto("db", "upgrade", "--data-dir", data)
    assert (tmp_path / "hidden.db").exists()
    assert not (data / "altostratus.db").exists()
