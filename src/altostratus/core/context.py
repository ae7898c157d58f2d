"""Who is calling, and what a service call may use."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.core.region_counts import RegionCounts
from altostratus.core.signals import Signals
from altostratus.db.models import Account, AccountType, RoleType, User
from altostratus.security.keyring import Keyring
from altostratus.security.passwords import Passwords
from altostratus.security.sessions import SessionSigner
from altostratus.settings import Settings

__all__ = ["Caller", "Dependencies", "ServiceContext"]


@dataclass(frozen=True)
class Caller:
    """The authenticated user of a request, with what permission checks need."""

    user_id: int
    user_uuid: str
    username: str
    account_id: int
    account_uuid: str
    account_name: str
    account_type: AccountType
    role_type: RoleType
    domain_id: int
    domain_uuid: str
    domain_path: str
    #: Set when the request came with a session rather than a signature.
    session_id: str | None = None
    #: The account's role (its permission rules narrow what ``role_type`` allows).
    role_id: int = 0

    @classmethod
    def of(cls, user: User, account: Account, session_id: str | None = None) -> Caller:
        return cls(
            user_id=user.id,
            user_uuid=user.uuid,
            username=user.username,
            account_id=account.id,
            account_uuid=account.uuid,
            account_name=account.name,
            account_type=AccountType(account.type),
            role_type=account.role.type,
            domain_id=account.domain_id,
            domain_uuid=account.domain.uuid,
            domain_path=account.domain.path,
            session_id=session_id,
            role_id=account.role_id,
        )

    @classmethod
    def anonymous(cls) -> Caller:
        """The caller of ``login``, before anyone is authenticated: it may do nothing."""
        return cls(
            user_id=0,
            user_uuid="",
            username="anonymous",
            account_id=0,
            account_uuid="",
            account_name="anonymous",
            account_type=AccountType.USER,
            role_type=RoleType.USER,
            domain_id=0,
            domain_uuid="",
            domain_path="",
        )

    @property
    def is_root_admin(self) -> bool:
        return self.role_type is RoleType.ADMIN

    @property
    def is_domain_admin(self) -> bool:
        """A resource admin manages its domain as a domain admin does (CloudStack's type 3)."""
        return self.role_type in (RoleType.DOMAIN_ADMIN, RoleType.RESOURCE_ADMIN)

    def manages_domain_path(self, path: str) -> bool:
        """Root admins manage everything; domain admins their subtree; users nothing."""
        if self.is_root_admin:
            return True
        if not self.is_domain_admin:
            return False
        return path == self.domain_path or path.startswith(self.domain_path + "/")


@dataclass(frozen=True)
class Dependencies:
    """Process-wide collaborators, built once by the composition root."""

    settings: Settings
    keyring: Keyring
    passwords: Passwords
    sessions: SessionSigner
    #: Counts shared by the region's servers: API requests per account, failed logins
    #: per address (``core/region_counts.py``).
    counts: RegionCounts
    #: This region's id, fixed at the first start of its database.
    local_region_id: int
    #: Wake-ups between requests, the job executor and agent links of this process.
    signals: Signals = field(default_factory=Signals)
    #: Names this process in job leases and host connections (``host:pid:random``).
    server_id: str = ""
    #: The settings before run-time overrides, when ``settings`` holds a caller's
    #: effective values (``core/configuration.service_context``).
    configured_from: Settings | None = None

    @property
    def file_settings(self) -> Settings:
        """The settings as configured (file, environment, flags), without overrides."""
        return self.configured_from or self.settings


@dataclass(frozen=True)
class ServiceContext:
    """One service call: its transaction, its caller and the shared collaborators."""

    session: AsyncSession
    caller: Caller
    deps: Dependencies
    #: The client's address as the API layer saw it (empty outside a request).
    client_address: str = ""
