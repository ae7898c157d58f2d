"""An HA PostgreSQL cluster on loopback: one etcd and N PostgreSQL nodes under Patroni.

Built from Debian's packages (patroni, etcd-server, postgresql) for the failover tests
and benches: synchronous replication, so an acknowledged write must survive the loss of
the primary, and fault injection that kills exactly what a crash would kill. Settings
default to the fastest safe ones measured in ``shared/reference/postgres-ha.md``; they
are parameters so a bench can compare others.

PostgreSQL refuses to run as root, so under root the Patroni processes (and so their
PostgreSQL) run as Debian's ``postgres`` user and own the node directories; ``root_dir``
must then be reachable by that user (e.g. made with ``tempfile.mkdtemp`` under /tmp, not
pytest's private ``tmp_path``). Every process logs to a file in ``root_dir``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx

from tests.support.postgres import find_pg_bin, free_port
from tests.support.service import Service

__all__ = [
    "FAILOVER_ERRORS",
    "PatroniCluster",
    "PatroniNode",
    "PatroniSettings",
    "connect_retrying",
    "ha_missing",
    "require_ha",
]

T = TypeVar("T")

#: The programs a cluster (and its load balancer) runs, by Debian package.
_PROGRAMS = {"patroni": "patroni", "etcd": "etcd-server", "haproxy": "haproxy"}
_SUPERUSER = ("postgres", "postgres-secret")
_REPLICATION = ("replicator", "replicator-secret")
_RUNNING = frozenset({"running", "streaming"})


#: What asyncpg raises while a failover is under way: no writable node, a dropped or
#: refused connection, a server shutting down or starting, a demoted node refusing writes,
#: or a connection left unusable by a server that died mid-answer ("another operation is
#: in progress", an ``InternalClientError`` like ``TargetServerAttributeNotMatched``).
FAILOVER_ERRORS = (
    OSError,  # TimeoutError included
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.ReadOnlySQLTransactionError,
    asyncpg.exceptions.InternalClientError,
)


async def connect_retrying(url: str, within: float = 60.0) -> asyncpg.Connection:
    """A connection through ``url`` (to the primary, for the multi-host ``url``), trying
    again for ``within`` seconds while a failover leaves no node to accept it."""
    deadline = time.monotonic() + within
    while True:
        try:
            return await asyncpg.connect(url, timeout=1)
        except FAILOVER_ERRORS:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


def ha_missing() -> list[str]:
    """The Debian packages an HA test needs that are not installed (empty when all are)."""
    missing = [package for program, package in _PROGRAMS.items() if not shutil.which(program)]
    if find_pg_bin() is None:
        missing.append("postgresql")
    return missing


def require_ha() -> None:
    """Skip the calling test when the HA packages are missing; fail if ALTO_REQUIRE_HA=1.

    CI installs the packages and sets the variable, so a broken install cannot pass as a
    skip there, while a developer's machine without them still runs everything else.
    """
    import pytest

    missing = ha_missing()
    if not missing:
        return
    message = f"HA packages not installed: apt-get install {' '.join(missing)}"
    if os.environ.get("ALTO_REQUIRE_HA") == "1":
        pytest.fail(f"ALTO_REQUIRE_HA=1 but {message}")
    pytest.skip(message)


@dataclass(frozen=True)
class PatroniSettings:
    """Patroni's bootstrap DCS settings: how fast a failover is detected and how safe."""

    ttl: int = 10
    loop_wait: int = 1
    retry_timeout: int = 4
    master_start_timeout: int = 0
    synchronous_mode: bool = True
    synchronous_mode_strict: bool = True
    use_slots: bool = False
    use_pg_rewind: bool = True
    #: PostgreSQL parameters kept in the DCS (the same on every node).
    parameters: Mapping[str, str] = field(
        default_factory=lambda: {"wal_log_hints": "on", "wal_retrieve_retry_interval": "500ms"}
    )

    @classmethod
    def from_triple(cls, text: str) -> PatroniSettings:
        """``"10/1/4"`` (ttl/loop_wait/retry_timeout), everything else at its default."""
        ttl, loop_wait, retry_timeout = (int(part) for part in text.split("/"))
        return cls(ttl=ttl, loop_wait=loop_wait, retry_timeout=retry_timeout)

    @property
    def label(self) -> str:
        mode = "async"
        if self.synchronous_mode:
            mode = "sync strict" if self.synchronous_mode_strict else "sync"
        return f"{self.ttl}/{self.loop_wait}/{self.retry_timeout} {mode}"

    def dcs(self) -> dict[str, Any]:
        """The ``bootstrap.dcs`` section of a Patroni configuration."""
        return {
            "ttl": self.ttl,
            "loop_wait": self.loop_wait,
            "retry_timeout": self.retry_timeout,
            "master_start_timeout": self.master_start_timeout,
            "synchronous_mode": self.synchronous_mode,
            "synchronous_mode_strict": self.synchronous_mode_strict,
            "postgresql": {
                "use_slots": self.use_slots,
                "use_pg_rewind": self.use_pg_rewind,
                # A node that cannot rejoin by rewinding is rebuilt from the primary, so
                # a test never hangs on a diverged node (the data is throwaway).
                "remove_data_directory_on_rewind_failure": True,
                "remove_data_directory_on_diverged_timelines": True,
                "parameters": dict(self.parameters),
            },
        }


@dataclass
class PatroniNode:
    """One PostgreSQL server and the Patroni process that manages it."""

    index: int
    directory: Path
    pg_port: int = field(default_factory=free_port)
    rest_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def name(self) -> str:
        return f"pg{self.index}"

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def config_path(self) -> Path:
        return self.directory / "patroni.yml"

    @property
    def log_path(self) -> Path:
        return self.directory.parent / f"{self.name}.log"

    def rest(self, path: str) -> httpx.Response | None:
        """GET ``path`` on the node's Patroni REST API; None while it does not answer."""
        try:
            return httpx.get(f"http://127.0.0.1:{self.rest_port}{path}", timeout=1)
        except httpx.HTTPError:
            return None

    def postmaster_pid(self) -> int | None:
        """The running postmaster of this node's data directory, if any."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        return pid if _is_postgres(pid, self.data_dir) else None

    def patroni_alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class PatroniCluster(Service):
    """etcd plus ``nodes`` Patroni-managed PostgreSQL servers, and an application database.

    Use as a context manager (or ``start()`` / ``stop()``). Nodes are addressed by index
    (0 .. nodes-1, Patroni names ``pg0`` ...). The application connects with ``url``.
    """

    def __init__(
        self,
        root_dir: Path,
        settings: PatroniSettings | None = None,
        nodes: int = 3,
        *,
        app_user: str = "alto",
        app_password: str = "alto-secret",
        app_database: str = "alto",
    ) -> None:
        self.root_dir = root_dir
        self.settings = settings or PatroniSettings()
        self.app_user = app_user
        self.app_password = app_password
        self.app_database = app_database
        bin_dir = find_pg_bin()
        if bin_dir is None:
            raise RuntimeError("no PostgreSQL binaries: apt-get install postgresql")
        self.bin_dir = bin_dir
        self.nodes = [PatroniNode(i, root_dir / f"pg{i}") for i in range(nodes)]
        self.etcd_port = free_port()
        self._etcd_peer_port = free_port()
        self._etcd: subprocess.Popen[bytes] | None = None
        self._as_postgres = os.geteuid() == 0
        #: Postgres processes left running by a killed postmaster: reaped at the latest by stop().
        self._orphans: set[int] = set()

    # -- lifecycle ---------------------------------------------------------------------

    def start(self, timeout: float = 120.0) -> None:
        """Start etcd and every node; return once the application database is writable."""
        self.root_dir.mkdir(parents=True, exist_ok=True)
        if self._as_postgres:
            self.root_dir.chmod(0o755)  # node directories inside belong to postgres
            _check_reachable_by_postgres(self.root_dir)
        self._start_etcd()
        for node in self.nodes:
            node.directory.mkdir()
            self._own(node.directory)
            node.config_path.write_text(json.dumps(self._patroni_config(node), indent=2))
            self._start_patroni(node)
        self.wait_healthy(timeout)
        self._create_app_database()

    def stop(self) -> None:
        """Stop every process this cluster started, by pid; logs stay in ``root_dir``."""
        for node in self.nodes:  # all at once: each takes a few seconds to shut down
            if node.process is not None and node.process.poll() is None:
                node.process.send_signal(signal.SIGTERM)
        for node in self.nodes:
            if node.process is not None:
                try:
                    node.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self._kill_patroni(node)
            self._kill_postmaster(node)
        self._reap_orphans(wait=5.0)
        if self._etcd is not None and self._etcd.poll() is None:
            _terminate(self._etcd)

    # -- addresses ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The multi-host URL the application uses: whichever node is primary answers."""
        hosts = ",".join(f"127.0.0.1:{node.pg_port}" for node in self.nodes)
        return (
            f"postgresql://{self.app_user}:{self.app_password}@{hosts}/{self.app_database}"
            "?target_session_attrs=read-write"
        )

    def node_url(self, node: int) -> str:
        """The application database on one node, whatever its role."""
        return (
            f"postgresql://{self.app_user}:{self.app_password}@127.0.0.1:"
            f"{self.nodes[node].pg_port}/{self.app_database}"
        )

    def superuser_url(self, node: int, database: str = "postgres") -> str:
        user, password = _SUPERUSER
        return f"postgresql://{user}:{password}@127.0.0.1:{self.nodes[node].pg_port}/{database}"

    # -- state -------------------------------------------------------------------------

    def members(self) -> list[dict[str, Any]]:
        """Patroni's view of the cluster (``/cluster`` of the first node that answers)."""
        for node in self.nodes:
            response = node.rest("/cluster")
            if response is not None and response.status_code == 200:
                return list(response.json().get("members", []))
        return []

    def leader(self) -> int | None:
        """The node holding the leader key and running as primary, if any."""
        for member in self.members():
            if member.get("role") == "leader" and member.get("state") in _RUNNING:
                node = self._node_named(member["name"])
                response = node.rest("/primary")
                if response is not None and response.status_code == 200:
                    return node.index
        return None

    def sync_standby(self) -> int | None:
        """The node the primary currently waits for at commit, if any."""
        for member in self.members():
            if member.get("role") == "sync_standby" and member.get("state") in _RUNNING:
                return self._node_named(member["name"]).index
        return None

    def wait_leader(self, exclude: Collection[int] = (), timeout: float = 60.0) -> int:
        """Wait for a primary that is not one of ``exclude`` (e.g. the node just killed)."""

        def leader() -> int | None:
            index = self.leader()
            return index if index is not None and index not in exclude else None

        return _wait_for("a leader", leader, timeout, self._diagnosis)

    def wait_healthy(self, timeout: float = 60.0) -> int:
        """Wait until every node runs, one as primary, and (in synchronous mode) one as its
        synchronous standby, so that a commit can be acknowledged; return the leader."""

        def healthy() -> int | None:
            members = self.members()
            if len(members) < len(self.nodes):
                return None
            if any(member.get("state") not in _RUNNING for member in members):
                return None
            if self.settings.synchronous_mode and self.sync_standby() is None:
                return None
            return self.leader()

        return _wait_for("a healthy cluster", healthy, timeout, self._diagnosis)

    # -- faults ------------------------------------------------------------------------

    def kill_postgres(self, node: int) -> int:
        """SIGKILL the node's postmaster only (Patroni lives on); return its pid.

        Its backends notice the postmaster's death and exit by themselves, as after a
        real crash; they are reaped by ``restart_node`` or ``stop`` if they linger.
        """
        target = self.nodes[node]
        pid = target.postmaster_pid()
        if pid is None:
            raise RuntimeError(f"{target.name} has no running postmaster")
        self._orphans.update(_children(pid))
        os.kill(pid, signal.SIGKILL)
        return pid

    def kill_node(self, node: int) -> None:
        """SIGKILL Patroni and then its postmaster: the whole machine is gone at once.

        Patroni goes first so that it cannot restart PostgreSQL; its leader key (if any)
        stays in etcd until the ttl runs out, as with a real crash.
        """
        target = self.nodes[node]
        self._kill_patroni(target)
        self._kill_postmaster(target)

    def stop_patroni(self, node: int, timeout: float = 60.0) -> None:
        """SIGTERM Patroni and wait: it shuts PostgreSQL down and releases the leader key."""
        target = self.nodes[node]
        if target.process is None:
            return
        target.process.send_signal(signal.SIGTERM)
        try:
            target.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired as error:
            raise TimeoutError(
                f"{target.name}: Patroni still running {timeout} s after SIGTERM"
            ) from error

    def restart_node(self, node: int, timeout: float = 120.0) -> None:
        """Bring ``node`` back (starting Patroni if it is not running) and wait until it
        runs as a replica again: rewound or re-cloned from the primary if it diverged."""
        target = self.nodes[node]
        if not target.patroni_alive():
            self._kill_postmaster(target)
            self._reap_orphans(wait=5.0)
            self._start_patroni(target)

        def replica() -> bool:
            response = target.rest("/replica")
            return response is not None and response.status_code == 200

        _wait_for(f"{target.name} as a replica", replica, timeout, self._diagnosis)

    # -- internals ---------------------------------------------------------------------

    def _node_named(self, name: str) -> PatroniNode:
        return next(node for node in self.nodes if node.name == name)

    def _own(self, path: Path) -> None:
        if self._as_postgres:
            shutil.chown(path, "postgres", "postgres")

    def _start_etcd(self) -> None:
        peer = f"http://127.0.0.1:{self._etcd_peer_port}"
        client = f"http://127.0.0.1:{self.etcd_port}"
        log = (self.root_dir / "etcd.log").open("ab")
        self._etcd = subprocess.Popen(
            [
                "etcd",
                "--name=e0",
                f"--data-dir={self.root_dir / 'etcd'}",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=e0={peer}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

        def healthy() -> bool:
            if self._etcd is not None and self._etcd.poll() is not None:
                raise RuntimeError(f"etcd exited; see {self.root_dir / 'etcd.log'}")
            try:
                health = httpx.get(f"{client}/health", timeout=1).json().get("health")
            except (httpx.HTTPError, ValueError):
                return False
            return bool(health == "true")

        _wait_for("etcd", healthy, 30.0)

    def _patroni_config(self, node: PatroniNode) -> dict[str, Any]:
        """Patroni's YAML configuration for ``node`` (written as JSON, which is YAML)."""
        superuser, superuser_password = _SUPERUSER
        replication, replication_password = _REPLICATION
        return {
            "scope": "alto",
            "namespace": "/service/",
            "name": node.name,
            "log": {"level": "INFO"},
            "restapi": {
                "listen": f"127.0.0.1:{node.rest_port}",
                "connect_address": f"127.0.0.1:{node.rest_port}",
            },
            "etcd3": {"hosts": [f"127.0.0.1:{self.etcd_port}"]},
            "bootstrap": {
                "dcs": self.settings.dcs(),
                "initdb": [{"encoding": "UTF8"}, "data-checksums"],
            },
            "postgresql": {
                "listen": f"127.0.0.1:{node.pg_port}",
                "connect_address": f"127.0.0.1:{node.pg_port}",
                "data_dir": str(node.data_dir),
                "bin_dir": str(self.bin_dir),
                "pgpass": str(node.directory / "pgpass"),
                "authentication": {
                    "superuser": {"username": superuser, "password": superuser_password},
                    "replication": {"username": replication, "password": replication_password},
                },
                "parameters": {"unix_socket_directories": str(node.directory)},
                # Patroni, pg_basebackup and pg_rewind come in without a password on
                # loopback; the application proves its password, as it would in production.
                "pg_hba": [
                    "local all all trust",
                    f"host replication {replication} 127.0.0.1/32 trust",
                    f"host all {superuser} 127.0.0.1/32 trust",
                    "host all all 127.0.0.1/32 scram-sha-256",
                ],
            },
        }

    def _start_patroni(self, node: PatroniNode) -> None:
        log = node.log_path.open("ab")
        user: dict[str, Any] = {}
        if self._as_postgres:
            user = {"user": "postgres", "group": "postgres", "extra_groups": []}
        # Popen's own user switch (not runuser, which forks) keeps Patroni's pid ours to kill.
        node.process = subprocess.Popen(
            ["patroni", str(node.config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(node.directory)},
            cwd=node.directory,
            start_new_session=True,
            **user,
        )
        log.close()

    def _kill_patroni(self, node: PatroniNode) -> None:
        if node.process is not None and node.process.poll() is None:
            node.process.kill()
            node.process.wait()

    def _kill_postmaster(self, node: PatroniNode) -> None:
        pid = node.postmaster_pid()
        if pid is not None:
            self._orphans.update(_children(pid))
            os.kill(pid, signal.SIGKILL)
            _wait_for(f"{node.name}'s postmaster to die", lambda: not _alive(pid), 10.0)

    def _reap_orphans(self, wait: float) -> None:
        """Give backends of killed postmasters ``wait`` seconds to exit, then SIGKILL them."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and any(_is_postgres(pid) for pid in self._orphans):
            time.sleep(0.1)
        for pid in self._orphans:
            if _is_postgres(pid):
                os.kill(pid, signal.SIGKILL)
        self._orphans.clear()

    def _create_app_database(self) -> None:
        """Create the application's role and database, and wait until every node has them.

        A replica that has not replayed CREATE DATABASE yet would answer the multi-host
        URL with "database does not exist" rather than let the client try the next host.
        """
        leader = self.leader()
        if leader is None:
            raise RuntimeError("no leader to create the application database on")
        self._psql(leader, f"CREATE ROLE {self.app_user} LOGIN PASSWORD '{self.app_password}'")
        self._psql(leader, f"CREATE DATABASE {self.app_database} OWNER {self.app_user}")
        exists = f"SELECT count(*) FROM pg_database WHERE datname = '{self.app_database}'"
        _wait_for(
            f"database {self.app_database} on every node",
            lambda: all(self._psql(node.index, exists) == "1" for node in self.nodes),
            30.0,
        )

    def _psql(self, node: int, statement: str) -> str:
        """Run one statement as the superuser on ``node``; its output, unaligned."""
        result = subprocess.run(
            [
                str(self.bin_dir / "psql"),
                "-qXtA",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                statement,
                self.superuser_url(node),
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return result.stdout.strip()

    def _diagnosis(self) -> str:
        """What a timed-out wait prints: each member's state and each log's tail."""
        lines = [json.dumps(self.members())]
        for node in self.nodes:
            try:
                tail = node.log_path.read_text(errors="replace").splitlines()[-15:]
            except OSError:
                tail = []
            lines += [f"--- {node.name} ({node.log_path})", *tail]
        return "\n".join(lines)


def _wait_for(
    what: str,
    probe: Callable[[], T | None],
    timeout: float,
    diagnosis: Callable[[], str] | None = None,
) -> T:
    """Poll ``probe`` until it returns something other than None or False; that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            detail = f"\n{diagnosis()}" if diagnosis else ""
            raise TimeoutError(f"no {what} after {timeout:g} s{detail}")
        time.sleep(0.1)


def _terminate(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _is_postgres(pid: int, data_dir: Path | None = None) -> bool:
    """Whether ``pid`` is a live PostgreSQL process (of ``data_dir``'s postmaster, if given)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if not _alive(pid) or not argv[0].split(b"/")[-1].startswith(b"postgres"):
        return False
    return data_dir is None or os.fsencode(data_dir) in argv


def _children(pid: int) -> Iterator[int]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            if f"\nPPid:\t{pid}\n" in status:
                yield int(entry.name)


def _check_reachable_by_postgres(path: Path) -> None:
    """Fail early, with the fix, when the ``postgres`` user could not reach ``path``."""
    for directory in [path.resolve(), *path.resolve().parents]:
        if not directory.stat().st_mode & stat.S_IXOTH:
            raise PermissionError(
                f"{directory} is not searchable by the postgres user that runs Patroni: "
                "put the cluster under a directory from tempfile.mkdtemp() in /tmp"
            )
