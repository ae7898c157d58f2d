"""``listUsageRecords`` (with ``allregions``), ``listUsageTypes``, ``generateUsageRecords``,
``removeRawUsageRecords``."""

from __future__ import annotations

from pydantic import Field

from altostratus.api.declarations import ADMIN, ANYONE, SUCCESS, CommandSet
from altostratus.api.params import (
    EndTimestamp,
    Integer,
    ListParams,
    Params,
    Timestamp,
    Uuid,
    page_request,
)
from altostratus.api.results import ListResult, ResponseObject, Success
from altostratus.core.context import ServiceContext
from altostratus.federation.usage import Consolidated, MissingRegion, consolidated
from altostratus.services.usage import records
from altostratus.services.usage.records import UsageEntry
from altostratus.services.usage.types import UsageType
from altostratus.timeutil import format_timestamp

__all__ = [
    "GenerateUsageRecordsParams",
    "ListUsageRecordsParams",
    "ListUsageTypesParams",
    "MissingRegionResponse",
    "RemoveRawUsageRecordsParams",
    "UsageRecordResponse",
    "UsageTagResponse",
    "UsageTypeResponse",
    "commands",
    "generate_usage_records",
    "hours",
    "list_usage_records",
    "list_usage_types",
    "remove_raw_usage_records",
]

commands = CommandSet()


def hours(raw: float) -> str:
    """Hours as CloudStack prints them: up to six decimals, no trailing zeros."""
    return f"{raw:.6f}".rstrip("0").rstrip(".") or "0"


class UsageTagResponse(ResponseObject):
    key: str
    value: str


class UsageRecordResponse(ResponseObject):
    account: str
    accountid: str
    domainid: str
    domain: str
    description: str
    usage: str = Field(description='the usage in hours, as "<hours> Hrs"')
    usagetype: int
    rawusage: str = Field(description="the usage in hours")
    usageid: str = Field(description="the metered object (VM, volume, address, NIC...)")
    startdate: str
    enddate: str
    regionid: int = Field(description="the region the usage was metered in")
    regionname: str | None = Field(None, description="its name (with allregions=true)")
    zoneid: str | None = None
    virtualmachineid: str | None = None
    name: str | None = None
    offeringid: str | None = None
    templateid: str | None = None
    size: int | None = Field(None, description="bytes, for volumes, templates and snapshots")
    tags: list[UsageTagResponse] | None = None


class MissingRegionResponse(ResponseObject):
    regionid: int
    regionname: str
    reason: str


def _record_view(entry: UsageEntry, region_name: str | None, tags: bool) -> UsageRecordResponse:
    return UsageRecordResponse(
        account=entry.account_name,
        accountid=entry.account_uuid,
        domainid=entry.domain_uuid,
        domain=entry.domain_path.rsplit("/", 1)[-1],
        description=entry.description,
        usage=f"{hours(entry.raw_usage)} Hrs",
        usagetype=entry.usage_type,
        rawusage=hours(entry.raw_usage),
        usageid=entry.usage_uuid,
        startdate=format_timestamp(entry.start_date),
        enddate=format_timestamp(entry.end_date),
        regionid=entry.region_id,
        regionname=region_name,
        zoneid=entry.zone_uuid,
        virtualmachineid=entry.vm_uuid,
        name=entry.name,
        offeringid=entry.offering_uuid,
        templateid=entry.template_uuid,
        size=entry.size,
        tags=[UsageTagResponse(key=k, value=v) for k, v in entry.tags] if tags else None,
    )


def _missing_view(missing: MissingRegion) -> MissingRegionResponse:
    return MissingRegionResponse(
        regionid=missing.region_id, regionname=missing.name, reason=missing.reason
    )


class ListUsageRecordsParams(ListParams):
    startdate: Timestamp = Field(
        description="Records of periods starting at or after this time (yyyy-MM-dd or a time)"
    )
    enddate: EndTimestamp = Field(
        description="Records of periods starting at or before this time (a date: its whole day)"
    )
    account: str | None = Field(None, max_length=255, description="The account's name (domainid)")
    domainid: Uuid | None = Field(None, description="Records of this domain's accounts")
    accountid: Uuid | None = Field(None, description="Records of this account")
    projectid: Uuid | None = Field(None, description="Records of this project's account")
    type: int | None = Field(None, description="The usage type id (listUsageTypes)")
    usageid: Uuid | None = Field(None, description="Records of this object (with type)")
    includetags: bool = Field(False, description="Include the objects' resource tags")
    isrecursive: bool = Field(
        False, description="With domainid: also the records of its subdomains"
    )
    allregions: bool = Field(
        False,
        description="Altostratus: the records of every region of the federation, each "
        "with its regionid and regionname; regions that could not be asked are listed "
        "under missingregion",
    )


@commands.command(
    "listUsageRecords",
    ListUsageRecordsParams,
    description="Lists usage records: what accounts used, per object and period",
    allowed=ANYONE,
    response=("usagerecord", UsageRecordResponse),
    writes=False,
    related=("listUsageTypes", "generateUsageRecords"),
)
async def list_usage_records(ctx: ServiceContext, p: ListUsageRecordsParams) -> ListResult:
    query = await records.resolve_query(
        ctx,
        start=p.startdate,
        end=p.enddate,
        account=p.account,
        domain_uuid=p.domainid,
        account_uuid=p.accountid,
        project_uuid=p.projectid,
        recursive=p.isrecursive,
        usage_type=p.type,
        usage_uuid=p.usageid,
        keyword=p.keyword,
        include_tags=p.includetags,
    )
    page = page_request(ctx, p)
    if not p.allregions:
        local = await records.find_records(ctx.session, query, ctx.deps.local_region_id)
        views = [_record_view(entry, None, p.includetags) for entry in local]
        return ListResult("usagerecord", page.slice(views), len(views))
    found: Consolidated = await consolidated(
        ctx.session,
        ctx.deps.keyring,
        ctx.deps.local_region_id,
        query,
        peer_timeout=ctx.deps.settings.usage_peer_timeout,
    )
    views = [
        _record_view(entry, region.name, p.includetags)
        for region in found.regions
        for entry in region.entries
    ]
    missing = [_missing_view(m) for m in found.missing]
    extra = {"missingregion": missing} if missing else {}
    return ListResult("usagerecord", page.slice(views), len(views), extra)


class UsageTypeResponse(ResponseObject):
    """CloudStack 4.20 answers ``id`` and ``name``; older ones ``usagetypeid``: both."""

    id: int
    usagetypeid: int
    name: str = Field(description="the type's constant, e.g. RUNNING_VM")
    description: str


class ListUsageTypesParams(Params):
    pass


@commands.command(
    "listUsageTypes",
    ListUsageTypesParams,
    description="Lists the usage types this cloud meters, with CloudStack's ids",
    allowed=ANYONE,
    response=("usagetype", UsageTypeResponse),
    writes=False,
    related=("listUsageRecords",),
)
async def list_usage_types(_ctx: ServiceContext, _p: ListUsageTypesParams) -> ListResult:
    types = [
        UsageTypeResponse(id=int(t), usagetypeid=int(t), name=t.name, description=t.description)
        for t in UsageType
    ]
    return ListResult("usagetype", types, len(types))


class GenerateUsageRecordsParams(Params):
    startdate: Timestamp = Field(description="Meter the periods from this time")
    enddate: EndTimestamp = Field(description="to this time (a date: its whole day)")
    domainid: Uuid | None = Field(None, description="Only the accounts of this domain's subtree")


@commands.command(
    "generateUsageRecords",
    GenerateUsageRecordsParams,
    description="Meters the ended periods of a time range again, adding the records missing",
    allowed=ADMIN,
    response=SUCCESS,
    related=("listUsageRecords",),
)
async def generate_usage_records(ctx: ServiceContext, p: GenerateUsageRecordsParams) -> Success:
    added = await records.regenerate(ctx, p.startdate, p.enddate, p.domainid)
    return Success(display_text=f"{added} usage records added")


class RemoveRawUsageRecordsParams(Params):
    interval: Integer = Field(
        description="Remove the records of periods that ended more than this many days ago"
    )


@commands.command(
    "removeRawUsageRecords",
    RemoveRawUsageRecordsParams,
    description="Removes the usage records older than a number of days",
    allowed=ADMIN,
    response=SUCCESS,
    related=("listUsageRecords",),
)
async def remove_raw_usage_records(ctx: ServiceContext, p: RemoveRawUsageRecordsParams) -> Success:
    removed = await records.remove_older_than(ctx, p.interval)
    return Success(display_text=f"{removed} usage records removed")
