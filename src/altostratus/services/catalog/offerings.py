"""Service offerings, disk offerings and OS types: what users pick a VM and its disks from.

Offerings are regional and only root admins change them. An offering may be limited to
a domain: it is then offered to that domain and everything below it (as CloudStack
does); a domain admin also lists the offerings of the domains below its own with
``isrecursive=true``, and may use them for the accounts it manages. Deleting an
offering retires it (``removed``): VMs and volumes built from it keep pointing at it,
and it is no longer listed or usable for new ones.

System offerings (``issystem``) size system VMs: only root admins list them
(``issystem=true``), and no user VM is deployed from one. Listing filters by size as
CloudStack does: ``cpunumber``, ``cpuspeed`` and ``memory`` keep the offerings that
give at least that much.
"""

from __future__ import annotations

import uuid as uuid_module
from dataclasses import dataclass, field, fields
from typing import TypeVar

from sqlalchemy import ColumnElement, and_, select, true

from altostratus.core.context import ServiceContext
from altostratus.core.paging import (
    Page,
    PageRequest,
    equal_if_given,
    keyword_filter,
    paginate,
)
from altostratus.db.models import DiskOffering, Domain, OsType, ServiceOffering, Zone
from altostratus.errors import InvalidParameter, invalid
from altostratus.services.catalog.storage_qos import StorageQosSpec
from altostratus.services.shared.access import container_domain
from altostratus.services.shared.events import record_event
from altostratus.services.shared.lookup import find_by_uuid
from altostratus.services.shared.visibility import offered_to
from altostratus.timeutil import utcnow

__all__ = [
    "DiskOfferingSpec",
    "OsCategory",
    "ServiceOfferingFilters",
    "ServiceOfferingSpec",
    "create_disk_offering",
    "create_service_offering",
    "delete_disk_offering",
    "delete_service_offering",
    "get_disk_offering",
    "get_service_offering",
    "list_disk_offerings",
    "list_os_categories",
    "list_os_types",
    "list_service_offerings",
    "normalized_tags",
    "ordered_tags",
    "os_category_uuid",
    "update_offering",
]

Offering = TypeVar("Offering", ServiceOffering, DiskOffering)

#: OS categories are the ``category`` texts of the OS types; their ids are derived from
#: the text, so every region (and every restart) gives a category the same id.
_CATEGORY_NAMESPACE = uuid_module.UUID("6a1f3c52-37a4-4d0b-9c8e-0f2b8d4e7a10")

_EVENT_KIND = {ServiceOffering: "SERVICE.OFFERING", DiskOffering: "DISK.OFFERING"}
_NOUN = {ServiceOffering: "service offering", DiskOffering: "disk offering"}


def normalized_tags(tags: list[str] | None) -> str:
    """Tags as stored: lower case, sorted, without duplicates, comma-joined."""
    return ",".join(sorted({tag.strip().lower() for tag in tags or [] if tag.strip()}))


def ordered_tags(tags: list[str] | None) -> str:
    """Storage tags as stored: lower case, without duplicates, in the order given.

    CloudStack answers storage tags in the order they were given, and clients compare
    the lists as given (Ansible's ``storage_tags``).
    """
    kept = (tag.strip().lower() for tag in tags or [])
    return ",".join(dict.fromkeys(tag for tag in kept if tag))


async def _get_offering(
    ctx: ServiceContext, model: type[Offering], uuid: str, parameter: str, *, for_vm: bool
) -> Offering:
    """``for_vm``: an offering a user's VM or volume is made from (no system offering)."""
    query = select(model).where(
        model.uuid == uuid, model.removed.is_(None), offered_to(ctx.caller, model.domain_id)
    )
    if for_vm and model is ServiceOffering:
        query = query.where(ServiceOffering.is_system.is_(False))
    found = await ctx.session.scalar(query)
    if found is None:
        raise InvalidParameter(
            f"Unable to find {_NOUN[model]} with id {uuid} (parameter {parameter})"
        )
    return found


async def get_service_offering(
    ctx: ServiceContext, uuid: str, parameter: str = "serviceofferingid"
) -> ServiceOffering:
    """A service offering the caller may deploy a VM from (not retired, not a system one);
    else 431 naming ``parameter``."""
    return await _get_offering(ctx, ServiceOffering, uuid, parameter, for_vm=True)


async def get_disk_offering(
    ctx: ServiceContext, uuid: str, parameter: str = "diskofferingid"
) -> DiskOffering:
    """A disk offering the caller may use (not retired); else 431 naming ``parameter``."""
    return await _get_offering(ctx, DiskOffering, uuid, parameter, for_vm=True)


async def _record(ctx: ServiceContext, offering: Offering, action: str) -> None:
    verb = {"CREATE": "Created", "EDIT": "Updated", "DELETE": "Deleted"}[action]
    model = type(offering)
    await record_event(
        ctx,
        f"{_EVENT_KIND[model]}.{action}",
        f"{verb} {_NOUN[model]} {offering.name} ({offering.uuid})",
        resource_type=model.__name__,
        resource_uuid=offering.uuid,
    )


async def _domain_id(ctx: ServiceContext, domain_uuid: str | None) -> int | None:
    if domain_uuid is None:
        return None
    return (await container_domain(ctx, domain_uuid)).id


@dataclass(frozen=True)
class ServiceOfferingSpec:
    """A new service offering; field names are the columns of ``ServiceOffering``
    (``qos`` holds its ``StorageQos`` columns)."""

    name: str
    display_text: str
    cpu_number: int
    cpu_speed: int
    memory_mb: int
    host_tags: str = ""
    offer_ha: bool = False
    storage_type: str = "shared"
    limit_cpu_use: bool = False
    dynamic_scaling_enabled: bool = True
    storage_tags: str = ""
    is_volatile: bool = False
    network_rate: int | None = None
    is_system: bool = False
    system_vm_type: str | None = None
    qos: StorageQosSpec = field(default_factory=StorageQosSpec)


@dataclass(frozen=True)
class DiskOfferingSpec:
    """A new disk offering; ``disk_size_gb`` is ``None`` exactly when it is customized."""

    name: str
    display_text: str
    disk_size_gb: int | None
    is_customized: bool
    storage_type: str = "shared"
    tags: str = ""
    display_offering: bool = True
    qos: StorageQosSpec = field(default_factory=StorageQosSpec)


async def _create(
    ctx: ServiceContext,
    model: type[Offering],
    spec: ServiceOfferingSpec | DiskOfferingSpec,
    domain_uuid: str | None,
) -> Offering:
    values = {
        column.name: getattr(spec, column.name) for column in fields(spec) if column.name != "qos"
    }
    offering = model(
        **values, **spec.qos.checked().columns(), domain_id=await _domain_id(ctx, domain_uuid)
    )
    ctx.session.add(offering)
    await ctx.session.flush()
    await ctx.session.refresh(offering, ["domain"])
    await _record(ctx, offering, "CREATE")
    return offering


async def create_service_offering(
    ctx: ServiceContext, spec: ServiceOfferingSpec, *, domain_uuid: str | None
) -> ServiceOffering:
    """A system offering names the system VM it sizes (``systemvmtype``), as only it may."""
    if spec.is_system and spec.system_vm_type is None:
        raise invalid("systemvmtype", "required for a system offering (issystem=true)")
    if not spec.is_system and spec.system_vm_type is not None:
        raise invalid(
            "systemvmtype",
            "only a system offering (issystem=true) has one",
            value=spec.system_vm_type,
        )
    return await _create(ctx, ServiceOffering, spec, domain_uuid)


async def create_disk_offering(
    ctx: ServiceContext, spec: DiskOfferingSpec, *, domain_uuid: str | None
) -> DiskOffering:
    return await _create(ctx, DiskOffering, spec, domain_uuid)


async def update_offering(
    ctx: ServiceContext,
    model: type[Offering],
    uuid: str,
    *,
    name: str | None,
    display_text: str | None,
    display_offering: bool | None = None,
) -> Offering:
    """Rename, re-describe or show/hide (a disk offering); what a VM reserves never
    changes under it."""
    offering = await _get_offering(ctx, model, uuid, "id", for_vm=False)
    if name is not None:
        offering.name = name
    if display_text is not None:
        offering.display_text = display_text
    if display_offering is not None and isinstance(offering, DiskOffering):
        offering.display_offering = display_offering
    await ctx.session.flush()
    await _record(ctx, offering, "EDIT")
    return offering


async def _retire(ctx: ServiceContext, model: type[Offering], uuid: str) -> None:
    offering = await _get_offering(ctx, model, uuid, "id", for_vm=False)
    offering.removed = utcnow()
    await _record(ctx, offering, "DELETE")


async def delete_service_offering(ctx: ServiceContext, uuid: str) -> None:
    await _retire(ctx, ServiceOffering, uuid)


async def delete_disk_offering(ctx: ServiceContext, uuid: str) -> None:
    await _retire(ctx, DiskOffering, uuid)


@dataclass(frozen=True)
class ServiceOfferingFilters:
    """What ``listServiceOfferings`` narrows by besides id, name, domain and keyword.

    The sizes keep offerings that give at least that much, as CloudStack's do.
    """

    vm_offering_id: int | None = None
    is_system: bool = False
    system_vm_type: str | None = None
    cpu_number: int | None = None
    cpu_speed: int | None = None
    memory_mb: int | None = None
    encrypt_root: bool | None = None

    def clause(self) -> ColumnElement[bool]:
        sizes = (
            (ServiceOffering.cpu_number, self.cpu_number),
            (ServiceOffering.cpu_speed, self.cpu_speed),
            (ServiceOffering.memory_mb, self.memory_mb),
        )
        return and_(
            ServiceOffering.is_system.is_(self.is_system),
            equal_if_given(
                (ServiceOffering.id, self.vm_offering_id),
                (ServiceOffering.system_vm_type, self.system_vm_type),
                (ServiceOffering.encrypt, self.encrypt_root),
            ),
            *(column >= least for column, least in sizes if least is not None),
        )


@dataclass(frozen=True)
class _Listing:
    """The filters every offering listing takes."""

    uuid: str | None
    name: str | None
    domain_uuid: str | None
    zone_uuid: str | None
    keyword: str | None
    recursive: bool


async def _list(
    ctx: ServiceContext,
    model: type[Offering],
    listing: _Listing,
    page: PageRequest,
    extra: ColumnElement[bool],
) -> Page[Offering]:
    """Offerings the caller may use; ``zoneid`` must name a zone (every offering here
    serves every zone of the region, so it narrows nothing)."""
    if listing.recursive and not (ctx.caller.is_root_admin or ctx.caller.is_domain_admin):
        raise invalid(
            "isrecursive",
            "Only ROOT admins and Domain admins can list offerings with isrecursive=true",
            value="true",
        )
    if listing.zone_uuid is not None:
        await find_by_uuid(ctx, Zone, listing.zone_uuid, "zoneid")
    query = select(model).where(
        model.removed.is_(None),
        offered_to(ctx.caller, model.domain_id, recursive=listing.recursive),
        equal_if_given((model.uuid, listing.uuid), (model.name, listing.name)),
        keyword_filter(listing.keyword, model.name, model.display_text),
        extra,
    )
    if listing.domain_uuid is not None:
        domain = await ctx.session.scalar(select(Domain).where(Domain.uuid == listing.domain_uuid))
        if domain is None:
            raise InvalidParameter(f"Unable to find domain with id {listing.domain_uuid}")
        query = query.where(model.domain_id == domain.id)
    return await paginate(ctx.session, query.order_by(model.id), page)


async def list_service_offerings(
    ctx: ServiceContext,
    *,
    uuid: str | None,
    name: str | None,
    domain_uuid: str | None,
    zone_uuid: str | None = None,
    keyword: str | None,
    recursive: bool = False,
    filters: ServiceOfferingFilters = ServiceOfferingFilters(),
    page: PageRequest,
) -> Page[ServiceOffering]:
    """Offerings the caller may use; system offerings (``filters.is_system``) only for
    root admins, and only those."""
    if filters.is_system and not ctx.caller.is_root_admin:
        raise invalid("issystem", "Only ROOT admins can access system offerings", value="true")
    return await _list(
        ctx,
        ServiceOffering,
        _Listing(uuid, name, domain_uuid, zone_uuid, keyword, recursive),
        page,
        filters.clause(),
    )


async def list_disk_offerings(
    ctx: ServiceContext,
    *,
    uuid: str | None,
    name: str | None,
    domain_uuid: str | None,
    zone_uuid: str | None = None,
    keyword: str | None,
    recursive: bool = False,
    encrypt: bool | None = None,
    page: PageRequest,
) -> Page[DiskOffering]:
    """Offerings the caller may use; users do not see those not displayed."""
    shown = true() if ctx.caller.is_root_admin else DiskOffering.display_offering.is_(True)
    return await _list(
        ctx,
        DiskOffering,
        _Listing(uuid, name, domain_uuid, zone_uuid, keyword, recursive),
        page,
        and_(shown, equal_if_given((DiskOffering.encrypt, encrypt))),
    )


# --- OS types ---


def os_category_uuid(category: str) -> str:
    return str(uuid_module.uuid5(_CATEGORY_NAMESPACE, category))


@dataclass(frozen=True)
class OsCategory:
    uuid: str
    name: str


async def _category_named(ctx: ServiceContext, category_uuid: str) -> str:
    names = await ctx.session.scalars(select(OsType.category).distinct())
    for name in names:
        if os_category_uuid(name) == category_uuid:
            return name
    raise InvalidParameter(f"Unable to find OS category with id {category_uuid}")


async def list_os_types(
    ctx: ServiceContext,
    *,
    uuid: str | None,
    description: str | None,
    category_uuid: str | None,
    keyword: str | None,
    page: PageRequest,
) -> Page[OsType]:
    category = await _category_named(ctx, category_uuid) if category_uuid else None
    query = select(OsType).where(
        equal_if_given(
            (OsType.uuid, uuid), (OsType.description, description), (OsType.category, category)
        ),
        keyword_filter(keyword, OsType.description),
    )
    return await paginate(ctx.session, query.order_by(OsType.description), page)


async def list_os_categories(
    ctx: ServiceContext, *, uuid: str | None, name: str | None, keyword: str | None
) -> list[OsCategory]:
    """The categories of the OS types, by name (few, so filtered here rather than in SQL)."""
    names = await ctx.session.scalars(select(OsType.category).distinct())
    categories = [OsCategory(os_category_uuid(found), found) for found in sorted(names)]
    return [
        category
        for category in categories
        if (uuid is None or category.uuid == uuid)
        and (name is None or category.name.lower() == name.lower())
        and (not keyword or keyword.lower() in category.name.lower())
    ]
