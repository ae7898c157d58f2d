"""Templates: disk images VMs are built from.

Libcloud's ``list_images`` sends ``templatefilter=executable`` and reads ``id``,
``name``, ``hypervisor``, ``format``, ``ostypename``, ``displaytext`` and ``size``.
``registerTemplate`` answers a one-item list, as CloudStack does. A cross-zone template
shows the zone asked for (``zoneid``), or no zone at all, with ``crossZones`` true.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import AfterValidator, Field

from altostratus.api.declarations import ANYONE, SUCCESS, CommandSet
from altostratus.api.ownership import OwnedListParams, OwnerParams
from altostratus.api.params import ApiType, Params, Uuid, UuidList, page_request
from altostratus.api.results import ListResult, ResponseObject, Single, Success
from altostratus.core.context import ServiceContext
from altostratus.db.models import Template, Zone
from altostratus.db.models.catalog import DownloadState, TemplateFormat
from altostratus.db.models.inventory import Hypervisor
from altostratus.errors import invalid
from altostratus.services.catalog import templates
from altostratus.services.catalog.templates import TemplateChanges, TemplateFilter, TemplateSpec
from altostratus.services.images.checksums import Checksum
from altostratus.services.shared.lookup import find_by_uuid
from altostratus.services.shared.ownership import owner_account
from altostratus.timeutil import format_timestamp

__all__ = [
    "DeleteTemplateParams",
    "ListTemplatesParams",
    "RegisterTemplateParams",
    "TemplateResponse",
    "UpdateTemplateParams",
    "commands",
    "delete_template",
    "list_templates",
    "register_template",
    "template_view",
    "update_template",
]

commands = CommandSet()

Name = Annotated[str, Field(min_length=1, max_length=255)]
DisplayText = Annotated[str, Field(min_length=1, max_length=4096)]
ImageUrl = Annotated[str, ApiType("string"), AfterValidator(templates.check_url)]


def _checksum(value: str) -> str:
    return str(Checksum.parse(value))


ImageChecksum = Annotated[str, Field(max_length=255), AfterValidator(_checksum)]


def _not_iso(value: TemplateFormat) -> TemplateFormat:
    if value is TemplateFormat.ISO:
        raise ValueError("ISO images are not templates (registerIso)")
    return value


DiskFormat = Annotated[TemplateFormat, AfterValidator(_not_iso)]


def _zone_or_all(value: str) -> str | None:
    """A zone's UUID, or ``-1`` for every zone (answered as ``None``)."""
    if value.strip() == "-1":
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError("not a valid UUID, nor -1 (every zone)") from None


ZoneOrAll = Annotated[str, ApiType("uuid"), AfterValidator(_zone_or_all)]


class TemplateResponse(ResponseObject):
    id: str
    name: str
    displaytext: str
    ispublic: bool
    isfeatured: bool
    isextractable: bool
    isready: bool
    passwordenabled: bool
    sshkeyenabled: bool
    bootable: bool
    format: str
    hypervisor: str
    ostypeid: str
    ostypename: str
    zoneid: str | None = None
    zonename: str | None = None
    crossZones: bool
    account: str
    accountid: str
    domainid: str
    domain: str
    created: str
    status: str
    size: int | None = Field(None, description="bytes of the disk made from it (virtual size)")
    physicalsize: int | None = Field(None, description="bytes it takes in the image store")
    checksum: str | None = None
    templatetype: str = "USER"


def template_view(template: Template, zone: tuple[str, str] | None = None) -> TemplateResponse:
    """``zone`` (id, name) is shown for a cross-zone template listed for one zone."""
    own_zone = (template.zone.uuid, template.zone.name) if template.zone else zone
    return TemplateResponse(
        id=template.uuid,
        name=template.name,
        displaytext=template.display_text,
        ispublic=template.is_public,
        isfeatured=template.is_featured,
        isextractable=template.is_extractable,
        isready=template.download_state == DownloadState.DOWNLOADED,
        passwordenabled=template.password_enabled,
        sshkeyenabled=template.ssh_key_enabled,
        bootable=template.bootable,
        format=template.format,
        hypervisor=template.hypervisor,
        ostypeid=template.os_type.uuid,
        ostypename=template.os_type.description,
        zoneid=own_zone[0] if own_zone else None,
        zonename=own_zone[1] if own_zone else None,
        crossZones=template.zone_id is None,
        account=template.account.name,
        accountid=template.account.uuid,
        domainid=template.domain.uuid,
        domain=template.domain.name,
        created=format_timestamp(template.created),
        status=template.status,
        size=template.size,
        physicalsize=template.physical_size,
        checksum=template.checksum,
    )


class RegisterTemplateParams(OwnerParams):
    name: Name = Field(description="Name of the template")
    displaytext: DisplayText | None = Field(None, description="Description (default: the name)")
    url: ImageUrl = Field(
        description="An http(s) URL the region downloads into its image store, or a "
        "file:/// path on the hosts (Ready at once)"
    )
    format: DiskFormat = Field(description="QCOW2, RAW, VHD or OVA")
    hypervisor: Hypervisor = Field(description="Hypervisor the image is built for")
    ostypeid: Uuid = Field(description="Guest OS type (listOsTypes)")
    zoneid: ZoneOrAll | None = Field(
        None, description="Zone of the template; -1 or absent: every zone (cross-zone)"
    )
    zoneids: UuidList | None = Field(None, description="One zone, as zoneid (CloudStack 4.12+)")
    ispublic: bool = Field(False, description="Admins: every account may use it")
    isfeatured: bool = Field(False, description="Root admins: list it under featured")
    isextractable: bool = Field(False, description="Whether it may be downloaded")
    passwordenabled: bool = Field(False, description="The image resets its password at boot")
    sshkeyenabled: bool = Field(False, description="The image installs the SSH key at boot")
    bootable: bool = Field(True, description="Whether VMs boot from it")
    checksum: ImageChecksum | None = Field(
        None, description="{MD5}, {SHA-1} or {SHA-256} and hex (bare hex: MD5); verified"
    )

    def zone_uuid(self) -> str | None:
        if self.zoneids and len(self.zoneids) > 1:
            raise invalid("zoneids", "give one zone, or none for a cross-zone template")
        return self.zoneid or (self.zoneids[0] if self.zoneids else None)


@commands.command(
    "registerTemplate",
    RegisterTemplateParams,
    description="Registers a template from a URL or a path on the hosts",
    allowed=ANYONE,
    response=("template", TemplateResponse),
    related=("listTemplates",),
)
async def register_template(ctx: ServiceContext, p: RegisterTemplateParams) -> ListResult:
    owner = await owner_account(ctx, p.account, p.domainid, p.projectid)
    template = await templates.register_template(
        ctx,
        TemplateSpec(
            name=p.name,
            display_text=p.displaytext or p.name,
            url=p.url,
            format=p.format,
            hypervisor=p.hypervisor,
            is_public=p.ispublic,
            is_featured=p.isfeatured,
            is_extractable=p.isextractable,
            password_enabled=p.passwordenabled,
            ssh_key_enabled=p.sshkeyenabled,
            bootable=p.bootable,
            checksum=p.checksum,
        ),
        os_type_uuid=p.ostypeid,
        zone_uuid=p.zone_uuid(),
        owner=owner,
    )
    return ListResult("template", [template_view(template)], 1)


class ListTemplatesParams(OwnedListParams):
    templatefilter: TemplateFilter = Field(
        description="featured, self, selfexecutable, sharedexecutable, executable, community "
        "or all (admins)"
    )
    id: Uuid | None = Field(None, description="List the template of this id")
    name: str | None = Field(None, max_length=255, description="List templates of this name")
    zoneid: Uuid | None = Field(None, description="List the templates usable in this zone")
    hypervisor: Hypervisor | None = Field(None, description="List templates for this hypervisor")


@commands.command(
    "listTemplates",
    ListTemplatesParams,
    description="Lists templates",
    allowed=ANYONE,
    response=("template", TemplateResponse),
    writes=False,
)
async def list_templates(ctx: ServiceContext, p: ListTemplatesParams) -> ListResult:
    zone = await find_by_uuid(ctx, Zone, p.zoneid, "zoneid") if p.zoneid else None
    page = await templates.list_templates(
        ctx,
        which=p.templatefilter,
        uuid=p.id,
        name=p.name,
        zone=zone,
        hypervisor=p.hypervisor,
        keyword=p.keyword,
        owner=p.scope(),
        page=page_request(ctx, p),
    )
    shown = (zone.uuid, zone.name) if zone else None
    return ListResult("template", [template_view(t, shown) for t in page.items], page.total)


class UpdateTemplateParams(Params):
    id: Uuid = Field(description="The template to update")
    name: Name | None = Field(None, description="New name")
    displaytext: DisplayText | None = Field(None, description="New description")
    ostypeid: Uuid | None = Field(None, description="New guest OS type")
    format: DiskFormat | None = Field(None, description="New image format")
    passwordenabled: bool | None = Field(None, description="The image resets its password")
    sshkeyenabled: bool | None = Field(None, description="The image installs the SSH key")
    bootable: bool | None = Field(None, description="Whether VMs boot from it")
    isextractable: bool | None = Field(None, description="Whether it may be downloaded")


@commands.command(
    "updateTemplate",
    UpdateTemplateParams,
    description="Updates a template's attributes (its owner or an admin of the owner)",
    allowed=ANYONE,
    response=("template", TemplateResponse),
    related=("listTemplates",),
)
async def update_template(ctx: ServiceContext, p: UpdateTemplateParams) -> Single:
    template = await templates.update_template(
        ctx,
        p.id,
        TemplateChanges(
            name=p.name,
            display_text=p.displaytext,
            format=p.format,
            password_enabled=p.passwordenabled,
            ssh_key_enabled=p.sshkeyenabled,
            bootable=p.bootable,
            is_extractable=p.isextractable,
        ),
        os_type_uuid=p.ostypeid,
    )
    return Single("template", template_view(template))


class DeleteTemplateParams(Params):
    id: Uuid = Field(description="The template to delete")
    zoneid: Uuid | None = Field(None, description="Accepted; a template is deleted everywhere")


@commands.command(
    "deleteTemplate",
    DeleteTemplateParams,
    description="Deletes a template; VMs built from it keep working",
    allowed=ANYONE,
    response=SUCCESS,
    is_async=True,
)
async def delete_template(ctx: ServiceContext, p: DeleteTemplateParams) -> Success:
    await templates.delete_template(ctx, p.id)
    return Success()
