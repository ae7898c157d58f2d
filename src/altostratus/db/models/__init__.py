"""All tables; importing this module registers every model on ``Base.metadata``."""

from altostratus.db.models.base import Base, PublicEntity, new_uuid
from altostratus.db.models.events import Event
from altostratus.db.models.federation import (
    EntityVersion,
    PeerVector,
    ReplicationEntry,
    ReplicationVector,
)
from altostratus.db.models.identity import (
    Account,
    AccountType,
    Domain,
    EntityState,
    Role,
    RoleType,
    SessionRevocation,
    User,
)
from altostratus.db.models.inventory import Cluster, Pod, Zone
from altostratus.db.models.jobs import AsyncJob
from altostratus.db.models.regions import Region
from altostratus.db.models.system import SystemValue

__all__ = [
    "Account",
    "AccountType",
    "AsyncJob",
    "Base",
    "Cluster",
    "Domain",
    "EntityState",
    "EntityVersion",
    "Event",
    "PeerVector",
    "Pod",
    "PublicEntity",
    "Region",
    "ReplicationEntry",
    "ReplicationVector",
    "Role",
    "RoleType",
    "SessionRevocation",
    "SystemValue",
    "User",
    "Zone",
    "new_uuid",
]
