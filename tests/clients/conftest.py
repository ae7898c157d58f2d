"""Live ``alto server`` processes and the helpers the real-client tests share.

The clients under test (``cs``, libcloud, a cloudmonkey-style session) talk HTTP to a
real server process, so what they exercise is the wire format, not our test client.
Each module gets one SQLite-backed server; tests in a module share it, so every name a
test creates is made unique with :func:`unique`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from cs import CloudStack

from tests.support.postgres import TemporaryPostgres
from tests.support.server import LiveServer

__all__ = [
    "PASSWORD",
    "admin_client",
    "create_account",
    "create_database",
    "create_zone",
    "unique",
    "user_fields",
    "user_keys",
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
