"""The domain tree: ``createDomain``, ``updateDomain``, ``deleteDomain`` and the listings.

A domain's ``path`` (``ROOT/sales/emea``) is stored on every row so that a subtree is
one prefix match; renaming a domain therefore rewrites the paths below it. Event rows
keep the path they were written with: they record what was true then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Select, delete, select, update

from altostratus.core.context import ServiceContext
from altostratus.core.paging import (
    Page,
    PageRequest,
    equal_if_given,
    keyword_filter,
    paginate,
)
from altostratus.db.models import (
    Account,
    DiskOffering,
    Domain,
    EntityState,
    ResourceLimit,
    ServiceOffering,
    Zone,
    new_uuid,
)
from altostratus.errors import InvalidParameter, PermissionDenied, ResourceInUse
from altostratus.services.shared.access import (
    container_domain,
    execute_delete,
    get_domain,
    require_fresh_uuid,
    require_managed_account,
    visible_domains,
)
from altostratus.services.shared.events import record_event
from altostratus.services.shared.limits import ResourceType, Usage, domain_usage
from altostratus.services.shared.visibility import subtree_filter

__all__ = [
    "DomainDeletion",
    "DomainSummary",
    "create_domain",
    "list_domain_children",
    "list_domains",
    "remove_domain",
    "start_domain_deletion",
    "update_domain",
]


@dataclass(frozen=True)
class DomainSummary:
    """A domain with what its response shows beyond its own row."""

    domain: Domain
    has_child: bool
    #: Limits and use of the domain's subtree.
    usage: Mapping[ResourceType, Usage]


async def _summaries(ctx: ServiceContext, domains: Sequence[Domain]) -> list[DomainSummary]:
    ids = [domain.id for domain in domains]
    parents = set(
        await ctx.session.scalars(select(Domain.parent_id).where(Domain.parent_id.in_(ids)))
    )
    return [
        DomainSummary(domain, domain.id in parents, await domain_usage(ctx.session, domain))
        for domain in domains
    ]


async def _require_free_name(ctx: ServiceContext, parent: Domain, name: str) -> None:
    clash = await ctx.session.scalar(
        select(Domain.id).where(Domain.parent_id == parent.id, Domain.name == name)
    )
    if clash is not None:
        raise InvalidParameter(f"Domain with name {name} already exists in domain {parent.path}")


def _refuse_own_domain(ctx: ServiceContext, domain: Domain, action: str) -> None:
    """A domain admin works below its domain, never on it (it could rename itself away)."""
    if ctx.caller.is_domain_admin and domain.id == ctx.caller.domain_id:
        raise PermissionDenied(f"Domain admins may not {action} their own domain {domain.path}")


async def create_domain(
    ctx: ServiceContext,
    *,
    name: str,
    parent_uuid: str | None,
    network_domain: str | None,
    domain_uuid: str | None,
) -> DomainSummary:
    parent = await container_domain(ctx, parent_uuid)
    await require_fresh_uuid(ctx, Domain, domain_uuid, "domainid")
    await _require_free_name(ctx, parent, name)
    domain = Domain(
        uuid=domain_uuid or new_uuid(),
        name=name,
        parent=parent,
        path=f"{parent.path}/{name}",
        level=parent.level + 1,
        network_domain=network_domain,
    )
    ctx.session.add(domain)
    await ctx.session.flush()
    await record_event(
        ctx,
        "DOMAIN.CREATE",
        f"Created domain {domain.path}",
        resource_type="Domain",
        resource_uuid=domain.uuid,
    )
    return (await _summaries(ctx, [domain]))[0]


async def _subtree(ctx: ServiceContext, domain: Domain) -> Sequence[Domain]:
    """``domain`` and every domain below it, deepest first."""
    return (
        await ctx.session.scalars(
            select(Domain)
            .where(subtree_filter(Domain.path, domain.path))
            .order_by(Domain.level.desc())
        )
    ).all()


async def update_domain(
    ctx: ServiceContext, *, domain_uuid: str, name: str | None, network_domain: str | None
) -> DomainSummary:
    domain = await get_domain(ctx, domain_uuid)
    _refuse_own_domain(ctx, domain, "update")
    if name is not None and name != domain.name:
        if domain.parent is None:
            raise InvalidParameter("The ROOT domain cannot be renamed")
        await _require_free_name(ctx, domain.parent, name)
        old_path, new_path = domain.path, f"{domain.parent.path}/{name}"
        for member in await _subtree(ctx, domain):
            member.path = new_path + member.path.removeprefix(old_path)
        domain.name = name
    if network_domain is not None:
        domain.network_domain = network_domain
    await ctx.session.flush()
    await record_event(
        ctx,
        "DOMAIN.UPDATE",
        f"Updated domain {domain.path}",
        resource_type="Domain",
        resource_uuid=domain.uuid,
    )
    return (await _summaries(ctx, [domain]))[0]


@dataclass(frozen=True)
class DomainDeletion:
    """What ``deleteDomain``'s job removes: the accounts first, then the domains."""

    domain_uuid: str
    account_uuids: list[str]


async def _require_undedicated(ctx: ServiceContext, domain: Domain, ids: list[int]) -> None:
    """536 while zones or live offerings are dedicated to the subtree: deleting its
    accounts first and then failing on those would leave half a domain."""
    queries = {
        "zone": select(Zone.name).where(Zone.domain_id.in_(ids)),
        "service offering": select(ServiceOffering.name).where(
            ServiceOffering.domain_id.in_(ids), ServiceOffering.removed.is_(None)
        ),
        "disk offering": select(DiskOffering.name).where(
            DiskOffering.domain_id.in_(ids), DiskOffering.removed.is_(None)
        ),
    }
    dedicated = [
        f"{kind} {name}"
        for kind, query in queries.items()
        for name in await ctx.session.scalars(query)
    ]
    if dedicated:
        raise ResourceInUse(
            f"Domain {domain.path} is still in use by resources dedicated to it: "
            f"{', '.join(dedicated)}"
        )


async def start_domain_deletion(
    ctx: ServiceContext, *, domain_uuid: str, cleanup: bool
) -> DomainDeletion:
    """Check that the caller may delete the domain; with ``cleanup``, disable its accounts.

    Without ``cleanup`` a domain with child domains or accounts is refused, as
    CloudStack refuses it. With it, the job removes every account of the subtree as
    ``deleteAccount`` does (``compute.teardown``), then the domains (``remove_domain``).
    """
    domain = await get_domain(ctx, domain_uuid)
    if domain.parent is None:
        raise InvalidParameter("The ROOT domain cannot be deleted")
    subtree = await _subtree(ctx, domain)
    ids = [member.id for member in subtree]
    if ctx.caller.domain_id in ids:
        raise PermissionDenied(
            f"Domain {domain.path} holds your own account; it cannot be deleted by you"
        )
    accounts = (await ctx.session.scalars(select(Account).where(Account.domain_id.in_(ids)))).all()
    if not cleanup and (len(subtree) > 1 or accounts):
        raise ResourceInUse(
            f"Delete failed on domain {domain.path} (id: {domain.uuid}): it still has "
            f"{len(subtree) - 1} child domain(s) and {len(accounts)} account(s); remove them "
            "from the domain before deleting it, or use cleanup=true"
        )
    for account in accounts:
        # A domain admin must not delete a root admin's account by deleting its domain.
        require_managed_account(ctx.caller, account)
    await _require_undedicated(ctx, domain, ids)
    for account in accounts:
        account.state = EntityState.DISABLED
    await ctx.session.flush()
    return DomainDeletion(domain.uuid, [account.uuid for account in accounts])


async def remove_domain(ctx: ServiceContext, domain_uuid: str) -> None:
    """Delete the domain, its sub-domains and their limits, once their accounts are gone."""
    domain = await get_domain(ctx, domain_uuid)
    subtree = await _subtree(ctx, domain)
    ids = [member.id for member in subtree]
    await ctx.session.execute(delete(ResourceLimit).where(ResourceLimit.domain_id.in_(ids)))
    for retired in (ServiceOffering, DiskOffering):
        # Retired offerings stay for the VMs that used them, offered to nobody now.
        await ctx.session.execute(
            update(retired)
            .where(retired.domain_id.in_(ids), retired.removed.is_not(None))
            .values(domain_id=None)
        )
    await record_event(
        ctx,
        "DOMAIN.DELETE",
        f"Deleted domain {domain.path} with {len(subtree) - 1} child domain(s)",
        resource_type="Domain",
        resource_uuid=domain.uuid,
    )
    # Deepest domains first.
    await execute_delete(ctx, subtree, f"Domain {domain.path}")


async def list_domains(
    ctx: ServiceContext,
    *,
    domain_uuid: str | None,
    name: str | None,
    level: int | None,
    keyword: str | None,
    listall: bool,
    page: PageRequest,
) -> Page[DomainSummary]:
    """By id: any visible domain; with ``listall``: the visible tree; else the caller's own.

    A root admin lists every domain either way (CloudStack narrows only other callers to
    their own domain), so ``level=1`` alone lists the domains below ROOT.
    """
    query = select(Domain).where(visible_domains(ctx.caller), keyword_filter(keyword, Domain.name))
    if domain_uuid is not None:
        query = query.where(Domain.uuid == domain_uuid)
    elif not listall and not ctx.caller.is_root_admin:
        query = query.where(Domain.id == ctx.caller.domain_id)
    query = query.where(equal_if_given((Domain.name, name), (Domain.level, level)))
    return await _summarised_page(ctx, query.order_by(Domain.path), page)


async def list_domain_children(
    ctx: ServiceContext,
    *,
    domain_uuid: str | None,
    recursive: bool,
    name: str | None,
    keyword: str | None,
    page: PageRequest,
) -> Page[DomainSummary]:
    """Children of a domain (default: the caller's), or all descendants when ``recursive``."""
    parent = await get_domain(ctx, domain_uuid or ctx.caller.domain_uuid)
    query = select(Domain).where(visible_domains(ctx.caller), keyword_filter(keyword, Domain.name))
    if recursive:
        query = query.where(subtree_filter(Domain.path, parent.path), Domain.id != parent.id)
    else:
        query = query.where(Domain.parent_id == parent.id)
    query = query.where(equal_if_given((Domain.name, name)))
    return await _summarised_page(ctx, query.order_by(Domain.path), page)


async def _summarised_page(
    ctx: ServiceContext, query: Select[Domain], page: PageRequest
) -> Page[DomainSummary]:
    found = await paginate(ctx.session, query, page)
    return Page(items=await _summaries(ctx, found.items), total=found.total)
