"""ISOs: CD images, on the templates' download path (``registerIso``, ``listIsos``,
``deleteIso``). As in CloudStack, an ISO is answered with the template's response
object, named ``iso``.
"""

from __future__ import annotations

from pydantic import Field

from altostratus.api.commands.catalog.templates import (
    DisplayText,
    ImageChecksum,
    ImageUrl,
    Name,
    TemplateResponse,
    ZoneOrAll,
    template_view,
)
from altostratus.api.declarations import ANYONE, SUCCESS, CommandSet
from altostratus.api.ownership import OwnedListParams, OwnerParams
from altostratus.api.params import Params, Uuid, page_request
from altostratus.api.results import ListResult, Success
from altostratus.core.context import ServiceContext
from altostratus.db.models import Zone
from altostratus.db.models.catalog import TemplateFormat
from altostratus.services.catalog import templates
from altostratus.services.catalog.templates import TemplateFilter, TemplateSpec
from altostratus.services.shared.lookup import find_by_uuid
from altostratus.services.shared.ownership import owner_account

__all__ = [
    "DeleteIsoParams",
    "ListIsosParams",
    "RegisterIsoParams",
    "commands",
    "delete_iso",
    "list_isos",
    "register_iso",
]

commands = CommandSet()


class RegisterIsoParams(OwnerParams):
    name: Name = Field(description="Name of the ISO")
    displaytext: DisplayText | None = Field(None, description="Description (default: the name)")
    url: ImageUrl = Field(
        description="An http(s) URL the region downloads into its image store, or a "
        "file:/// path on the hosts (Ready at once)"
    )
    ostypeid: Uuid = Field(description="Guest OS type (listOsTypes)")
    zoneid: ZoneOrAll | None = Field(
        None, description="Zone of the ISO; -1 or absent: every zone (cross-zone)"
    )
    ispublic: bool = Field(False, description="Admins: every account may use it")
    isfeatured: bool = Field(False, description="Root admins: list it under featured")
    isextractable: bool = Field(False, description="Whether it may be downloaded")
    bootable: bool = Field(True, description="Whether VMs boot from it")
    checksum: ImageChecksum | None = Field(
        None, description="{MD5}, {SHA-1} or {SHA-256} and hex (bare hex: MD5); verified"
    )


@commands.command(
    "registerIso",
    RegisterIsoParams,
    description="Registers an ISO from a URL or a path on the hosts",
    allowed=ANYONE,
    response=("iso", TemplateResponse),
    related=("listIsos",),
)
async def register_iso(ctx: ServiceContext, p: RegisterIsoParams) -> ListResult:
    owner = await owner_account(ctx, p.account, p.domainid, p.projectid)
    iso = await templates.register_template(
        ctx,
        TemplateSpec(
            name=p.name,
            display_text=p.displaytext or p.name,
            url=p.url,
            format=TemplateFormat.ISO,
            hypervisor="",
            is_public=p.ispublic,
            is_featured=p.isfeatured,
            is_extractable=p.isextractable,
            bootable=p.bootable,
            checksum=p.checksum,
        ),
        os_type_uuid=p.ostypeid,
        zone_uuid=p.zoneid,
        owner=owner,
    )
    return ListResult("iso", [template_view(iso)], 1)


class ListIsosParams(OwnedListParams):
    isofilter: TemplateFilter = Field(
        TemplateFilter.SELF_EXECUTABLE,
        description="featured, self, selfexecutable (default), sharedexecutable, executable, "
        "community or all (admins)",
    )
    id: Uuid | None = Field(None, description="List the ISO of this id")
    name: str | None = Field(None, max_length=255, description="List ISOs of this name")
    zoneid: Uuid | None = Field(None, description="List the ISOs usable in this zone")


@commands.command(
    "listIsos",
    ListIsosParams,
    description="Lists ISOs",
    allowed=ANYONE,
    response=("iso", TemplateResponse),
    writes=False,
)
async def list_isos(ctx: ServiceContext, p: ListIsosParams) -> ListResult:
    zone = await find_by_uuid(ctx, Zone, p.zoneid, "zoneid") if p.zoneid else None
    page = await templates.list_templates(
        ctx,
        which=p.isofilter,
        uuid=p.id,
        name=p.name,
        zone=zone,
        hypervisor=None,
        keyword=p.keyword,
        owner=p.scope(),
        page=page_request(ctx, p),
        iso=True,
    )
    shown = (zone.uuid, zone.name) if zone else None
    return ListResult("iso", [template_view(iso, shown) for iso in page.items], page.total)


class DeleteIsoParams(Params):
    id: Uuid = Field(description="The ISO to delete")
    zoneid: Uuid | None = Field(None, description="Accepted; an ISO is deleted everywhere")


@commands.command(
    "deleteIso",
    DeleteIsoParams,
    description="Deletes an ISO",
    allowed=ANYONE,
    response=SUCCESS,
    is_async=True,
)
async def delete_iso(ctx: ServiceContext, p: DeleteIsoParams) -> Success:
    await templates.delete_template(ctx, p.id, iso=True)
    return Success()
