"""Resource tags: key/value labels on VMs, volumes, snapshots, templates, networks, ….

A tag belongs to the owner of the resource it labels (whoever set it), so the owner
lists it and it goes with the resource. The caller must own or administer every
resource it tags: a resource it cannot see is "not found" (431); one it sees without
owning (a public template, a shared network) is 531. Resources are named by
CloudStack's type names (``UserVm``, ``Volume``, …), in any letter case.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.core.context import ServiceContext
from altostratus.core.paging import Page, PageRequest, equal_if_given, keyword_filter, paginate
from altostratus.db.models import (
    Account,
    AffinityGroup,
    IpAddress,
    Network,
    Project,
    PublicEntity,
    ResourceTag,
    SecurityGroup,
    Snapshot,
    Template,
    VirtualMachine,
    Volume,
)
from altostratus.errors import InvalidParameter, PermissionDenied, invalid
from altostratus.services.shared.events import record_event
from altostratus.services.shared.ownership import OwnerScope, may_use, owned_rows

__all__ = [
    "RESOURCE_TYPES",
    "TagFilter",
    "Taggable",
    "create_tags",
    "delete_tags",
    "delete_tags_of",
    "list_tags",
    "resource_type_named",
    "tags_of",
]


def _never_shared(row: Any) -> bool:
    return False


@dataclass(frozen=True)
class Taggable:
    """How to find a resource type's rows, and which of them others may see."""

    model: type[PublicEntity]
    #: Rows that still exist (not removed, the right purpose…).
    live: Callable[[], ColumnElement[bool]] = true
    #: Rows visible beyond their owner (so tagging them is 531, not 431).
    shared: Callable[[Any], bool] = _never_shared


#: CloudStack's resource type names for what this cloud has.
RESOURCE_TYPES: dict[str, Taggable] = {
    "UserVm": Taggable(VirtualMachine, lambda: VirtualMachine.removed.is_(None)),
    "Volume": Taggable(Volume, lambda: Volume.removed.is_(None)),
    "Snapshot": Taggable(Snapshot, lambda: Snapshot.removed.is_(None)),
    "Template": Taggable(
        Template, lambda: Template.removed.is_(None), lambda row: bool(row.is_public)
    ),
    "SecurityGroup": Taggable(SecurityGroup),
    "Network": Taggable(
        Network, lambda: Network.removed.is_(None), lambda row: row.account_id is None
    ),
    "PublicIpAddress": Taggable(IpAddress, lambda: IpAddress.purpose == "public"),
    "AffinityGroup": Taggable(AffinityGroup),
    # Owned by its project account: members tag it (``ownership.may_use``).
    "Project": Taggable(Project),
}
_BY_LOWER_NAME = {name.lower(): name for name in RESOURCE_TYPES}


def resource_type_named(name: str) -> str:
    """CloudStack's spelling of a resource type given in any case; 431 if unknown."""
    try:
        return _BY_LOWER_NAME[name.lower()]
    except KeyError:
        raise invalid(
            "resourcetype", f"one of {', '.join(sorted(RESOURCE_TYPES))}", value=name
        ) from None


@dataclass(frozen=True)
class TagFilter:
    """A key, and optionally the value, of tags to delete."""

    key: str
    value: str | None = None


async def _owners(
    ctx: ServiceContext, resource_type: str, uuids: Sequence[str]
) -> dict[str, Account]:
    """The account each resource belongs to, after checking the caller may tag it.

    A resource without an owner (a zone-wide shared network) is tagged in the name of
    the root admin that tags it.
    """
    taggable = RESOURCE_TYPES[resource_type]
    model: Any = taggable.model
    rows = {
        row.uuid: row
        for row in await ctx.session.scalars(
            select(model).where(model.uuid.in_(uuids), taggable.live())
        )
    }
    owner_ids = {row.account_id for row in rows.values() if row.account_id is not None}
    accounts = {
        account.id: account
        for account in await ctx.session.scalars(
            select(Account).where(Account.id.in_(owner_ids | {ctx.caller.account_id}))
        )
    }
    owners: dict[str, Account] = {}
    for uuid in uuids:
        row = rows.get(uuid)
        owner = accounts.get(row.account_id) if row is not None and row.account_id else None
        if row is not None and owner is None and ctx.caller.is_root_admin:
            owner = accounts[ctx.caller.account_id]
        if owner is not None and await may_use(ctx, owner):
            owners[uuid] = owner
        elif row is not None and taggable.shared(row):
            raise PermissionDenied(
                f"Account {ctx.caller.account_name} may not change the tags of "
                f"{resource_type} {uuid}: it belongs to another account"
            )
        else:
            raise InvalidParameter(f"Unable to find {resource_type} with id {uuid}")
    return owners


async def _record(
    ctx: ServiceContext, event_type: str, text: str, resource_type: str, uuid: str, owner: Account
) -> None:
    await record_event(
        ctx,
        event_type,
        f"{text} on {resource_type} {uuid}",
        resource_type=resource_type,
        resource_uuid=uuid,
        owner=owner,
    )


async def create_tags(
    ctx: ServiceContext,
    *,
    resource_type: str,
    resource_uuids: Sequence[str],
    tags: Mapping[str, str],
    customer: str | None,
) -> list[ResourceTag]:
    """Add ``tags`` to every resource; a key a resource already has is 431 (nothing added)."""
    resource_type = resource_type_named(resource_type)
    owners = await _owners(ctx, resource_type, resource_uuids)
    taken = await ctx.session.scalar(
        select(ResourceTag).where(
            ResourceTag.resource_type == resource_type,
            ResourceTag.resource_uuid.in_(resource_uuids),
            ResourceTag.key.in_(list(tags)),
        )
    )
    if taken is not None:
        raise invalid(
            "tags",
            f"{resource_type} {taken.resource_uuid} already has a tag with key {taken.key}; "
            "delete it first to change its value",
        )
    created = [
        ResourceTag(
            key=key,
            value=value,
            resource_type=resource_type,
            resource_uuid=uuid,
            account=owner,
            domain=owner.domain,
            customer=customer,
        )
        for uuid, owner in owners.items()
        for key, value in tags.items()
    ]
    ctx.session.add_all(created)
    await ctx.session.flush()
    for uuid, owner in owners.items():
        keys = ", ".join(tags)
        await _record(ctx, "CREATE_TAGS", f"Added tags {keys}", resource_type, uuid, owner)
    return created


async def delete_tags(
    ctx: ServiceContext,
    *,
    resource_type: str,
    resource_uuids: Sequence[str],
    tags: Sequence[TagFilter],
) -> None:
    """Delete the tags matching ``tags`` (all of them when none given); 431 if none match."""
    resource_type = resource_type_named(resource_type)
    owners = await _owners(ctx, resource_type, resource_uuids)
    matching = [
        and_(
            ResourceTag.key == tag.key,
            true() if tag.value is None else ResourceTag.value == tag.value,
        )
        for tag in tags
    ]
    found = list(
        await ctx.session.scalars(
            select(ResourceTag).where(
                ResourceTag.resource_type == resource_type,
                ResourceTag.resource_uuid.in_(resource_uuids),
                or_(*matching) if matching else true(),
            )
        )
    )
    if not found:
        raise InvalidParameter(
            "Unable to find any tags which conform to specified delete parameters"
        )
    for tag in found:
        await ctx.session.delete(tag)
    for uuid in sorted({tag.resource_uuid for tag in found}):
        keys = ", ".join(tag.key for tag in found if tag.resource_uuid == uuid)
        await _record(ctx, "DELETE_TAGS", f"Deleted tags {keys}", resource_type, uuid, owners[uuid])


async def list_tags(
    ctx: ServiceContext,
    *,
    resource_type: str | None,
    resource_uuid: str | None,
    key: str | None,
    value: str | None,
    customer: str | None,
    keyword: str | None,
    scope: OwnerScope,
    page: PageRequest,
) -> Page[ResourceTag]:
    query = (await owned_rows(ctx, ResourceTag, scope)).where(
        equal_if_given(
            (ResourceTag.resource_type, resource_type and resource_type_named(resource_type)),
            (ResourceTag.resource_uuid, resource_uuid),
            (ResourceTag.key, key),
            (ResourceTag.value, value),
            (ResourceTag.customer, customer),
        ),
        keyword_filter(keyword, ResourceTag.key, ResourceTag.value),
    )
    return await paginate(ctx.session, query.order_by(ResourceTag.id), page)


async def tags_of(
    session: AsyncSession, resource_type: str, uuids: Sequence[str]
) -> dict[str, list[ResourceTag]]:
    """Each resource's tags (every uuid is a key), for the ``tags`` of its response."""
    found: dict[str, list[ResourceTag]] = {uuid: [] for uuid in uuids}
    for tag in await session.scalars(
        select(ResourceTag)
        .where(ResourceTag.resource_type == resource_type, ResourceTag.resource_uuid.in_(uuids))
        .order_by(ResourceTag.id)
    ):
        found[tag.resource_uuid].append(tag)
    return found


async def delete_tags_of(session: AsyncSession, resource_type: str, uuid: str) -> None:
    """Forget a resource's tags when the resource itself goes (expunge, delete)."""
    await session.execute(
        delete(ResourceTag).where(
            ResourceTag.resource_type == resource_type, ResourceTag.resource_uuid == uuid
        )
    )
