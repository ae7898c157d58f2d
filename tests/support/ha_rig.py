"""The host HA test rig: management servers, simulated hosts and their BMCs in network
namespaces, with links a test can cut (docs/ha.md, "How host HA is tested").

    m     the management servers (``alto server`` on 10.251.B.k, one address each, on m's lo)
    h<i>  host i: ``alto agent --driver simulator`` for one host
    b<i>  host i's BMC (ipmi_sim); its power control starts and kills h<i>'s agent
    s     a Linux bridge joining the hosts' cluster links

    m ──mh<i>/mgmt0── h<i> ──clus0/ch<i>── s (br0)     management link, cluster link
    m ──mb<i>/bmc0─── b<i>                             BMC link

A cut takes the m end of a link down (``mh<i>``, ``mb<i>``) or the bridge port
(``ch<i>``); a drop is an nftables rule in m. The test process reaches the servers only
through ``socat`` forwarders started inside m on unix sockets (``api()``), so no address
of the rig exists outside its namespaces. PostgreSQL (on the root namespace's loopback)
is reached from m through its unix socket directory: ``postgres_url``.

A rig is entered from synchronous code (a module-scoped fixture): it seeds its zone with
``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
import pytest
from sqlalchemy import select

from altostratus.db.models import Zone
from altostratus.runtime import Runtime
from altostratus.services.agents.link import zone_token
from altostratus.settings import Settings
from tests.support import host_power
from tests.support.bmc import IpmiSim
from tests.support.client import ApiClient
from tests.support.host_power import LauncherSpec
from tests.support.netns import Drop, Namespace, NamespaceSet, veth
from tests.support.postgres import TemporaryPostgres

__all__ = [
    "API_PORT",
    "BMC_CREDENTIALS",
    "ZONE",
    "AgentArgs",
    "HaRig",
    "RigHost",
    "RigServer",
    "postgres_url",
    "rig_database",
    "rig_missing",
]

_ALTO = str(Path(sys.executable).parent / "alto")
#: The agent alone: it starts in about a second, where ``alto agent`` takes several.
_ALTO_AGENT = str(Path(sys.executable).parent / "alto-agent")
API_PORT = 8080
BMC_CREDENTIALS = ("admin", "rig-secret")
ZONE = "z1"
#: Rigs made by this process so far: with the xdist worker, picks the rig's subnet.
_rig_count = 0


#: What a rig runs besides Python, by Debian package (scripts/test installs them).
_PROGRAMS = {
    "ip": "iproute2",
    "nft": "nftables",
    "socat": "socat",
    "ipmi_sim": "openipmi",
    "ipmitool": "ipmitool",
}


def rig_missing() -> str | None:
    """Why no rig can run here (not root, or which packages to install), or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    missing = sorted(
        {package for program, package in _PROGRAMS.items() if not shutil.which(program)}
    )
    return f"apt-get install {' '.join(missing)}" if missing else None


def postgres_url(postgres: TemporaryPostgres, database: str) -> str:
    """A URL of ``database`` through the cluster's unix socket directory: sockets on the
    filesystem work from every namespace, its TCP port only on the root's loopback."""
    return f"postgresql://alto@/{database}?host={postgres.root}&port={postgres.port}"


#: Databases made for rigs by this process so far, for unique names.
_rig_databases = itertools.count(1)


def rig_database(request: pytest.FixtureRequest, backend: str) -> str | None:
    """The ``database_url`` of a rig on ``backend`` (``None``: the rig's own SQLite file),
    after skipping the test if no rig can run here (failing it with ``ALTO_REQUIRE_HA=1``).

    PostgreSQL is a new database of the session's ``postgres`` fixture, reached through
    its unix socket directory (``postgres_url``).
    """
    if (why := rig_missing()) is not None:
        if os.environ.get("ALTO_REQUIRE_HA") == "1":
            pytest.fail(f"ALTO_REQUIRE_HA=1 but {why}")
        pytest.skip(why)
    if backend != "postgresql":
        return None
    postgres: TemporaryPostgres = request.getfixturevalue("postgres")
    name = f"alto_rig_{os.getpid()}_{next(_rig_databases)}"
    postgres.create_database(name)
    return postgres_url(postgres, name)


def _subnet_base() -> int:
    """Third octet of this rig's 10.251.B.0/22: unique per xdist worker and per rig."""
    global _rig_count
    _rig_count += 1
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    return 4 * ((int(worker or 0) * 16 + _rig_count) % 64)


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ALTO_")}


@dataclass(frozen=True)
class RigHost:
    number: int
    #: The host's name in the API (``listHosts``) and in the ledger.
    name: str
    netns: Namespace
    bmc_netns: Namespace
    #: h<i>'s end of the management link, and m's end (the agent's gateway to the servers).
    management_address: str
    management_gateway: str
    cluster_address: str
    bmc_address: str

    @property
    def management_device(self) -> str:
        """m's end of the management link: down is the cut."""
        return f"mh{self.number}"

    @property
    def bmc_device(self) -> str:
        return f"mb{self.number}"

    @property
    def cluster_port(self) -> str:
        """The bridge's port (in s) of this host's cluster link."""
        return f"ch{self.number}"


class RigServer:
    """``alto server`` number ``number`` in m, and the socat forwarder to it, which
    outlives the server's restarts."""

    def __init__(
        self,
        number: int,
        *,
        m: Namespace,
        address: str,
        data_dir: Path,
        socket_path: Path,
        database_url: str,
        env: dict[str, str],
    ) -> None:
        self.number = number
        self.m = m
        self.address = address
        self.endpoint = f"http://{address}:{API_PORT}"
        self.data_dir = data_dir
        self.socket_path = socket_path
        self.database_url = database_url
        self.env = env
        self.log_path = data_dir.parent / f"server{number}.log"
        self._forwarder_log = data_dir.parent / f"forwarder{number}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._forwarder: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        """Start the server (and the forwarder, the first time); return once it answers."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._forwarder is None:
            with self._forwarder_log.open("ab") as log:
                self._forwarder = self.m.popen(
                    [
                        "socat",
                        f"UNIX-LISTEN:{self.socket_path},fork,unlink-early",
                        f"TCP:{self.address}:{API_PORT}",
                    ],
                    log=log,
                )
        with self.log_path.open("ab") as log:
            self.process = self.m.popen(
                [
                    *(_ALTO, "server", "--data-dir", str(self.data_dir)),
                    *("--host", self.address, "--port", str(API_PORT)),
                    *("--database-url", self.database_url),
                ],
                log=log,
                env=self.env,
            )
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        transport = httpx.HTTPTransport(uds=str(self.socket_path))
        with httpx.Client(transport=transport, base_url="http://alto", timeout=1) as http:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise RuntimeError(f"server {self.number} exited: {self._log_tail()}")
                try:
                    if http.get("/health").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
        raise RuntimeError(f"server {self.number} not ready: {self._log_tail()}")

    def _log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the server: a crash, no goodbye to its peers or its agents."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM, SIGKILL after ``grace`` seconds; and the forwarder."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._forwarder is not None:
            self._forwarder.kill()
            self._forwarder.wait()
            self._forwarder = None


#: Extra ``alto agent`` arguments for one host (``--ledger``, ``--probe-listen`` …).
AgentArgs = Callable[["HaRig", RigHost], Sequence[str]]


def _no_agent_args(_rig: HaRig, _host: RigHost) -> Sequence[str]:
    return ()


class HaRig:
    """``hosts`` simulated hosts with BMCs, ``servers`` management servers (the first one
    bootstraps the database; all share its key file), a zone ``z1`` with pod ``p1`` and
    cluster ``c1`` (Simulator) that the hosts join, and their agents running.

    ``server_env`` adds ``ALTO_*`` settings (e.g. short heartbeat clocks);
    ``extra_agent_args(rig, host)`` adds arguments to each host's ``alto agent`` (asked
    once, when the rig is built: every power on starts the same command).
    ``shared_storage`` is a directory every host sees; ``ledger`` is the file launchers
    append ``host-off`` entries to.
    """

    def __init__(
        self,
        tmp_path: Path,
        *,
        hosts: int = 3,
        database_url: str | None = None,
        server_env: Mapping[str, str] | None = None,
        servers: int = 1,
        extra_agent_args: AgentArgs = _no_agent_args,
    ) -> None:
        if not 1 <= servers <= 9 or not 1 <= hosts <= 60:
            raise ValueError("a rig has 1-9 servers and 1-60 hosts")
        self.dir = tmp_path
        self.database_url = database_url or f"sqlite:///{tmp_path / 'alto.db'}"
        self.shared_storage = tmp_path / "shared-storage"
        self.ledger = tmp_path / "ledger.jsonl"
        self._host_count = hosts
        self._server_count = servers
        self._server_env = dict(server_env or {})
        self._agent_args = extra_agent_args
        #: The rig's addresses are 10.251.B.0/22: B servers, B+1 management links, B+2
        #: BMC links, B+3 the cluster bridge.
        self._base = _subnet_base()
        self._stack = ExitStack()
        self.hosts: list[RigHost] = []
        self.servers: list[RigServer] = []
        self.bmcs: list[IpmiSim] = []

    # -- building ---------------------------------------------------------------------

    def __enter__(self) -> Self:
        try:
            self._build()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self._stack.close()

    def _build(self) -> None:
        self.shared_storage.mkdir(parents=True, exist_ok=True)
        self.ledger.touch()
        # Unix socket paths must stay under 108 bytes: not under pytest's tmp_path.
        sockets = Path(tempfile.mkdtemp(prefix="altorig-"))
        self._stack.callback(shutil.rmtree, sockets, ignore_errors=True)
        namespaces = self._stack.enter_context(NamespaceSet())
        self._wire(namespaces)
        env = {
            **_clean_env(),
            "ALTO_PASSWORD_TIME_COST": "1",
            "ALTO_PASSWORD_MEMORY_KIB": "64",
            # Federation workers off: the rig has one region; compute workers stay on.
            "ALTO_BACKGROUND_WORKERS": "0",
            "ALTO_KEY_FILE": str(self.dir / "secret.key"),
            **self._server_env,
        }
        for server in self._new_servers(sockets, env):
            self.servers.append(server)
            # A graceful stop on PostgreSQL waits ~10 s for long polls of agents that
            # are gone by then: the rig's teardown does not wait for that.
            self._stack.callback(server.stop, grace=2.0)
            server.start()  # one after the other: the first bootstraps the database
        token = asyncio.run(self._seed())
        for host in self.hosts:
            self._start_bmc(host, token)

    def _wire(self, namespaces: NamespaceSet) -> None:
        base = self._base
        self.m = namespaces.create("m")
        self.s = namespaces.create("s")
        self.s.ip("link", "add", "br0", "type", "bridge")
        self.s.set_link("br0", up=True)
        for number in range(1, self._server_count + 1):
            self.m.add_address("lo", f"10.251.{base}.{number}/32")
        for i in range(1, self._host_count + 1):
            host = RigHost(
                number=i,
                name=f"host{i}-1",  # alto agent --name-prefix host{i}- names it so
                netns=namespaces.create(f"h{i}"),
                bmc_netns=namespaces.create(f"b{i}"),
                management_address=f"10.251.{base + 1}.{4 * i + 2}",
                management_gateway=f"10.251.{base + 1}.{4 * i + 1}",
                cluster_address=f"10.251.{base + 3}.{10 + i}",
                bmc_address=f"10.251.{base + 2}.{4 * i + 2}",
            )
            veth(self.m, host.management_device, host.netns, "mgmt0")
            self.m.add_address(host.management_device, f"{host.management_gateway}/30")
            host.netns.add_address("mgmt0", f"{host.management_address}/30")
            host.netns.add_route(f"10.251.{base}.0/24", host.management_gateway)
            veth(self.s, host.cluster_port, host.netns, "clus0")
            self.s.ip("link", "set", "dev", host.cluster_port, "master", "br0")
            host.netns.add_address("clus0", f"{host.cluster_address}/24")
            veth(self.m, host.bmc_device, host.bmc_netns, "bmc0")
            self.m.add_address(host.bmc_device, f"10.251.{base + 2}.{4 * i + 1}/30")
            host.bmc_netns.add_address("bmc0", f"{host.bmc_address}/30")
            self.hosts.append(host)

    def _new_servers(self, sockets: Path, env: dict[str, str]) -> list[RigServer]:
        return [
            RigServer(
                number,
                m=self.m,
                address=f"10.251.{self._base}.{number}",
                data_dir=self.dir / f"server{number}",
                socket_path=sockets / f"api{number}.sock",
                database_url=self.database_url,
                env=env,
            )
            for number in range(1, self._server_count + 1)
        ]

    async def _seed(self) -> str:
        """Create the zone, pod and cluster the hosts join; return the zone's token."""
        async with self.api() as admin:
            zone = (
                await admin.ok(
                    "createZone",
                    name=ZONE,
                    dns1="10.251.255.1",
                    internaldns1="10.251.255.2",
                    networktype="Advanced",
                )
            )["zone"]
            pod = (
                await admin.ok(
                    "createPod",
                    zoneid=zone["id"],
                    name="p1",
                    gateway="192.168.10.1",
                    netmask="255.255.255.0",
                )
            )["pod"]
            await admin.ok(
                "addCluster",
                zoneid=zone["id"],
                podid=pod["id"],
                clustername="c1",
                clustertype="CloudManaged",
                hypervisor="Simulator",
            )
        return await self._token()

    async def _token(self) -> str:
        """The zone's agent token, read in this process the way ``alto agent token``
        reads it (the command would import the whole CLI again: seconds of CPU)."""
        settings = Settings(
            data_dir=self.servers[0].data_dir,
            database_url=self.database_url,
            key_file=self.dir / "secret.key",
            background_workers=False,
        )
        runtime = await Runtime.start(settings)
        try:
            async with runtime.db.transaction() as session:
                zone = await session.scalar(select(Zone).where(Zone.name == ZONE))
                assert zone is not None
                return await zone_token(session, runtime.deps.keyring, zone)
        finally:
            await runtime.close()

    def _start_bmc(self, host: RigHost, token: str) -> None:
        spec_path = self.dir / f"host{host.number}.json"
        LauncherSpec(
            host=host.name,
            netns=host.netns.name,
            argv=self.agent_command(host),
            env={**_clean_env(), "ALTO_AGENT_TOKEN": token},
            log=str(self.dir / f"host{host.number}.log"),
            ledger=str(self.ledger),
        ).write(spec_path)
        startcmd = shlex.join([sys.executable, host_power.__file__, str(spec_path)])
        bmc = IpmiSim(
            netns=host.bmc_netns.name,
            address=host.bmc_address,
            startcmd=startcmd,
            username=BMC_CREDENTIALS[0],
            password=BMC_CREDENTIALS[1],
            powered_on=True,
        )
        self.bmcs.append(bmc)
        self._stack.enter_context(bmc)

    def agent_command(self, host: RigHost) -> list[str]:
        """``alto-agent`` for ``host``: every server, in order, then the extra arguments."""
        endpoints = [arg for server in self.servers for arg in ("--endpoint", server.endpoint)]
        return [
            *(_ALTO_AGENT, *endpoints, "--driver", "simulator"),
            *("--hosts", "1", "--name-prefix", f"host{host.number}-"),
            *self._agent_args(self, host),
        ]

    # -- using ------------------------------------------------------------------------

    @asynccontextmanager
    async def api(self, server: int = 1) -> AsyncIterator[ApiClient]:
        """The root admin's client, through server ``server``'s forwarder."""
        live = self.servers[server - 1]
        keys = json.loads((self.servers[0].data_dir / "admin.json").read_text())
        transport = httpx.AsyncHTTPTransport(uds=str(live.socket_path))
        async with httpx.AsyncClient(transport=transport, base_url="http://alto") as http:
            yield ApiClient(http, keys["apikey"], keys["secretkey"])

    async def host_states(self, api: ApiClient) -> dict[str, str]:
        """The rig's hosts by name, and their state in ``listHosts``."""
        body = await api.ok("listHosts")
        names = {host.name for host in self.hosts}
        return {
            host["name"]: host["state"] for host in body.get("host", []) if host["name"] in names
        }

    async def wait_for_states(
        self, api: ApiClient, wanted: Mapping[str, str], *, within: float
    ) -> float:
        """Seconds until every host named in ``wanted`` is in its state there."""
        start = time.monotonic()
        while True:
            states = await self.host_states(api)
            if all(states.get(name) == state for name, state in wanted.items()):
                return time.monotonic() - start
            if time.monotonic() - start > within:
                raise AssertionError(f"hosts are {states}, not {dict(wanted)}\n{self.diagnosis()}")
            await asyncio.sleep(0.2)

    def server_of(self, owner: str) -> RigServer:
        """The rig's server whose identity is ``owner`` (``host:pid:random``, as written in
        ``async_jobs.owner`` and on leases): the one whose process has that pid."""
        pid = int(owner.split(":")[1])
        for server in self.servers:
            if server.process is not None and server.process.pid == pid:
                return server
        raise LookupError(f"no server of the rig is {owner}")

    def power(self, host: RigHost, action: str) -> str:
        """``ipmitool … chassis power ACTION`` run inside m against ``host``'s BMC."""
        return self.m.run(
            *("ipmitool", "-I", "lanplus", "-C", "3", "-H", host.bmc_address),
            *("-U", BMC_CREDENTIALS[0], "-P", BMC_CREDENTIALS[1], "chassis", "power", action),
        ).strip()

    def agent_pids(self, host: RigHost) -> list[int]:
        """The processes running in ``host``'s namespace: its agent, while powered on."""
        return host.netns.pids()

    def cut_management(self, host: RigHost, *, cut: bool = True) -> None:
        self.m.set_link(host.management_device, up=not cut)

    def cut_bmc(self, host: RigHost, *, cut: bool = True) -> None:
        self.m.set_link(host.bmc_device, up=not cut)

    def cut_cluster(self, host: RigHost, *, cut: bool = True) -> None:
        self.s.set_link(host.cluster_port, up=not cut)

    def drop_to_host(self, host: RigHost) -> Drop:
        """Drop, in m, every packet m sends to ``host``'s management address (one way)."""
        return self.m.add_drop(destination=host.management_address)

    def ledger_entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.ledger.read_text().splitlines() if line]

    def diagnosis(self, tail: int = 1500) -> str:
        """The end of every log of the rig, for an assertion's message."""
        logs = [*sorted(self.dir.glob("server*.log")), *sorted(self.dir.glob("host*.log"))]
        return "\n".join(
            [
                *(
                    f"--- {path.relative_to(self.dir)}\n{path.read_text(errors='replace')[-tail:]}"
                    for path in logs
                ),
                *(
                    f"--- bmc of {host.name}\n{bmc.log()[-tail:]}"
                    for host, bmc in zip(self.hosts, self.bmcs, strict=False)
                ),
            ]
        )
