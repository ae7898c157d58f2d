"""All tables; importing this module registers every model on ``Base.metadata``."""

from altostratus.db.models.alerts import Alert
from altostratus.db.models.base import Base, PublicEntity, new_uuid
from altostratus.db.models.catalog import DiskOffering, OsType, ServiceOffering, Template
from altostratus.db.models.compute import (
    InstanceGroup,
    Snapshot,
    SnapshotPolicy,
    VirtualMachine,
    VmSnapshot,
    Volume,
)
from altostratus.db.models.counters import RegionCounter
from altostratus.db.models.events import Event
from altostratus.db.models.federation import (
    EntityVersion,
    PeerPull,
    PeerVector,
    ReplicationEntry,
    ReplicationVector,
)
from altostratus.db.models.host_ha import HaScope, HostHa
from altostratus.db.models.hosts import Host, HostCommand
from altostratus.db.models.identity import (
    Account,
    AccountType,
    Domain,
    EntityState,
    Permission,
    Role,
    RolePermission,
    RoleState,
    RoleType,
    SessionRevocation,
    User,
)
from altostratus.db.models.images import ImageStore, ImageStoreProvider
from altostratus.db.models.inventory import Cluster, Pod, Zone
from altostratus.db.models.jobs import AsyncJob
from altostratus.db.models.leases import Lease
from altostratus.db.models.network import (
    IpAddress,
    Network,
    NetworkOffering,
    Nic,
    SecurityGroup,
    SecurityGroupRule,
)
from altostratus.db.models.oobm import OutOfBandCluster, OutOfBandManagement, OutOfBandZone
from altostratus.db.models.projects import Project, ProjectMember, ProjectRole, ProjectState
from altostratus.db.models.regions import Region
from altostratus.db.models.servers import ManagementServer
from altostratus.db.models.system import ConfigurationValue, SystemValue
from altostratus.db.models.tenancy import AffinityGroup, ResourceLimit, ResourceTag, SshKeyPair
from altostratus.db.models.usage import UsageRecord
from altostratus.db.models.webhooks import (
    DeliveryState,
    Webhook,
    WebhookDelivery,
    WebhookScope,
    WebhookState,
)

__all__ = [
    "Account",
    "AccountType",
    "AffinityGroup",
    "Alert",
    "AsyncJob",
    "Base",
    "Cluster",
    "ConfigurationValue",
    "DeliveryState",
    "DiskOffering",
    "Domain",
    "EntityState",
    "EntityVersion",
    "Event",
    "HaScope",
    "Host",
    "HostCommand",
    "HostHa",
    "ImageStore",
    "ImageStoreProvider",
    "InstanceGroup",
    "IpAddress",
    "Lease",
    "ManagementServer",
    "Network",
    "NetworkOffering",
    "Nic",
    "OsType",
    "OutOfBandCluster",
    "OutOfBandManagement",
    "OutOfBandZone",
    "PeerPull",
    "PeerVector",
    "Permission",
    "Pod",
    "Project",
    "ProjectMember",
    "ProjectRole",
    "ProjectState",
    "PublicEntity",
    "Region",
    "RegionCounter",
    "ReplicationEntry",
    "ReplicationVector",
    "ResourceLimit",
    "ResourceTag",
    "Role",
    "RolePermission",
    "RoleState",
    "RoleType",
    "SecurityGroup",
    "SecurityGroupRule",
    "ServiceOffering",
    "SessionRevocation",
    "Snapshot",
    "SnapshotPolicy",
    "SshKeyPair",
    "SystemValue",
    "Template",
    "UsageRecord",
    "User",
    "VirtualMachine",
    "VmSnapshot",
    "Volume",
    "Webhook",
    "WebhookDelivery",
    "WebhookScope",
    "WebhookState",
    "Zone",
    "new_uuid",
]
