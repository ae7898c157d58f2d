"""Domain commands: the tree that accounts live in."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from altostratus.api.commands.shared.limits import ResourceCountResponse, resource_count_fields
from altostratus.api.declarations import ADMINS, ANYONE, SUCCESS, CommandSet, Job, answer_success
from altostratus.api.params import (
    ApiType,
    CommaList,
    Integer,
    ListParams,
    Params,
    Uuid,
    page_request,
)
from altostratus.api.results import ListResult, Single, Submitted
from altostratus.core.context import ServiceContext
from altostratus.services.compute import teardown
from altostratus.services.identity import domains
from altostratus.services.identity.domains import DomainSummary
from altostratus.timeutil import format_timestamp

__all__ = [
    "CreateDomainParams",
    "DeleteDomainParams",
    "DomainResponse",
    "ListDomainChildrenParams",
    "ListDomainsParams",
    "NetworkDomain",
    "UpdateDomainParams",
    "commands",
    "create_domain",
    "delete_domain",
    "domain_view",
    "list_domain_children",
    "list_domains",
    "update_domain",
]

commands = CommandSet()

_DNS_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def _network_domain(value: str) -> str:
    if len(value) > 253 or not all(_DNS_LABEL.match(label) for label in value.split(".")):
        raise ValueError("not a valid DNS domain name")
    return value


#: The DNS suffix of guest networks (``cloud.example.org``), shared by domains and accounts.
NetworkDomain = Annotated[str, ApiType("string"), AfterValidator(_network_domain)]
_DETAIL_LEVELS = frozenset({"all", "resource", "min"})


def _detail_levels(values: list[str]) -> list[str]:
    for value in values:
        if value.lower() not in _DETAIL_LEVELS:
            raise ValueError(f"unknown detail {value}: use all, resource or min")
    return values


#: Accepted for CloudStack clients that send it; Altostratus always answers in full.
DetailLevels = Annotated[CommaList, AfterValidator(_detail_levels)]
#: Paths join names with ``/``, so a name must not contain one.
DomainName = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^/]+$")]


class DomainResponse(ResourceCountResponse):
    id: str
    name: str
    level: int
    parentdomainid: str | None = None
    parentdomainname: str | None = None
    haschild: bool
    path: str
    networkdomain: str | None = None
    state: str = "Active"
    created: str


def domain_view(summary: DomainSummary) -> DomainResponse:
    domain = summary.domain
    return DomainResponse(
        id=domain.uuid,
        name=domain.name,
        level=domain.level,
        parentdomainid=domain.parent.uuid if domain.parent else None,
        parentdomainname=domain.parent.name if domain.parent else None,
        haschild=summary.has_child,
        path=domain.path,
        networkdomain=domain.network_domain,
        created=format_timestamp(domain.created),
        **resource_count_fields(summary.usage),
    )


class CreateDomainParams(Params):
    name: DomainName = Field(description="Name of the domain (no /)")
    parentdomainid: Uuid | None = Field(
        None, description="The parent domain; default: the caller's domain"
    )
    networkdomain: NetworkDomain | None = Field(
        None, max_length=255, description="Network domain for the domain's networks"
    )
    domainid: Uuid | None = Field(
        None, description="The id to give the domain (to match another cloud's)"
    )


@commands.command(
    "createDomain",
    CreateDomainParams,
    description="Creates a domain under a parent domain",
    allowed=ADMINS,
    response=("domain", DomainResponse),
    related=("listDomains", "listDomainChildren"),
)
async def create_domain(ctx: ServiceContext, p: CreateDomainParams) -> Single:
    summary = await domains.create_domain(
        ctx,
        name=p.name,
        parent_uuid=p.parentdomainid,
        network_domain=p.networkdomain,
        domain_uuid=p.domainid,
    )
    return Single("domain", domain_view(summary))


class UpdateDomainParams(Params):
    id: Uuid = Field(description="The id of the domain to update")
    name: DomainName | None = Field(None, description="New name of the domain (not ROOT's)")
    networkdomain: NetworkDomain | None = Field(
        None, max_length=255, description="Network domain for the domain's networks"
    )


@commands.command(
    "updateDomain",
    UpdateDomainParams,
    description="Renames a domain (and the paths below it) or sets its network domain",
    allowed=ADMINS,
    response=("domain", DomainResponse),
    related=("listDomains",),
)
async def update_domain(ctx: ServiceContext, p: UpdateDomainParams) -> Single:
    summary = await domains.update_domain(
        ctx, domain_uuid=p.id, name=p.name, network_domain=p.networkdomain
    )
    return Single("domain", domain_view(summary))


class DeleteDomainParams(Params):
    id: Uuid = Field(description="The id of the domain to delete")
    cleanup: bool = Field(
        False,
        description=(
            "Also delete its child domains and every account in them, as deleteAccount does"
        ),
    )


@commands.command(
    "deleteDomain",
    DeleteDomainParams,
    description="Deletes a domain; one still in use needs cleanup=true",
    allowed=ADMINS,
    response=SUCCESS,
    job=Job(teardown.DELETE_DOMAIN, answer_success),
)
async def delete_domain(ctx: ServiceContext, p: DeleteDomainParams) -> Submitted:
    deletion = await domains.start_domain_deletion(ctx, domain_uuid=p.id, cleanup=p.cleanup)
    payload = teardown.DomainPayload(
        id=deletion.domain_uuid, account_ids=tuple(deletion.account_uuids)
    )
    return Submitted(payload, instance_type="Domain")


class ListDomainsParams(ListParams):
    id: Uuid | None = Field(None, description="List the domain with this id")
    name: str | None = Field(None, max_length=255, description="List domains with this name")
    level: Integer | None = Field(None, ge=0, description="List domains at this depth (ROOT is 0)")
    details: DetailLevels | None = Field(
        None, description="Details wanted: all, resource or min (answers always hold them all)"
    )


@commands.command(
    "listDomains",
    ListDomainsParams,
    description=(
        "Lists domains: a root admin every one; others their own, or every visible one "
        "with listall=true"
    ),
    allowed=ANYONE,
    response=("domain", DomainResponse),
    writes=False,
)
async def list_domains(ctx: ServiceContext, p: ListDomainsParams) -> ListResult:
    page = await domains.list_domains(
        ctx,
        domain_uuid=p.id,
        name=p.name,
        level=p.level,
        keyword=p.keyword,
        listall=p.listall,
        page=page_request(ctx, p),
    )
    return ListResult("domain", [domain_view(d) for d in page.items], page.total)


class ListDomainChildrenParams(ListParams):
    id: Uuid | None = Field(None, description="The parent domain; default: the caller's")
    isrecursive: bool = Field(False, description="Every descendant, not only direct children")
    name: str | None = Field(None, max_length=255, description="List children with this name")


@commands.command(
    "listDomainChildren",
    ListDomainChildrenParams,
    description="Lists the child domains of a domain",
    allowed=ANYONE,
    response=("domain", DomainResponse),
    writes=False,
)
async def list_domain_children(ctx: ServiceContext, p: ListDomainChildrenParams) -> ListResult:
    page = await domains.list_domain_children(
        ctx,
        domain_uuid=p.id,
        recursive=p.isrecursive or p.listall,
        name=p.name,
        keyword=p.keyword,
        page=page_request(ctx, p),
    )
    return ListResult("domain", [domain_view(d) for d in page.items], page.total)
