"""The HA PostgreSQL test cluster does what failover tests rely on.

One Patroni cluster (etcd + three PostgreSQL nodes, synchronous replication) serves the
whole module; each fault test starts from a healthy cluster and brings the node it broke
back as a replica. What is checked is what the application depends on: a primary with a
synchronous standby, an acknowledged write still there on the new primary after each
kind of failure, the multi-host URL finding that primary, and HAProxy sending
connections to the primary only (and, in HTTP mode for the API servers, requests to the
ready servers only).
"""

from __future__ import annotations

import asyncio
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from uuid import UUID, uuid4

import httpx
import pytest

from tests.support.ha_cluster import PatroniCluster, connect_retrying, require_ha
from tests.support.haproxy import Backend, Frontend, HAProxy

# One cluster per module: with pytest-xdist, `--dist loadgroup` keeps these tests on
# one worker (plain `-n` may start a second cluster on the other worker).
# The timeout covers the module's cluster bootstrap, which the first test's setup runs.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ha_cluster"), pytest.mark.timeout(400)]


@pytest.fixture(scope="module", autouse=True)
def acked_table(cluster: PatroniCluster) -> None:
    fetch(cluster.url, "CREATE TABLE acked (id uuid PRIMARY KEY)")


async def _fetch(url: str, query: str, *args: object, within: float) -> object:
    connection = await connect_retrying(url, within)
    try:
        return await connection.fetchval(query, *args, timeout=within)
    finally:
        await connection.close()


def fetch(url: str, query: str, *args: object, within: float = 30.0) -> object:
    """Run ``query`` on the server ``url`` leads to, waiting through a failover."""
    return asyncio.run(_fetch(url, query, *args, within=within))


def insert(url: str) -> tuple[UUID, int]:
    """An acknowledged write: its id, and the port of the server that committed it."""
    row = uuid4()
    port = fetch(url, "INSERT INTO acked VALUES ($1) RETURNING inet_server_port()", row)
    assert isinstance(port, int)
    return row, port


def test_leader_has_a_synchronous_standby(cluster: PatroniCluster) -> None:
    leader = cluster.wait_healthy()
    standby = cluster.sync_standby()
    assert standby is not None
    assert standby != leader
    # PostgreSQL agrees with Patroni: the primary waits for that standby at commit.
    sync_names = fetch(
        cluster.superuser_url(leader),
        "SELECT array_agg(application_name) FROM pg_stat_replication WHERE sync_state = 'sync'",
    )
    assert sync_names == [cluster.nodes[standby].name]
    _row, port = insert(cluster.url)
    assert port == cluster.nodes[leader].pg_port


def test_haproxy_sends_connections_to_the_primary(cluster: PatroniCluster, tmp_path: Path) -> None:
    leader = cluster.wait_healthy()
    frontend = Frontend(
        "postgres",
        [Backend("127.0.0.1", node.pg_port, node.rest_port) for node in cluster.nodes],
        health_path="/primary",
        mode="tcp",
    )
    with HAProxy(tmp_path, [frontend]) as proxy:
        proxy.wait_up("postgres", {leader})
        url = f"postgresql://alto:{cluster.app_password}@127.0.0.1:{frontend.port}/alto"
        row, port = insert(url)
    assert port == cluster.nodes[leader].pg_port
    assert fetch(cluster.node_url(leader), "SELECT count(*) FROM acked WHERE id = $1", row) == 1


@pytest.mark.parametrize("fault", ["kill_postgres", "kill_node", "stop_patroni"])
def test_acknowledged_write_survives_losing_the_primary(
    cluster: PatroniCluster, fault: str
) -> None:
    old = cluster.wait_healthy()
    row, _port = insert(cluster.url)

    getattr(cluster, fault)(old)
    new = cluster.wait_leader(exclude={old}, timeout=60)

    assert fetch(cluster.node_url(new), "SELECT count(*) FROM acked WHERE id = $1", row) == 1
    # The application's URL finds the new primary, which acknowledges writes again.
    _row, port = insert(cluster.url)
    assert port == cluster.nodes[new].pg_port
    cluster.restart_node(old)
    assert fetch(cluster.node_url(old), "SELECT count(*) FROM acked WHERE id = $1", row) == 1


class _Server(BaseHTTPRequestHandler):
    """Answers every path with its server's name; ``/health/ready`` as configured."""

    def do_GET(self) -> None:
        server = self.server
        assert isinstance(server, _NamedServer)
        ready = self.path != "/health/ready" or server.ready
        body = server.name.encode()
        self.send_response(200 if ready else 503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _NamedServer(ThreadingHTTPServer):
    def __init__(self, name: str, ready: bool) -> None:
        super().__init__(("127.0.0.1", 0), _Server)
        self.name = name
        self.ready = ready


def test_haproxy_http_frontend_skips_a_server_that_is_not_ready(tmp_path: Path) -> None:
    require_ha()
    servers = [_NamedServer("a", ready=True), _NamedServer("b", ready=False)]
    threads = [threading.Thread(target=server.serve_forever, daemon=True) for server in servers]
    for thread in threads:
        thread.start()
    try:
        frontend = Frontend("api", [Backend("127.0.0.1", s.server_address[1]) for s in servers])
        with HAProxy(tmp_path, [frontend]) as proxy:
            proxy.wait_up("api", {0})
            answers = {
                httpx.get(f"http://127.0.0.1:{frontend.port}/client/api").text for _ in range(4)
            }
            assert answers == {"a"}
            servers[1].ready = True
            proxy.wait_up("api", {0, 1})
            servers[0].ready = False
            proxy.wait_up("api", {1})
            assert httpx.get(f"http://127.0.0.1:{frontend.port}/").text == "b"
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
