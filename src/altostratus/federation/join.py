"""Joining a region to a federation: ask a peer, then install what it answers.

Runs with the new region's server stopped (``alto region join``): installing replaces
every global row, the keys and the replication state of its database, which a running
server would go on using from memory. The order makes a failed join safe to run again:
the local database is checked before the peer registers anything; the key file is
replaced before the database, so an interrupted join leaves a database that the server
refuses to start with (its key check fails) rather than one that looks joined.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import httpx
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from altostratus.core.files import write_private_json
from altostratus.db import migrate
from altostratus.db.engine import Database
from altostratus.db.models import (
    Account,
    Domain,
    Region,
    ReplicationVector,
    SystemValue,
    User,
)
from altostratus.federation.peers import base_url
from altostratus.federation.snapshot import Snapshot, install_snapshot
from altostratus.security.keyring import Keyring
from altostratus.security.signatures import sign
from altostratus.services.identity.bootstrap import LOCAL_REGION, region_values
from altostratus.settings import Settings
from altostratus.timeutil import format_timestamp, utcnow

__all__ = ["JOIN_PATH", "JoinError", "JoinRequest", "Joined", "join_region", "request_join"]

#: Where an existing region takes in a new one (``api.federation.join``).
JOIN_PATH = "/federation/v1/join"

#: How long the signed join request stays valid (it is answered with the keys).
_REQUEST_LIFETIME = timedelta(minutes=5)


class JoinError(Exception):
    """The join cannot go ahead; the text says why and what to do."""


@dataclass(frozen=True)
class JoinRequest:
    peer: str
    api_key: str
    secret_key: str
    #: ``None``: what the local database was bootstrapped with, else the settings.
    region_id: int | None = None
    region_name: str | None = None
    endpoint: str | None = None


@dataclass(frozen=True)
class Joined:
    region_id: int
    region_name: str
    endpoint: str
    admin_file: Path


@dataclass(frozen=True)
class _Local:
    """What the local database already says about this region (if it was started)."""

    region_id: int | None
    region_name: str | None
    endpoint: str | None


async def join_region(
    settings: Settings, request: JoinRequest, *, http: httpx.AsyncClient | None = None
) -> Joined:
    """Join the region of ``settings`` to the peer's federation; see the module doc."""
    local_keyring = Keyring.load_or_create(settings.resolved_key_file)
    db = Database(local_keyring.unwrap(settings.resolved_database_url))
    try:
        await migrate.upgrade(db)
        async with db.transaction(write=False) as session:
            local = await _check_fresh(session)
        region_id, name, endpoint = _identity(settings, request, local)
        await _refuse_if_serving(endpoint)
        answer = await request_join(
            request, region_id=region_id, name=name, endpoint=endpoint, http=http
        )
        keys = answer["keys"]
        _write_key_file(settings.resolved_key_file, keys["keyfile"])
        keyring = Keyring(keys["keyfile"].encode())
        async with db.transaction(replicating=True) as session:
            username = await session.run_sync(
                lambda s: _install(s, answer, region_id, keyring, request.api_key)
            )
    finally:
        await db.close()
    admin_file = settings.data_dir / "admin.json"
    write_private_json(
        admin_file,
        {
            "endpoint": endpoint,
            "username": username,
            "password": None,
            "apikey": request.api_key,
            "secretkey": request.secret_key,
        },
    )
    return Joined(region_id, name, endpoint, admin_file)


async def request_join(
    request: JoinRequest,
    *,
    region_id: int,
    name: str,
    endpoint: str,
    http: httpx.AsyncClient | None = None,
) -> dict[str, Any]:
    """Ask the peer to register the region; answer its keys and snapshot."""
    params = {
        "regionid": str(region_id),
        "regionname": name,
        "endpoint": endpoint,
        "apikey": request.api_key,
        "signatureversion": "3",
        "expires": format_timestamp(utcnow() + _REQUEST_LIFETIME),
    }
    params["signature"] = sign(params, request.secret_key)
    url = base_url(request.peer) + JOIN_PATH
    client = http or httpx.AsyncClient(timeout=300)
    try:
        response = await client.post(url, data=params)
    except httpx.HTTPError as exc:
        raise JoinError(f"cannot reach the peer at {url}: {exc}") from exc
    finally:
        if http is None:
            await client.aclose()
    if response.status_code != 200:
        raise JoinError(f"the peer refused the join ({response.status_code}): {_why(response)}")
    return cast(dict[str, Any], response.json())


def _why(response: httpx.Response) -> str:
    try:
        (body,) = response.json().values()
        return str(body["errortext"])
    except (ValueError, KeyError, AttributeError, TypeError):
        return response.text[:300]


async def _check_fresh(session: AsyncSession) -> _Local:
    """Refuse a database that holds more than a first start creates; say what it has."""
    bootstrapped = await session.get(SystemValue, LOCAL_REGION)
    if bootstrapped is None:
        return _Local(None, None, None)
    region_id = int(bootstrapped.value)
    others = list(await session.scalars(select(Region.id).where(Region.id != region_id)))
    origins = list(
        await session.scalars(
            select(ReplicationVector.origin).where(
                ReplicationVector.origin != region_id, ReplicationVector.seq > 0
            )
        )
    )
    if others or origins:
        raise JoinError(
            f"this database already belongs to a federation (it knows regions "
            f"{sorted({*others, *origins})}); a region joins once, from a fresh data directory"
        )
    for model, first_start in ((Domain, 1), (Account, 1), (User, 1)):
        count = await session.scalar(select(func.count()).select_from(model))
        if (count or 0) > first_start:
            raise JoinError(
                f"this database holds {model.__tablename__} created here, which joining "
                "would delete (a joining region takes the federation's global tables); "
                "join from a fresh data directory"
            )
    region = await session.get(Region, region_id)
    return _Local(
        region_id,
        region.name if region is not None else None,
        region.endpoint if region is not None else None,
    )


def _identity(settings: Settings, request: JoinRequest, local: _Local) -> tuple[int, str, str]:
    """The joining region's id, name and endpoint: flags, else its database, else settings."""
    if None not in (request.region_id, local.region_id) and request.region_id != local.region_id:
        raise JoinError(
            f"this database was started as region {local.region_id}, not {request.region_id}; "
            "a region's id is fixed at its first start"
        )
    region_id = request.region_id or local.region_id or settings.region_id
    name = request.region_name or local.region_name or settings.region_name
    endpoint = request.endpoint or local.endpoint or settings.endpoint
    return region_id, name, endpoint


async def _refuse_if_serving(endpoint: str) -> None:
    """A server answering at the new region's endpoint would keep the old keys in memory."""
    url = base_url(endpoint) + "/health"
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            answered = (await client.get(url)).status_code == 200
    except httpx.HTTPError:
        return
    if answered:
        raise JoinError(
            f"a server answers at {url}: stop this region's servers before joining "
            "(or give the region's own --endpoint, not the peer's)"
        )


def _write_key_file(path: Path, text: str) -> None:
    """Replace the key file atomically, readable by the owner only (mode 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text.strip() + "\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _install(
    session: Session, answer: dict[str, Any], region_id: int, keyring: Keyring, api_key: str
) -> str:
    """Install the snapshot and the shared keys in one transaction; the admin's username."""
    install_snapshot(session, cast(Snapshot, answer["snapshot"]), region_id)
    keys = answer["keys"]
    session.execute(delete(SystemValue))
    session.add_all(
        region_values(
            keyring,
            region_id=region_id,
            session_key=bytes.fromhex(keys["session"]),
            federation_key=bytes.fromhex(keys["federation"]),
        )
    )
    session.flush()
    username = session.scalar(select(User.username).where(User.api_key == api_key))
    return username or "admin"
