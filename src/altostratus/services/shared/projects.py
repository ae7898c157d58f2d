"""``projectid`` on the resource commands: which project, and whose account acts.

A project's resources belong to its project account (``models.projects``), so a
resource command given ``projectid`` works as if the caller had named that account,
once these checks pass:

* the project is *visible*: the caller is a member of it, or administers its domain
  (root admins every project, domain admins those of their subtree); any other
  project is "not found" (431), as CloudStack answers;
* creating something needs the project to be ``Active`` (a suspended project gets no
  new resources: 531, as CloudStack refuses it).

Any member may use the project's resources (CloudStack's regular members deploy and
stop VMs too); managing the project itself (its members, its state) needs the project's
admin role and lives in ``identity.projects``. ``projectid=-1`` on a listing means every
project the caller may see.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select, true

from altostratus.core.context import Caller, ServiceContext
from altostratus.db.models import Account, Domain, Project, ProjectMember, ProjectState
from altostratus.errors import InvalidParameter, PermissionDenied, invalid
from altostratus.services.shared.visibility import subtree_filter

__all__ = [
    "ALL_PROJECTS",
    "get_project",
    "member_project_accounts",
    "project_accounts",
    "project_listing",
    "project_owner",
    "visible_projects",
]

#: ``projectid=-1``: the resources of every project the caller may see.
ALL_PROJECTS = "-1"


def member_project_accounts(caller: Caller) -> Select[Any]:
    """The project accounts of the projects ``caller``'s account is a member of."""
    return (
        select(Project.account_id)
        .join(ProjectMember, ProjectMember.project_id == Project.id)
        .where(ProjectMember.account_id == caller.account_id)
    )


def visible_projects(caller: Caller) -> ColumnElement[bool]:
    """Rows of ``projects`` (joined with their ``Domain``) the caller may see."""
    member = Project.account_id.in_(member_project_accounts(caller))
    if caller.is_root_admin:
        return true()
    if caller.is_domain_admin:
        return or_(member, subtree_filter(Domain.path, caller.domain_path))
    return member


async def get_project(
    ctx: ServiceContext, project_uuid: str, *, parameter: str = "projectid"
) -> Project:
    """The project ``project_uuid`` if the caller may see it; else 431 naming ``parameter``."""
    project = await ctx.session.scalar(
        select(Project)
        .join(Domain, Project.domain_id == Domain.id)
        .where(Project.uuid == project_uuid, visible_projects(ctx.caller))
    )
    if project is None:
        raise InvalidParameter(
            f"Unable to find project with id {project_uuid} (parameter {parameter})"
        )
    return project


async def project_owner(ctx: ServiceContext, project_uuid: str) -> Account:
    """The account that owns what a command creates with ``projectid``."""
    project = await get_project(ctx, project_uuid)
    if project.state != ProjectState.ACTIVE:
        raise PermissionDenied(
            f"Cannot add resources to project {project.name}: it is {project.state}, not Active"
        )
    return project.account


async def project_accounts(
    ctx: ServiceContext, project_uuid: str, *, account: str | None
) -> Select[Any]:
    """The ids of the accounts whose rows a listing with ``projectid`` shows."""
    if account is not None:
        raise invalid("projectid", "give either projectid or account, not both")
    if project_uuid == ALL_PROJECTS:
        return (
            select(Project.account_id)
            .join(Domain, Project.domain_id == Domain.id)
            .where(visible_projects(ctx.caller))
        )
    project = await get_project(ctx, project_uuid)
    return select(Project.account_id).where(Project.id == project.id)


async def project_listing(
    ctx: ServiceContext, project_uuid: str, *, account: str | None
) -> ColumnElement[bool]:
    """Rows (joined with their owner ``Account``) a listing with ``projectid`` shows."""
    return Account.id.in_(await project_accounts(ctx, project_uuid, account=account))
