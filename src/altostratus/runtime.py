"""The composition root: builds every collaborator once and hands them out explicitly."""

from __future__ import annotations

import logging
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

from altostratus.core.context import Dependencies
from altostratus.core.files import make_private_dir, write_private_json
from altostratus.core.region_counts import RegionCounts
from altostratus.db import migrate
from altostratus.db.engine import Database
from altostratus.federation.context import Federation
from altostratus.federation.hlc import HybridClock
from altostratus.federation.outbox import Outbox, resume_clock
from altostratus.security.keyring import Keyring
from altostratus.security.passwords import Passwords
from altostratus.security.sessions import SessionSigner
from altostratus.services.identity.bootstrap import AdminCredentials, bootstrap
from altostratus.services.quickstart import seed_quickstart
from altostratus.settings import Settings

__all__ = ["Runtime", "write_admin_file"]

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    deps: Dependencies
    #: Records local changes of global entities in the replication log.
    outbox: Outbox
    #: Shared by every region of the federation; signs region-to-region requests.
    federation_key: bytes
    #: The root admin's credentials when this start created them, else ``None``.
    new_admin: AdminCredentials | None

    @classmethod
    async def start(cls, settings: Settings) -> Runtime:
        """Open the database, migrate it, bootstrap it on first start."""
        make_private_dir(settings.data_dir)
        keyring = Keyring.load_or_create(settings.resolved_key_file)
        read_url = settings.read_database_url
        db = Database(
            keyring.unwrap(settings.resolved_database_url),
            read_url=keyring.unwrap(read_url) if read_url else None,
        )
        try:
            await migrate.upgrade(db)
            passwords = Passwords(
                time_cost=settings.password_time_cost,
                memory_cost_kib=settings.password_memory_kib,
                parallelism=settings.password_parallelism,
            )
            state = await bootstrap(db, settings, keyring, passwords)
            clock = HybridClock(state.local_region_id)
            await resume_clock(db, clock)
            if settings.quickstart and await seed_quickstart(db) is not None:
                log.warning(
                    "quick start: created zone1 with simulated hosts, offerings and a template"
                )
        except BaseException:
            await db.close()
            raise
        outbox = Outbox(state.local_region_id, clock)
        server_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        outbox.install(db)
        deps = Dependencies(
            settings=settings,
            keyring=keyring,
            passwords=passwords,
            sessions=SessionSigner(state.session_key),
            counts=RegionCounts(server_id),
            local_region_id=state.local_region_id,
            server_id=server_id,
        )
        return cls(
            settings=settings,
            db=db,
            deps=deps,
            outbox=outbox,
            federation_key=state.federation_key,
            new_admin=state.admin,
        )

    @property
    def federation(self) -> Federation:
        """What the federation's workers are handed (not the whole runtime)."""
        return Federation(self.db, self.deps, self.outbox, self.federation_key)

    async def close(self) -> None:
        await self.db.close()


def write_admin_file(path: Path, endpoint: str, admin: AdminCredentials) -> None:
    """Write the root admin's credentials, readable by the owner only (mode 0600)."""
    write_private_json(
        path,
        {
            "endpoint": endpoint,
            "username": admin.username,
            "password": admin.password,
            "apikey": admin.api_key,
            "secretkey": admin.secret_key,
        },
    )
