"""Resource limits per account and domain.

``resourcetype`` is CloudStack's number and is answered as a string of it, which is
what Libcloud's ``ex_limits`` looks up; storage limits are in GiB.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from altostratus.api.declarations import ADMINS, ANYONE, CommandSet
from altostratus.api.params import ListParams, Params, Uuid, page_request
from altostratus.api.results import ListResult, ResponseObject, Single
from altostratus.core.context import ServiceContext
from altostratus.services.shared import limits
from altostratus.services.shared.limits import LimitEntry, ResourceType, Usage

__all__ = [
    "ListResourceLimitsParams",
    "ResourceCountResponse",
    "ResourceLimitResponse",
    "UpdateResourceLimitParams",
    "commands",
    "list_resource_limits",
    "resource_count_fields",
    "resource_limit_view",
    "update_resource_limit",
]

commands = CommandSet()

_TYPES = ", ".join(f"{kind.value} {kind.type_name}" for kind in ResourceType)


def _resource_type(value: int) -> int:
    if value not in {kind.value for kind in ResourceType}:
        raise ValueError(f"not a resource type; one of {_TYPES}")
    return value


def _resource_type_name(value: str) -> str:
    if ResourceType.by_name(value) is None:
        raise ValueError(f"not a resource type name; one of {_TYPES}")
    return value.lower()


ResourceTypeNumber = Annotated[int, AfterValidator(_resource_type)]
ResourceTypeName = Annotated[str, AfterValidator(_resource_type_name)]


# --- resource limits ---


class ResourceLimitResponse(ResponseObject):
    account: str | None = None
    domainid: str
    domain: str
    domainpath: str
    resourcetype: str
    resourcetypename: str
    max: int


def resource_limit_view(entry: LimitEntry) -> ResourceLimitResponse:
    return ResourceLimitResponse(
        account=entry.account.name if entry.account is not None else None,
        domainid=entry.domain.uuid,
        domain=entry.domain.name,
        domainpath=entry.domain.path,
        resourcetype=str(entry.resource_type.value),
        resourcetypename=entry.resource_type.type_name,
        max=entry.max,
    )


class UpdateResourceLimitParams(Params):
    resourcetype: ResourceTypeNumber = Field(description=f"Type of resource: {_TYPES}")
    max: int = Field(
        -1, ge=-1, description="Maximum of the resource (storage in GiB); -1 is unlimited"
    )
    account: str | None = Field(
        None, max_length=255, description="Limit this account (of domainid, default the caller's)"
    )
    domainid: Uuid | None = Field(
        None, description="Limit this domain (its whole subtree), or the account's domain"
    )
    projectid: Uuid | None = Field(None, description="Limit this project (instead of account)")


@commands.command(
    "updateResourceLimit",
    UpdateResourceLimitParams,
    description="Sets the limit of one resource type for an account or a domain",
    allowed=ADMINS,
    response=("resourcelimit", ResourceLimitResponse),
    related=("listResourceLimits",),
)
async def update_resource_limit(ctx: ServiceContext, p: UpdateResourceLimitParams) -> Single:
    entry = await limits.update_limit(
        ctx,
        resource_type=ResourceType(p.resourcetype),
        maximum=p.max,
        account_name=p.account,
        domain_uuid=p.domainid,
        project_uuid=p.projectid,
    )
    return Single("resourcelimit", resource_limit_view(entry))


class ListResourceLimitsParams(ListParams):
    account: str | None = Field(
        None, max_length=255, description="List this account's limits (of domainid)"
    )
    domainid: Uuid | None = Field(
        None, description="List this domain's limits, or those of the account in it"
    )
    projectid: Uuid | None = Field(
        None, description="List this project's limits (its members and admins may)"
    )
    resourcetype: ResourceTypeNumber | None = Field(
        None, description=f"Only this type of resource: {_TYPES}"
    )
    resourcetypename: ResourceTypeName | None = Field(
        None, description="Only this type of resource, by name (user_vm, cpu, memory, ...)"
    )

    @model_validator(mode="after")
    def _one_type(self) -> ListResourceLimitsParams:
        named = ResourceType.by_name(self.resourcetypename) if self.resourcetypename else None
        if named is not None and self.resourcetype is not None and named != self.resourcetype:
            raise ValueError("resourcetype and resourcetypename name different types")
        return self

    def kind(self) -> ResourceType | None:
        if self.resourcetype is not None:
            return ResourceType(self.resourcetype)
        return ResourceType.by_name(self.resourcetypename) if self.resourcetypename else None


@commands.command(
    "listResourceLimits",
    ListResourceLimitsParams,
    description="Lists the resource limits of an account or domain (default: the caller's)",
    allowed=ANYONE,
    response=("resourcelimit", ResourceLimitResponse),
    writes=False,
)
async def list_resource_limits(ctx: ServiceContext, p: ListResourceLimitsParams) -> ListResult:
    entries = await limits.list_limits(
        ctx,
        account_name=p.account,
        domain_uuid=p.domainid,
        project_uuid=p.projectid,
        resource_type=p.kind(),
    )
    views = [resource_limit_view(entry) for entry in page_request(ctx, p).slice(entries)]
    return ListResult("resourcelimit", views, len(entries))


# --- the limit fields of account and domain responses ---

_UNLIMITED = "Unlimited"
#: Each resource type's prefix in ``vmlimit``, ``vmtotal``, ``vmavailable``, …
_PREFIXES = {
    ResourceType.INSTANCE: "vm",
    ResourceType.PUBLIC_IP: "ip",
    ResourceType.VOLUME: "volume",
    ResourceType.SNAPSHOT: "snapshot",
    ResourceType.TEMPLATE: "template",
    ResourceType.NETWORK: "network",
    ResourceType.CPU: "cpu",
    ResourceType.MEMORY: "memory",
    ResourceType.PRIMARY_STORAGE: "primarystorage",
    ResourceType.SECONDARY_STORAGE: "secondarystorage",
}


class ResourceCountResponse(ResponseObject):
    """The limit, total and available fields of CloudStack's account and domain responses.

    Limits and what is available are strings, ``Unlimited`` where no limit binds;
    totals are numbers. Storage is in GiB.
    """

    vmlimit: str = Field(description="The limit of VMs, or Unlimited")
    vmtotal: int = Field(description="The VMs in use")
    vmavailable: str = Field(description="The VMs still available, or Unlimited")
    iplimit: str = Field(description="The limit of public IP addresses, or Unlimited")
    iptotal: int = Field(description="The public IP addresses in use")
    ipavailable: str = Field(description="The public IP addresses still available, or Unlimited")
    volumelimit: str = Field(description="The limit of volumes, or Unlimited")
    volumetotal: int = Field(description="The volumes in use")
    volumeavailable: str = Field(description="The volumes still available, or Unlimited")
    snapshotlimit: str = Field(description="The limit of snapshots, or Unlimited")
    snapshottotal: int = Field(description="The snapshots in use")
    snapshotavailable: str = Field(description="The snapshots still available, or Unlimited")
    templatelimit: str = Field(description="The limit of templates, or Unlimited")
    templatetotal: int = Field(description="The templates in use")
    templateavailable: str = Field(description="The templates still available, or Unlimited")
    networklimit: str = Field(description="The limit of networks, or Unlimited")
    networktotal: int = Field(description="The networks in use")
    networkavailable: str = Field(description="The networks still available, or Unlimited")
    cpulimit: str = Field(description="The limit of CPU cores, or Unlimited")
    cputotal: int = Field(description="The CPU cores in use")
    cpuavailable: str = Field(description="The CPU cores still available, or Unlimited")
    memorylimit: str = Field(description="The limit of memory (MiB), or Unlimited")
    memorytotal: int = Field(description="The memory (MiB) in use")
    memoryavailable: str = Field(description="The memory (MiB) still available, or Unlimited")
    primarystoragelimit: str = Field(description="The limit of primary storage (GiB), or Unlimited")
    primarystoragetotal: int = Field(description="The primary storage (GiB) in use")
    primarystorageavailable: str = Field(
        description="The primary storage (GiB) still available, or Unlimited"
    )
    secondarystoragelimit: str = Field(
        description="The limit of secondary storage (GiB), or Unlimited"
    )
    secondarystoragetotal: int = Field(description="The secondary storage (GiB) in use")
    secondarystorageavailable: str = Field(
        description="The secondary storage (GiB) still available, or Unlimited"
    )


def resource_count_fields(usage: Mapping[ResourceType, Usage]) -> dict[str, str | int]:
    """The fields of ``ResourceCountResponse`` for one account's or domain's usage."""
    fields: dict[str, str | int] = {}
    for kind, prefix in _PREFIXES.items():
        used = usage[kind]
        available = used.available
        fields[f"{prefix}limit"] = _UNLIMITED if available is None else str(used.maximum)
        fields[f"{prefix}total"] = used.used
        fields[f"{prefix}available"] = _UNLIMITED if available is None else str(available)
    return fields
