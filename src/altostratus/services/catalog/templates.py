"""Templates: the disk images VMs are built from.

A template is a URL. An ``http(s)://`` one is downloaded into the region's image store
by a worker (``services/images/downloads.py``): registering records it NOT_DOWNLOADED
("Downloading"), and it is Ready ("Download Complete", ``isready``) only once its bytes
are stored and checked, with its size known. A ``file:///`` one is a path on the hosts,
which their agents read themselves: the region never sees its bytes, so it is Ready at
once and its size unknown (a deploy from it names ``rootdisksize``).

Who sees what (``templatefilter``) follows CloudStack: public templates are everyone's,
private ones their owner's; domain admins also see (and manage) those owned in their
subtree, root admins all. Only admins publish templates (``ispublic``), and only root
admins feature them.

ISOs are rows of the same table (format ISO), registered, listed and deleted by their
own commands (``registerIso``, ``listIsos``, ``deleteIso``) on the same download path;
the template commands never see them, nor they templates.

Deleting a template retires it, even while VMs use it, as CloudStack allows: its row
stays, so those VMs keep their template (and can still be started elsewhere), but it is
no longer listed or usable for new VMs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, and_, false, or_, select, true

from altostratus.core.context import Caller, ServiceContext
from altostratus.core.paging import (
    Page,
    PageRequest,
    equal_if_given,
    keyword_filter,
    paginate,
)
from altostratus.db.models import Account, Domain, OsType, Template, Zone
from altostratus.db.models.catalog import DownloadState, TemplateFormat, TemplateState
from altostratus.errors import InvalidParameter, PermissionDenied, invalid
from altostratus.services.shared import limits
from altostratus.services.shared.events import record_event
from altostratus.services.shared.limits import ResourceType
from altostratus.services.shared.lookup import find_by_uuid
from altostratus.services.shared.ownership import OwnerScope, listed_owners, with_owner_joins
from altostratus.services.shared.visibility import subtree_filter
from altostratus.timeutil import utcnow

__all__ = [
    "TemplateChanges",
    "TemplateFilter",
    "TemplateSpec",
    "check_url",
    "delete_template",
    "get_launchable_template",
    "get_template",
    "list_templates",
    "register_template",
    "update_template",
]


class TemplateFilter(enum.StrEnum):
    """CloudStack's ``templatefilter`` values."""

    FEATURED = "featured"
    SELF = "self"
    SELF_EXECUTABLE = "selfexecutable"
    SHARED_EXECUTABLE = "sharedexecutable"
    EXECUTABLE = "executable"
    COMMUNITY = "community"
    ALL = "all"


#: The filters whose public templates every account may use, whoever owns them.
_FOR_EVERYONE = (TemplateFilter.EXECUTABLE, TemplateFilter.FEATURED, TemplateFilter.COMMUNITY)


def check_url(url: str) -> str:
    """``http(s)://host/…`` or ``file:///absolute/path``; anything else is a ``ValueError``."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.hostname:
        return url
    if parts.scheme == "file" and not parts.netloc and parts.path.startswith("/"):
        return url
    raise ValueError("must be an http(s) URL or a file:/// path on the hosts")


def _managed_domains(caller: Caller) -> ColumnElement[bool]:
    return Template.domain_id.in_(
        select(Domain.id).where(subtree_filter(Domain.path, caller.domain_path))
    )


def _usable(caller: Caller) -> ColumnElement[bool]:
    """Templates the caller may see and launch: public, own, or (admins) managed."""
    if caller.is_root_admin:
        return true()
    own: ColumnElement[bool] = Template.account_id == caller.account_id
    if caller.is_domain_admin:
        return or_(Template.is_public, own, _managed_domains(caller))
    return or_(Template.is_public, own)


def _owned(caller: Caller, listall: bool) -> ColumnElement[bool]:
    """The caller's own templates; with ``listall``, those of every account it manages."""
    if listall and caller.is_root_admin:
        return true()
    if listall and caller.is_domain_admin:
        return _managed_domains(caller)
    own: ColumnElement[bool] = Template.account_id == caller.account_id
    return own


def _filtered(caller: Caller, which: TemplateFilter, listall: bool) -> ColumnElement[bool]:
    ready = Template.download_state == DownloadState.DOWNLOADED
    match which:
        case TemplateFilter.FEATURED:
            return and_(Template.is_featured, Template.is_public)
        case TemplateFilter.COMMUNITY:
            return and_(Template.is_public, Template.is_featured.is_(False))
        case TemplateFilter.SELF:
            return _owned(caller, listall)
        case TemplateFilter.SELF_EXECUTABLE:
            return and_(_owned(caller, listall), ready)
        case TemplateFilter.SHARED_EXECUTABLE:
            # Sharing with named accounts (updateTemplatePermissions) does not exist yet.
            return false()
        case TemplateFilter.EXECUTABLE:
            return and_(_usable(caller), ready)
        case TemplateFilter.ALL:
            if not (caller.is_root_admin or caller.is_domain_admin):
                raise invalid("templatefilter", "only admins may list all templates", value="all")
            return _usable(caller)


def _of_kind(iso: bool) -> ColumnElement[bool]:
    """ISOs are rows of ``templates`` too; each command family sees only its own."""
    if iso:
        return Template.format == TemplateFormat.ISO
    return Template.format != TemplateFormat.ISO


async def get_template(
    ctx: ServiceContext, uuid: str, parameter: str = "id", *, iso: bool = False
) -> Template:
    """A template (or ``iso``) the caller may see, not retired; else 431 naming ``parameter``."""
    template = await ctx.session.scalar(
        select(Template).where(
            Template.uuid == uuid,
            Template.removed.is_(None),
            _of_kind(iso),
            _usable(ctx.caller),
        )
    )
    if template is None:
        kind = "ISO" if iso else "template"
        raise InvalidParameter(f"Unable to find {kind} with id {uuid} (parameter {parameter})")
    return template


async def get_launchable_template(
    ctx: ServiceContext, uuid: str, zone_id: int, parameter: str = "templateid"
) -> Template:
    """A Ready template the caller may launch in the zone ``zone_id`` (or cross-zone)."""
    template = await get_template(ctx, uuid, parameter)
    if template.zone_id is not None and template.zone_id != zone_id:
        raise invalid(
            parameter,
            f"template {template.name} is not available in the requested zone",
            value=uuid,
        )
    if template.download_state != DownloadState.DOWNLOADED:
        raise invalid(parameter, f"template {template.name} is not ready", value=uuid)
    return template


def _require_manages(caller: Caller, template: Template) -> None:
    """531 unless the caller owns the template or administers its owner's domain."""
    if template.account_id == caller.account_id or caller.manages_domain_path(template.domain.path):
        return
    raise PermissionDenied(f"Account {caller.account_name} may not change template {template.name}")


def _require_publishing_rights(caller: Caller, is_public: bool, is_featured: bool) -> None:
    if is_featured and not caller.is_root_admin:
        raise PermissionDenied("Only root admins may feature templates (isfeatured)")
    if is_public and not (caller.is_root_admin or caller.is_domain_admin):
        raise PermissionDenied("Only admins may make templates public (ispublic)")


async def _os_type(ctx: ServiceContext, uuid: str) -> OsType:
    return await find_by_uuid(ctx, OsType, uuid, "ostypeid")


async def _event(ctx: ServiceContext, template: Template, action: str, verb: str) -> None:
    """``TEMPLATE.<action>``, or ``ISO.<action>`` for an ISO, as CloudStack names them."""
    iso = template.format == TemplateFormat.ISO
    await record_event(
        ctx,
        f"{'ISO' if iso else 'TEMPLATE'}.{action}",
        f"{verb} {'ISO' if iso else 'template'} {template.name} ({template.uuid})",
        resource_type="Template",
        resource_uuid=template.uuid,
        owner=template.account,
    )


@dataclass(frozen=True)
class TemplateSpec:
    """A template to register; field names are the columns of ``Template``."""

    name: str
    display_text: str
    url: str
    format: str
    hypervisor: str
    is_public: bool = False
    is_featured: bool = False
    is_extractable: bool = False
    password_enabled: bool = False
    ssh_key_enabled: bool = False
    bootable: bool = True
    checksum: str | None = None


async def register_template(
    ctx: ServiceContext,
    spec: TemplateSpec,
    *,
    os_type_uuid: str,
    zone_uuid: str | None,
    owner: Account,
) -> Template:
    """Record a template to download (Ready at once for a path on the hosts);
    ``zone_uuid`` ``None`` makes it cross-zone."""
    _require_publishing_rights(ctx.caller, spec.is_public, spec.is_featured)
    os_type = await _os_type(ctx, os_type_uuid)
    zone = await find_by_uuid(ctx, Zone, zone_uuid, "zoneid") if zone_uuid else None
    await limits.check(ctx.session, owner.id, {ResourceType.TEMPLATE: 1})
    values = {field.name: getattr(spec, field.name) for field in fields(spec)}
    on_hosts = urlsplit(spec.url).scheme == "file"
    template = Template(
        **values,
        os_type_id=os_type.id,
        zone_id=zone.id if zone else None,
        account_id=owner.id,
        domain_id=owner.domain_id,
        status=TemplateState.READY if on_hosts else TemplateState.DOWNLOADING,
        download_state=DownloadState.DOWNLOADED if on_hosts else DownloadState.NOT_DOWNLOADED,
    )
    ctx.session.add(template)
    await ctx.session.flush()
    await ctx.session.refresh(template, ["os_type", "zone", "account", "domain"])
    await _event(ctx, template, "CREATE", "Registered")
    if not on_hosts:
        ctx.deps.signals.downloads_queued()
    return template


@dataclass(frozen=True)
class TemplateChanges:
    """What ``updateTemplate`` may change; ``None`` means "not given"."""

    name: str | None = None
    display_text: str | None = None
    format: str | None = None
    password_enabled: bool | None = None
    ssh_key_enabled: bool | None = None
    bootable: bool | None = None
    is_extractable: bool | None = None


async def update_template(
    ctx: ServiceContext, uuid: str, changes: TemplateChanges, *, os_type_uuid: str | None
) -> Template:
    template = await get_template(ctx, uuid)
    _require_manages(ctx.caller, template)
    for field in fields(changes):
        value = getattr(changes, field.name)
        if value is not None:
            setattr(template, field.name, value)
    if os_type_uuid is not None:
        template.os_type = await _os_type(ctx, os_type_uuid)
    await ctx.session.flush()
    await _event(ctx, template, "UPDATE", "Updated")
    return template


async def delete_template(ctx: ServiceContext, uuid: str, *, iso: bool = False) -> None:
    """Retire the template or ``iso`` (see the module's docstring about VMs using it)."""
    template = await get_template(ctx, uuid, iso=iso)
    _require_manages(ctx.caller, template)
    template.removed = utcnow()
    await _event(ctx, template, "DELETE", "Deleted")


async def list_templates(
    ctx: ServiceContext,
    *,
    which: TemplateFilter,
    uuid: str | None,
    name: str | None,
    zone: Zone | None,
    hypervisor: str | None,
    keyword: str | None,
    owner: OwnerScope,
    page: PageRequest,
    iso: bool = False,
) -> Page[Template]:
    """Templates of the filter ``which``; a zone lists its own and the cross-zone ones.

    ``account``/``domainid`` (or ``projectid``) narrow the owned ones to that account,
    domain or project; with ``executable``, ``featured`` and ``community`` the public ones
    stay, as CloudStack lists what that account may launch.
    """
    narrowed = (
        owner.account is not None or owner.domain_uuid is not None or owner.project_uuid is not None
    )
    query = with_owner_joins(Template).where(
        Template.removed.is_(None),
        _of_kind(iso),
        # Naming an account or a domain implies listall within it (``listed_owners``).
        _filtered(ctx.caller, which, owner.listall or narrowed),
        equal_if_given(
            (Template.uuid, uuid), (Template.name, name), (Template.hypervisor, hypervisor)
        ),
        keyword_filter(keyword, Template.name, Template.display_text),
    )
    if narrowed:
        owners = await listed_owners(ctx, owner)
        if which in _FOR_EVERYONE:
            # The public templates are the named account's to use too (an admin listing
            # what it may deploy for that account), besides the ones it owns.
            owners = or_(Template.is_public, owners)
        query = query.where(owners)
    if zone is not None:
        query = query.where(or_(Template.zone_id.is_(None), Template.zone_id == zone.id))
    return await paginate(ctx.session, query.order_by(Template.id), page)
