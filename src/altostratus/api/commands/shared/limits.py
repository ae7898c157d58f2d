"""Resource limits per account and domain.

``resourcetype`` is CloudStack's number and is answered as a string of it, which is
what Libcloud's ``ex_limits`` looks up; storage limits are in GiB.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from altostratus.api.declarations import ADMINS, ANYONE, CommandSet
from altostratus.api.params import ListParams, Params, Uuid, page_request
from altostratus.api.results import ListResult, ResponseObject, Single
from altostratus.core.context import ServiceContext
from altostratus.services.shared import limits
from altostratus.services.shared.limits import LimitEntry, ResourceType

__all__ = [
    "ListResourceLimitsParams",
    "ResourceLimitResponse",
    "UpdateResourceLimitParams",
    "commands",
    "list_resource_limits",
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
    )
    return Single("resourcelimit", resource_limit_view(entry))


class ListResourceLimitsParams(ListParams):
    account: str | None = Field(
        None, max_length=255, description="List this account's limits (of domainid)"
    )
    domainid: Uuid | None = Field(
        None, description="List this domain's limits, or those of the account in it"
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
        ctx, account_name=p.account, domain_uuid=p.domainid, resource_type=p.kind()
    )
    views = [resource_limit_view(entry) for entry in page_request(ctx, p).slice(entries)]
    return ListResult("resourcelimit", views, len(entries))
