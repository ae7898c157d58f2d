"""Live ``alto server`` processes and the helpers the real-client tests share.

The clients under test (``cs``, libcloud, a cloudmonkey-style session) talk HTTP to a
real server process, so what they exercise is the wire format, not our test client.
Each module gets one SQLite-backed server; tests in a module share it, so every name a
test creates is made unique with :func:`unique`.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cs import CloudStack

from tests.support.postgres import TemporaryPostgres
from tests.support.server import LiveServer

__all__ = [
    "COMPUTE_ENV",
    "PASSWORD",
    "QUICKSTART_HOSTS",
    "Quickstart",
    "admin_client",
    "create_account",
    "create_database",
    "create_zone",
    "quickstart_catalog",
    "quickstart_server",
    "ssh_public_key",
    "unique",
    "user_client",
    "user_fields",
    "user_keys",
    "wait_hosts_up",
]

PASSWORD = "Client-tests-1"


def unique(prefix: str) -> str:
    """A name no other test on the shared server uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_database(postgres: TemporaryPostgres, prefix: str) -> str:
    """An empty PostgreSQL database for a live server; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    return postgres.create_database(name)


def admin_client(server: LiveServer, **options: Any) -> CloudStack:
    """A ``cs`` client signed with the root admin's keys; polls async jobs quickly."""
    admin = server.admin
    options.setdefault("poll_interval", 0.1)
    options.setdefault("job_timeout", 30)
    return CloudStack(
        endpoint=server.endpoint, key=admin["apikey"], secret=admin["secretkey"], **options
    )


def user_fields(username: str) -> dict[str, str]:
    """The fields CloudStack requires of every new user (createAccount, createUser)."""
    return {
        "username": username,
        "password": PASSWORD,
        "email": f"{username}@example.org",
        "firstname": "Client",
        "lastname": "Test",
    }


def create_account(cs: CloudStack, username: str, **extra: Any) -> dict[str, Any]:
    """A user account (``accounttype=0``) with one user; returns the account."""
    answer = cs.createAccount(accounttype=0, **user_fields(username), **extra)
    account: dict[str, Any] = answer["account"]
    return account


def user_keys(cs: CloudStack, user_id: str) -> tuple[str, str]:
    """A fresh API key pair for a user (``registerUserKeys``)."""
    keys = cs.registerUserKeys(id=user_id)["userkeys"]
    return str(keys["apikey"]), str(keys["secretkey"])


def create_zone(cs: CloudStack, name: str) -> dict[str, Any]:
    answer = cs.createZone(
        name=name, networktype="Advanced", dns1="192.0.2.53", internaldns1="10.0.0.53"
    )
    zone: dict[str, Any] = answer["zone"]
    return zone


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One SQLite-backed server for the whole module."""
    with LiveServer(tmp_path_factory.mktemp("live") / "data") as server:
        yield server


@pytest.fixture
def admin_cs(live: LiveServer) -> CloudStack:
    return admin_client(live)


# --- compute: a quick-start region with simulated hosts ---

#: Fast heartbeats and job polling: compute tests wait on both, and CI has two cores.
COMPUTE_ENV = {"ALTO_HEARTBEAT_INTERVAL": "0.5", "ALTO_JOB_POLL_INTERVAL": "0.2"}

#: What ``alto server --quickstart`` creates (``services.quickstart``).
QUICKSTART_HOSTS = 4


def quickstart_server(
    data_dir: Path, *, extra_env: dict[str, str] | None = None, **options: Any
) -> LiveServer:
    """A server started as ``scripts/run`` starts it, with the fast compute timings."""
    env = {**COMPUTE_ENV, **(extra_env or {})}
    return LiveServer(data_dir, args=("--quickstart",), extra_env=env, **options)


def wait_hosts_up(
    cs: CloudStack, count: int, *, within: float = 60, **filters: Any
) -> list[dict[str, Any]]:
    """The hosts ``listHosts(**filters)`` lists once ``count`` of them are Up.

    Simulated hosts start Connecting; the in-process simulator brings them Up.
    """
    deadline = time.monotonic() + within
    while True:
        hosts: list[dict[str, Any]] = cs.listHosts(**filters).get("host", [])
        if sum(host["state"] == "Up" for host in hosts) >= count:
            return hosts
        if time.monotonic() > deadline:
            states = {host["name"]: host["state"] for host in hosts}
            raise AssertionError(f"fewer than {count} hosts Up after {within}s: {states}")
        time.sleep(0.2)


@dataclass(frozen=True)
class Quickstart:
    """The ids of what the quick start created, looked up by name as a user would."""

    zone_id: str
    small_offering_id: str
    medium_offering_id: str
    template_id: str
    small_disk_id: str
    custom_disk_id: str


def _by_name(items: list[dict[str, Any]], name: str) -> str:
    [found] = [item["id"] for item in items if item["name"] == name]
    return str(found)


def quickstart_catalog(cs: CloudStack) -> Quickstart:
    offerings = cs.listServiceOfferings()["serviceoffering"]
    disks = cs.listDiskOfferings()["diskoffering"]
    templates = cs.listTemplates(templatefilter="executable")["template"]
    return Quickstart(
        zone_id=_by_name(cs.listZones()["zone"], "zone1"),
        small_offering_id=_by_name(offerings, "Small Instance"),
        medium_offering_id=_by_name(offerings, "Medium Instance"),
        template_id=_by_name(templates, "Simulated Linux"),
        small_disk_id=_by_name(disks, "Small"),
        custom_disk_id=_by_name(disks, "Custom"),
    )


def user_client(server: LiveServer, admin: CloudStack, **options: Any) -> CloudStack:
    """A ``cs`` client for a new user account (its own tenant), polling jobs quickly."""
    account = create_account(admin, unique("tenant"))
    key, secret = user_keys(admin, account["user"][0]["id"])
    options.setdefault("poll_interval", 0.1)
    options.setdefault("job_timeout", 60)
    return CloudStack(endpoint=server.endpoint, key=key, secret=secret, **options)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One quick-start server for the module, its simulated hosts Up."""
    with quickstart_server(tmp_path_factory.mktemp("cloud") / "data") as server:
        wait_hosts_up(admin_client(server), QUICKSTART_HOSTS)
        yield server


def ssh_public_key() -> tuple[str, str]:
    """A new OpenSSH public key and its fingerprint as CloudStack shows it (MD5, colons)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = (
        private.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    digest = hashlib.md5(base64.b64decode(public.split()[1])).hexdigest()
    return public, ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
