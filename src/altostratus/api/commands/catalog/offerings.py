"""Service and disk offerings, and OS types.

Root admins create, change and retire offerings; everyone lists those offered to them
(``services.offerings``). Libcloud's ``list_sizes`` reads a service offering's ``id``,
``name``, ``memory`` and ``cpunumber``; ``ex_list_disk_offerings`` a disk offering's
``disksize`` and ``iscustomized`` (``disksize`` is 0 for a custom-size one, as in
CloudStack). Ansible's ``cs_service_offering`` and ``cs_disk_offering`` find an offering
by name and compare ``name`` and ``displaytext`` (and a disk offering's
``displayoffering``), and read the storage tags back in the order given: ``storagetags``
of a service offering, ``tags`` of a disk offering.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, model_validator

from altostratus.api.commands.catalog.storage_qos import (
    StorageQosParams,
    StorageQosResponse,
    qos_fields,
    qos_spec,
)
from altostratus.api.declarations import ADMIN, ANYONE, SUCCESS, CommandSet
from altostratus.api.params import CommaList, ListParams, Params, Uuid, page_request
from altostratus.api.results import ListResult, ResponseObject, Single, Success
from altostratus.core.context import ServiceContext
from altostratus.db.models import DiskOffering, OsType, ServiceOffering
from altostratus.db.models.catalog import StorageType, SystemVmType
from altostratus.errors import invalid
from altostratus.services.catalog import offerings
from altostratus.services.catalog.offerings import (
    DiskOfferingSpec,
    OsCategory,
    ServiceOfferingFilters,
    ServiceOfferingSpec,
    normalized_tags,
    ordered_tags,
)
from altostratus.services.compute import vms
from altostratus.timeutil import format_timestamp

__all__ = [
    "CreateDiskOfferingParams",
    "CreateServiceOfferingParams",
    "DeleteParams",
    "DiskOfferingResponse",
    "ListDiskOfferingsParams",
    "ListOsCategoriesParams",
    "ListOsTypesParams",
    "ListServiceOfferingsParams",
    "OsCategoryResponse",
    "OsTypeResponse",
    "ServiceOfferingResponse",
    "UpdateDiskOfferingParams",
    "UpdateOfferingParams",
    "commands",
    "create_disk_offering",
    "create_service_offering",
    "delete_disk_offering",
    "delete_service_offering",
    "disk_offering_view",
    "list_disk_offerings",
    "list_os_categories",
    "list_os_types",
    "list_service_offerings",
    "os_type_view",
    "service_offering_view",
    "update_disk_offering",
    "update_service_offering",
]

commands = CommandSet()

Name = Annotated[str, Field(min_length=1, max_length=255)]
DisplayText = Annotated[str, Field(min_length=1, max_length=4096)]


def _tag_list(tags: str) -> str | None:
    return tags or None


# --- service offerings ---


class ServiceOfferingResponse(StorageQosResponse):
    id: str
    name: str
    displaytext: str
    cpunumber: int
    cpuspeed: int
    memory: int
    hosttags: str | None = None
    #: Storage tags of the root disk, in the order given (CloudStack 4.16's name).
    storagetags: str | None = None
    offerha: bool
    storagetype: str
    limitcpuuse: bool
    dynamicscalingenabled: bool = True
    isvolatile: bool = False
    networkrate: int | None = None
    encryptroot: bool = False
    created: str
    domainid: str | None = None
    domain: str | None = None
    iscustomized: bool = False
    issystem: bool = False
    systemvmtype: str | None = None
    defaultuse: bool = False


def service_offering_view(offering: ServiceOffering) -> ServiceOfferingResponse:
    return ServiceOfferingResponse(
        **qos_fields(offering),
        id=offering.uuid,
        name=offering.name,
        displaytext=offering.display_text,
        cpunumber=offering.cpu_number,
        cpuspeed=offering.cpu_speed,
        memory=offering.memory_mb,
        hosttags=_tag_list(offering.host_tags),
        storagetags=_tag_list(offering.storage_tags),
        offerha=offering.offer_ha,
        storagetype=offering.storage_type,
        limitcpuuse=offering.limit_cpu_use,
        dynamicscalingenabled=offering.dynamic_scaling_enabled,
        isvolatile=offering.is_volatile,
        networkrate=offering.network_rate,
        encryptroot=offering.encrypt,
        issystem=offering.is_system,
        systemvmtype=offering.system_vm_type,
        created=format_timestamp(offering.created),
        domainid=offering.domain.uuid if offering.domain else None,
        domain=offering.domain.name if offering.domain else None,
    )


class CreateServiceOfferingParams(StorageQosParams):
    name: Name = Field(description="Name of the offering")
    displaytext: DisplayText | None = Field(
        None, description="Text users see for the offering (default: its name)"
    )
    cpunumber: int = Field(ge=1, le=1024, description="Number of CPU cores")
    cpuspeed: int = Field(ge=1, le=1_000_000, description="Speed of each core, in MHz")
    memory: int = Field(ge=32, le=1 << 30, description="Memory, in MB")
    hosttags: CommaList | None = Field(
        None, description="Host tags a host must all carry to run VMs of this offering"
    )
    offerha: bool = Field(False, description="Restart the VMs elsewhere when their host dies")
    storagetype: StorageType = Field(StorageType.SHARED, description="shared or local")
    limitcpuuse: bool = Field(False, description="Cap the VMs' CPU use at the offering's speed")
    dynamicscalingenabled: bool = Field(
        True,
        description="Its VMs may be scaled to another offering while they run (if the VM is "
        "dynamically scalable and enable.dynamic.scale.vm is true in its zone)",
    )
    tags: CommaList | None = Field(None, description="Storage tags of the VMs' root disks")
    encryptroot: bool = Field(False, description="The VMs' root disks are encrypted")
    isvolatile: bool = Field(
        False, description="A reboot replaces the VM's root disk with a fresh one"
    )
    networkrate: int | None = Field(
        None, ge=1, le=1 << 30, description="The VMs' network rate, in Mbit/s"
    )
    issystem: bool = Field(False, description="An offering for system VMs, not users' VMs")
    systemvmtype: SystemVmType | None = Field(
        None,
        description="The system VMs it sizes (domainrouter, consoleproxy or "
        "secondarystoragevm); required with issystem=true",
    )
    domainid: Uuid | None = Field(
        None, description="Offer it to this domain and its subdomains only"
    )


@commands.command(
    "createServiceOffering",
    CreateServiceOfferingParams,
    description="Creates a service offering (CPU, memory and host tags of VMs)",
    allowed=ADMIN,
    response=("serviceoffering", ServiceOfferingResponse),
    related=("listServiceOfferings",),
)
async def create_service_offering(ctx: ServiceContext, p: CreateServiceOfferingParams) -> Single:
    offering = await offerings.create_service_offering(
        ctx,
        ServiceOfferingSpec(
            name=p.name,
            display_text=p.displaytext or p.name,
            cpu_number=p.cpunumber,
            cpu_speed=p.cpuspeed,
            memory_mb=p.memory,
            host_tags=normalized_tags(p.hosttags),
            offer_ha=p.offerha,
            storage_type=p.storagetype,
            limit_cpu_use=p.limitcpuuse,
            dynamic_scaling_enabled=p.dynamicscalingenabled,
            storage_tags=ordered_tags(p.tags),
            is_volatile=p.isvolatile,
            network_rate=p.networkrate,
            is_system=p.issystem,
            system_vm_type=p.systemvmtype,
            qos=qos_spec(p, encrypt=p.encryptroot),
        ),
        domain_uuid=p.domainid,
    )
    return Single("serviceoffering", service_offering_view(offering))


class UpdateOfferingParams(Params):
    id: Uuid = Field(description="The offering to update")
    name: Name | None = Field(None, description="New name")
    displaytext: DisplayText | None = Field(None, description="New display text")


@commands.command(
    "updateServiceOffering",
    UpdateOfferingParams,
    description="Renames a service offering or changes its display text",
    allowed=ADMIN,
    response=("serviceoffering", ServiceOfferingResponse),
    related=("listServiceOfferings",),
)
async def update_service_offering(ctx: ServiceContext, p: UpdateOfferingParams) -> Single:
    offering = await offerings.update_offering(
        ctx, ServiceOffering, p.id, name=p.name, display_text=p.displaytext
    )
    return Single("serviceoffering", service_offering_view(offering))


class DeleteParams(Params):
    id: Uuid = Field(description="The offering to delete")


@commands.command(
    "deleteServiceOffering",
    DeleteParams,
    description="Retires a service offering; VMs built from it keep it",
    allowed=ADMIN,
    response=SUCCESS,
)
async def delete_service_offering(ctx: ServiceContext, p: DeleteParams) -> Success:
    await offerings.delete_service_offering(ctx, p.id)
    return Success()


class ListServiceOfferingsParams(ListParams):
    id: Uuid | None = Field(None, description="List the offering of this id")
    name: str | None = Field(None, max_length=255, description="List offerings of this name")
    domainid: Uuid | None = Field(None, description="List the offerings limited to this domain")
    virtualmachineid: Uuid | None = Field(
        None, description="List the offering this VM was deployed with"
    )
    zoneid: Uuid | None = Field(None, description="List the offerings of this zone (all are)")
    isrecursive: bool = Field(
        False, description="Admins: also the offerings of the domains below the caller's"
    )
    issystem: bool = Field(False, description="Root admins: list system VM offerings instead")
    systemvmtype: SystemVmType | None = Field(
        None, description="List the system offerings for these system VMs"
    )
    cpunumber: int | None = Field(None, ge=1, description="Offerings of at least this many CPUs")
    cpuspeed: int | None = Field(None, ge=1, description="Offerings of at least this MHz per CPU")
    memory: int | None = Field(None, ge=1, description="Offerings of at least this many MB")
    encryptroot: bool | None = Field(
        None, description="Offerings that encrypt (or do not encrypt) root disks"
    )


@commands.command(
    "listServiceOfferings",
    ListServiceOfferingsParams,
    description="Lists the service offerings the caller may use",
    allowed=ANYONE,
    response=("serviceoffering", ServiceOfferingResponse),
    writes=False,
)
async def list_service_offerings(ctx: ServiceContext, p: ListServiceOfferingsParams) -> ListResult:
    vm_offering_id = None
    if p.virtualmachineid is not None:
        vm = await vms.get_vm(ctx, p.virtualmachineid, "virtualmachineid")
        vm_offering_id = vm.service_offering_id
    page = await offerings.list_service_offerings(
        ctx,
        uuid=p.id,
        name=p.name,
        domain_uuid=p.domainid,
        zone_uuid=p.zoneid,
        keyword=p.keyword,
        recursive=p.isrecursive,
        filters=ServiceOfferingFilters(
            vm_offering_id=vm_offering_id,
            is_system=p.issystem,
            system_vm_type=p.systemvmtype,
            cpu_number=p.cpunumber,
            cpu_speed=p.cpuspeed,
            memory_mb=p.memory,
            encrypt_root=p.encryptroot,
        ),
        page=page_request(ctx, p),
    )
    return ListResult("serviceoffering", [service_offering_view(o) for o in page.items], page.total)


# --- disk offerings ---


class DiskOfferingResponse(StorageQosResponse):
    id: str
    name: str
    displaytext: str
    #: GB; 0 for a custom-size offering (libcloud reads the key unconditionally).
    disksize: int
    iscustomized: bool
    storagetype: str
    #: Storage tags, in the order given.
    tags: str | None = None
    encrypt: bool = False
    displayoffering: bool = True
    created: str
    domainid: str | None = None
    domain: str | None = None


def disk_offering_view(offering: DiskOffering) -> DiskOfferingResponse:
    return DiskOfferingResponse(
        **qos_fields(offering),
        id=offering.uuid,
        name=offering.name,
        displaytext=offering.display_text,
        disksize=offering.disk_size_gb or 0,
        iscustomized=offering.is_customized,
        storagetype=offering.storage_type,
        tags=_tag_list(offering.tags),
        encrypt=offering.encrypt,
        displayoffering=offering.display_offering,
        created=format_timestamp(offering.created),
        domainid=offering.domain.uuid if offering.domain else None,
        domain=offering.domain.name if offering.domain else None,
    )


class CreateDiskOfferingParams(StorageQosParams):
    name: Name = Field(description="Name of the offering")
    displaytext: DisplayText | None = Field(
        None, description="Text users see for the offering (default: its name)"
    )
    disksize: int | None = Field(
        None, ge=1, le=1 << 20, description="Size in GB; required unless customized"
    )
    customized: bool = Field(False, description="Users choose the size (size of createVolume)")
    storagetype: StorageType = Field(StorageType.SHARED, description="shared or local")
    tags: CommaList | None = Field(None, description="Storage tags")
    encrypt: bool = Field(False, description="Volumes made from it are encrypted")
    displayoffering: bool = Field(True, description="Shown to users")
    domainid: Uuid | None = Field(
        None, description="Offer it to this domain and its subdomains only"
    )

    @model_validator(mode="after")
    def _size_or_customized(self) -> Self:
        if self.customized == (self.disksize is not None):
            raise ValueError(
                invalid(
                    "disksize",
                    "give either disksize or customized=true, not both"
                    if self.customized
                    else "required unless customized=true",
                ).text
            )
        return self


@commands.command(
    "createDiskOffering",
    CreateDiskOfferingParams,
    description="Creates a disk offering (a fixed or user-chosen disk size)",
    allowed=ADMIN,
    response=("diskoffering", DiskOfferingResponse),
    related=("listDiskOfferings",),
)
async def create_disk_offering(ctx: ServiceContext, p: CreateDiskOfferingParams) -> Single:
    offering = await offerings.create_disk_offering(
        ctx,
        DiskOfferingSpec(
            name=p.name,
            display_text=p.displaytext or p.name,
            disk_size_gb=p.disksize,
            is_customized=p.customized,
            storage_type=p.storagetype,
            tags=ordered_tags(p.tags),
            display_offering=p.displayoffering,
            qos=qos_spec(p, encrypt=p.encrypt),
        ),
        domain_uuid=p.domainid,
    )
    return Single("diskoffering", disk_offering_view(offering))


class UpdateDiskOfferingParams(UpdateOfferingParams):
    displayoffering: bool | None = Field(None, description="Show it to users, or hide it")


@commands.command(
    "updateDiskOffering",
    UpdateDiskOfferingParams,
    description="Renames a disk offering, changes its display text or shows/hides it",
    allowed=ADMIN,
    response=("diskoffering", DiskOfferingResponse),
    related=("listDiskOfferings",),
)
async def update_disk_offering(ctx: ServiceContext, p: UpdateDiskOfferingParams) -> Single:
    offering = await offerings.update_offering(
        ctx,
        DiskOffering,
        p.id,
        name=p.name,
        display_text=p.displaytext,
        display_offering=p.displayoffering,
    )
    return Single("diskoffering", disk_offering_view(offering))


@commands.command(
    "deleteDiskOffering",
    DeleteParams,
    description="Retires a disk offering; volumes made from it keep it",
    allowed=ADMIN,
    response=SUCCESS,
)
async def delete_disk_offering(ctx: ServiceContext, p: DeleteParams) -> Success:
    await offerings.delete_disk_offering(ctx, p.id)
    return Success()


class ListDiskOfferingsParams(ListParams):
    id: Uuid | None = Field(None, description="List the offering of this id")
    name: str | None = Field(None, max_length=255, description="List offerings of this name")
    domainid: Uuid | None = Field(None, description="List the offerings limited to this domain")
    zoneid: Uuid | None = Field(None, description="List the offerings of this zone (all are)")
    isrecursive: bool = Field(
        False, description="Admins: also the offerings of the domains below the caller's"
    )
    encrypt: bool | None = Field(None, description="Offerings that encrypt (or do not) volumes")


@commands.command(
    "listDiskOfferings",
    ListDiskOfferingsParams,
    description="Lists the disk offerings the caller may use",
    allowed=ANYONE,
    response=("diskoffering", DiskOfferingResponse),
    writes=False,
)
async def list_disk_offerings(ctx: ServiceContext, p: ListDiskOfferingsParams) -> ListResult:
    page = await offerings.list_disk_offerings(
        ctx,
        uuid=p.id,
        name=p.name,
        domain_uuid=p.domainid,
        zone_uuid=p.zoneid,
        keyword=p.keyword,
        recursive=p.isrecursive,
        encrypt=p.encrypt,
        page=page_request(ctx, p),
    )
    return ListResult("diskoffering", [disk_offering_view(o) for o in page.items], page.total)


# --- OS types ---


class OsTypeResponse(ResponseObject):
    id: str
    description: str
    oscategoryid: str
    oscategoryname: str
    isuserdefined: bool = False


def os_type_view(os_type: OsType) -> OsTypeResponse:
    return OsTypeResponse(
        id=os_type.uuid,
        description=os_type.description,
        oscategoryid=offerings.os_category_uuid(os_type.category),
        oscategoryname=os_type.category,
    )


class ListOsTypesParams(ListParams):
    id: Uuid | None = Field(None, description="List the OS type of this id")
    description: str | None = Field(
        None, max_length=255, description="List the OS type of this description"
    )
    oscategoryid: Uuid | None = Field(None, description="List the OS types of this category")


@commands.command(
    "listOsTypes",
    ListOsTypesParams,
    description="Lists the guest operating system types templates are registered with",
    allowed=ANYONE,
    response=("ostype", OsTypeResponse),
    writes=False,
)
async def list_os_types(ctx: ServiceContext, p: ListOsTypesParams) -> ListResult:
    page = await offerings.list_os_types(
        ctx,
        uuid=p.id,
        description=p.description,
        category_uuid=p.oscategoryid,
        keyword=p.keyword,
        page=page_request(ctx, p),
    )
    return ListResult("ostype", [os_type_view(t) for t in page.items], page.total)


class OsCategoryResponse(ResponseObject):
    id: str
    name: str


def _category_view(category: OsCategory) -> OsCategoryResponse:
    return OsCategoryResponse(id=category.uuid, name=category.name)


class ListOsCategoriesParams(ListParams):
    id: Uuid | None = Field(None, description="List the category of this id")
    name: str | None = Field(None, max_length=255, description="List the category of this name")


@commands.command(
    "listOsCategories",
    ListOsCategoriesParams,
    description="Lists the categories of guest operating system types",
    allowed=ANYONE,
    response=("oscategory", OsCategoryResponse),
    writes=False,
)
async def list_os_categories(ctx: ServiceContext, p: ListOsCategoriesParams) -> ListResult:
    found = await offerings.list_os_categories(ctx, uuid=p.id, name=p.name, keyword=p.keyword)
    return ListResult("oscategory", [_category_view(c) for c in found], len(found))
