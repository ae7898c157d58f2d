"""First start of a region's database: keys, local region, default roles, ROOT and admin.

Several servers may start together on one new PostgreSQL database; each tries the same
single transaction and the losers of the race find the work done.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.db.engine import Database
from altostratus.db.models import (
    Account,
    AccountType,
    Domain,
    Region,
    RoleType,
    SystemValue,
    User,
)
from altostratus.security.apikeys import generate_key_pair, generate_password
from altostratus.security.keyring import KeyFileMismatch, Keyring
from altostratus.security.passwords import Passwords
from altostratus.services.identity.roles import default_roles
from altostratus.settings import Settings

__all__ = [
    "FEDERATION_KEY",
    "KEY_CHECK",
    "LOCAL_REGION",
    "SESSION_KEY",
    "AdminCredentials",
    "BootstrapState",
    "bootstrap",
    "region_values",
]

KEY_CHECK = "key-check"
SESSION_KEY = "session-signing-key"
LOCAL_REGION = "local-region-id"
FEDERATION_KEY = "federation-key"


@dataclass(frozen=True)
class AdminCredentials:
    """The root admin's credentials, known in clear only to the server that created them."""

    username: str
    password: str
    api_key: str
    secret_key: str


@dataclass(frozen=True)
class BootstrapState:
    local_region_id: int
    session_key: bytes
    #: Signs region-to-region requests; every region of a federation shares it.
    federation_key: bytes
    #: Set only on the start that created the admin.
    admin: AdminCredentials | None


async def bootstrap(
    db: Database, settings: Settings, keyring: Keyring, passwords: Passwords
) -> BootstrapState:
    for _attempt in range(3):
        try:
            async with db.transaction() as session:
                return await _bootstrap(session, settings, keyring, passwords)
        except IntegrityError:
            continue  # another server bootstrapped the same database first
    raise RuntimeError("could not bootstrap the database: concurrent starts kept colliding")


async def _bootstrap(
    session: AsyncSession, settings: Settings, keyring: Keyring, passwords: Passwords
) -> BootstrapState:
    values = {row.name: row.value for row in await session.scalars(select(SystemValue))}
    if KEY_CHECK in values:
        try:
            keyring.decrypt(values[KEY_CHECK])
        except KeyFileMismatch:
            raise KeyFileMismatch(
                f"the key file {settings.resolved_key_file} did not encrypt this database's "
                "secrets: every server of a region needs the same key file"
            ) from None
        return BootstrapState(
            local_region_id=int(values[LOCAL_REGION]),
            session_key=bytes.fromhex(keyring.decrypt(values[SESSION_KEY])),
            federation_key=bytes.fromhex(keyring.decrypt(values[FEDERATION_KEY])),
            admin=None,
        )

    session_key = secrets.token_bytes(32)
    federation_key = secrets.token_bytes(32)
    session.add_all(
        region_values(
            keyring,
            region_id=settings.region_id,
            session_key=session_key,
            federation_key=federation_key,
        )
    )
    session.add(
        Region(id=settings.region_id, name=settings.region_name, endpoint=settings.endpoint)
    )
    roles = default_roles()
    session.add_all(roles.values())
    root = Domain(name="ROOT", path="ROOT", level=0)
    session.add(root)
    await session.flush()
    admin_account = Account(
        name="admin", domain_id=root.id, type=AccountType.ADMIN, role_id=roles[RoleType.ADMIN].id
    )
    session.add(admin_account)
    await session.flush()
    credentials = AdminCredentials(
        username="admin", password=generate_password(), **_key_pair_fields()
    )
    session.add(
        User(
            username=credentials.username,
            account_id=admin_account.id,
            domain_id=root.id,
            password_hash=await passwords.hash(credentials.password),
            firstname="Admin",
            lastname="User",
            email="admin@localhost",
            api_key=credentials.api_key,
            secret_key_encrypted=keyring.encrypt(credentials.secret_key),
        )
    )
    await session.flush()
    return BootstrapState(
        local_region_id=settings.region_id,
        session_key=session_key,
        federation_key=federation_key,
        admin=credentials,
    )


def region_values(
    keyring: Keyring, *, region_id: int, session_key: bytes, federation_key: bytes
) -> list[SystemValue]:
    """The rows that make a database a region's (also written by a region that joins)."""
    return [
        SystemValue(name=KEY_CHECK, value=keyring.encrypt("altostratus")),
        SystemValue(name=SESSION_KEY, value=keyring.encrypt(session_key.hex())),
        SystemValue(name=FEDERATION_KEY, value=keyring.encrypt(federation_key.hex())),
        SystemValue(name=LOCAL_REGION, value=str(region_id)),
    ]


def _key_pair_fields() -> dict[str, str]:
    pair = generate_key_pair()
    return {"api_key": pair.api_key, "secret_key": pair.secret_key}
