"""Projects: creation with their project account, members, states and ``listProjects``.

Who may do what, as CloudStack has it:

* anyone may create a project; it belongs to the caller's account (an admin may name
  another account it administers), which becomes the project's first admin;
* a project is visible to its members and to the admins of its domain
  (``shared.projects``); anything else is "not found" (431);
* managing it (renaming, members, suspending, activating, deleting) needs the
  project's admin role, or administering its domain; a regular member gets 531.

The project account is created with the project and removed with it; it has no users,
is never listed among accounts and is not replicated (``federation.entities``).
Suspending and deleting need VMs stopped or expunged, so their jobs live with the VM
code (``compute.projects``); the request only checks and moves the state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, exists, false, func, select, true

from altostratus.core.context import ServiceContext
from altostratus.core.paging import Page, PageRequest, equal_if_given, keyword_filter, paginate
from altostratus.db.models import (
    Account,
    AccountType,
    Domain,
    EntityState,
    IpAddress,
    Project,
    ProjectMember,
    ProjectRole,
    ProjectState,
    Role,
    RoleType,
    Snapshot,
    VirtualMachine,
    Volume,
    new_uuid,
)
from altostratus.db.models.compute import VmState
from altostratus.errors import PermissionDenied, ResourceInUse, invalid
from altostratus.services.shared.access import container_domain, get_account
from altostratus.services.shared.events import record_event
from altostratus.services.shared.limits import ResourceType, Usage, account_usage
from altostratus.services.shared.ownership import owner_account
from altostratus.services.shared.projects import get_project, visible_projects
from altostratus.services.shared.visibility import subtree_filter

__all__ = [
    "MemberView",
    "ProjectListing",
    "ProjectView",
    "activate_project",
    "add_member",
    "create_project",
    "list_members",
    "list_projects",
    "managed_project",
    "project_by_uuid",
    "project_view",
    "record_project_event",
    "remove_member",
    "start_project_deletion",
    "start_suspension",
    "update_project",
]


@dataclass(frozen=True)
class ProjectView:
    """A project with what its response shows: admins, limits and use, VMs by state."""

    project: Project
    admins: Sequence[Account]
    usage: Mapping[ResourceType, Usage]
    vms_running: int
    vms_stopped: int


@dataclass(frozen=True)
class MemberView:
    project: Project
    member: ProjectMember


@dataclass(frozen=True)
class ProjectListing:
    """``listProjects``' filters (``None``: not filtered)."""

    project_uuid: str | None = None
    name: str | None = None
    display_text: str | None = None
    state: str | None = None
    account: str | None = None
    domain_uuid: str | None = None
    recursive: bool = False
    listall: bool = False
    keyword: str | None = None


async def record_project_event(
    ctx: ServiceContext, event_type: str, description: str, project: Project
) -> None:
    await record_event(
        ctx,
        event_type,
        description,
        resource_type="Project",
        resource_uuid=project.uuid,
        owner=project.account,
    )


async def project_by_uuid(ctx: ServiceContext, project_uuid: str) -> Project:
    """The project a job acts on (checked by its request, so not checked again)."""
    project = await ctx.session.scalar(select(Project).where(Project.uuid == project_uuid))
    assert project is not None, "a project is deleted only by its own deleteProject job"
    return project


async def project_view(ctx: ServiceContext, project: Project) -> ProjectView:
    admins = await ctx.session.scalars(
        select(Account)
        .join(ProjectMember, ProjectMember.account_id == Account.id)
        .where(ProjectMember.project_id == project.id, ProjectMember.role == ProjectRole.ADMIN)
        .order_by(ProjectMember.id)
    )
    rows = await ctx.session.execute(
        select(VirtualMachine.state, func.count())
        .where(VirtualMachine.account_id == project.account_id, VirtualMachine.removed.is_(None))
        .group_by(VirtualMachine.state)
    )
    states = {state: count for state, count in rows}
    return ProjectView(
        project,
        admins.all(),
        await account_usage(ctx.session, project.account),
        vms_running=states.get(VmState.RUNNING, 0),
        vms_stopped=states.get(VmState.STOPPED, 0),
    )


async def _member(ctx: ServiceContext, project: Project, account_id: int) -> ProjectMember | None:
    member: ProjectMember | None = await ctx.session.scalar(
        select(ProjectMember).where(
            ProjectMember.project_id == project.id, ProjectMember.account_id == account_id
        )
    )
    return member


async def managed_project(ctx: ServiceContext, project_uuid: str, parameter: str) -> Project:
    """The project if the caller may manage it: its admin, or an admin of its domain."""
    project = await get_project(ctx, project_uuid, parameter=parameter)
    if ctx.caller.manages_domain_path(project.domain.path):
        return project
    member = await _member(ctx, project, ctx.caller.account_id)
    if member is None or member.role != ProjectRole.ADMIN:
        raise PermissionDenied(
            f"Account {ctx.caller.account_name} is not an admin of project {project.name}"
        )
    return project


async def _project_role(ctx: ServiceContext) -> Role:
    """The role project accounts get: the default User role (they have no users)."""
    role = await ctx.session.scalar(
        select(Role).where(Role.type == RoleType.USER).order_by(Role.id).limit(1)
    )
    assert role is not None, "bootstrap creates the User role"
    return role


async def _require_free_name(ctx: ServiceContext, domain: Domain, name: str) -> None:
    clash = await ctx.session.scalar(
        select(Project.uuid).where(Project.domain_id == domain.id, Project.name == name)
    )
    if clash is not None:
        raise invalid("name", f"domain {domain.path} already has a project called {name}")


async def _owner(
    ctx: ServiceContext, account: str | None, domain_uuid: str | None, account_uuid: str | None
) -> Account:
    """The account that will be the project's first admin."""
    if account_uuid is not None:
        if account is not None:
            raise invalid("accountid", "give either accountid or account, not both")
        found = await get_account(ctx, account_uuid=account_uuid)
        if found.id != ctx.caller.account_id:
            # owner_account checks the caller administers it.
            return await owner_account(ctx, found.name, found.domain.uuid)
        return found
    return await owner_account(ctx, account, domain_uuid)


async def create_project(
    ctx: ServiceContext,
    *,
    name: str,
    display_text: str | None,
    account: str | None,
    domain_uuid: str | None,
    account_uuid: str | None,
) -> ProjectView:
    """A project in its owner's domain, with its project account; the owner is its admin."""
    owner = await _owner(ctx, account, domain_uuid, account_uuid)
    if owner.state != EntityState.ENABLED:
        raise PermissionDenied(f"Account {owner.name} is {owner.state}: it cannot own a project")
    domain = owner.domain
    await _require_free_name(ctx, domain, name)
    project_uuid = new_uuid()
    project_account = Account(
        uuid=new_uuid(),
        # CloudStack names them PrjAcct-…; the project's uuid keeps the name unique.
        name=f"PrjAcct-{project_uuid}",
        domain=domain,
        role=await _project_role(ctx),
        type=AccountType.PROJECT,
        state=EntityState.ENABLED,
        details={},
    )
    ctx.session.add(project_account)
    await ctx.session.flush()
    project = Project(
        uuid=project_uuid,
        name=name,
        display_text=display_text or name,
        domain=domain,
        account=project_account,
        state=ProjectState.ACTIVE,
    )
    ctx.session.add(project)
    await ctx.session.flush()
    ctx.session.add(
        ProjectMember(project_id=project.id, account_id=owner.id, role=ProjectRole.ADMIN)
    )
    await ctx.session.flush()
    await record_project_event(
        ctx, "PROJECT.CREATE", f"Created project {name} in domain {domain.path}", project
    )
    return await project_view(ctx, project)


async def _domain_account(ctx: ServiceContext, project: Project, name: str) -> Account:
    """An account of the project's domain by name: a project admin may add any of them
    (it sees no other account otherwise), but never a project account."""
    account = await ctx.session.scalar(
        select(Account).where(
            Account.domain_id == project.domain_id,
            Account.name == name,
            Account.type != AccountType.PROJECT,
        )
    )
    if account is None:
        raise invalid("account", f"no account {name} in the project's domain {project.domain.path}")
    return account


async def _new_admin(ctx: ServiceContext, project: Project, account_name: str) -> None:
    """``updateProject account=``: that account of the project's domain becomes its admin,
    and the previous admins regular members (CloudStack swaps the owner)."""
    account = await _domain_account(ctx, project, account_name)
    members = await ctx.session.scalars(
        select(ProjectMember).where(ProjectMember.project_id == project.id)
    )
    found = False
    for member in members:
        if member.account_id == account.id:
            member.role = ProjectRole.ADMIN
            found = True
        elif member.role == ProjectRole.ADMIN:
            member.role = ProjectRole.REGULAR
    if not found:
        ctx.session.add(
            ProjectMember(project_id=project.id, account_id=account.id, role=ProjectRole.ADMIN)
        )
    await ctx.session.flush()


async def update_project(
    ctx: ServiceContext,
    *,
    project_uuid: str,
    name: str | None,
    display_text: str | None,
    account: str | None,
) -> ProjectView:
    project = await managed_project(ctx, project_uuid, "id")
    if name is not None and name != project.name:
        await _require_free_name(ctx, project.domain, name)
        project.name = name
    if display_text is not None:
        project.display_text = display_text
    if account is not None:
        await _new_admin(ctx, project, account)
    await ctx.session.flush()
    await record_project_event(ctx, "PROJECT.UPDATE", f"Updated project {project.name}", project)
    return await project_view(ctx, project)


async def activate_project(ctx: ServiceContext, *, project_uuid: str) -> ProjectView:
    """A suspended project is active again: its account may create resources (its VMs
    stay stopped until started, as in CloudStack)."""
    project = await managed_project(ctx, project_uuid, "id")
    if project.state == ProjectState.ACTIVE:
        raise invalid("id", f"project {project.name} is already Active", value=project_uuid)
    project.state = ProjectState.ACTIVE
    project.account.state = EntityState.ENABLED
    await ctx.session.flush()
    await record_project_event(
        ctx, "PROJECT.ACTIVATE", f"Activated project {project.name}", project
    )
    return await project_view(ctx, project)


async def start_suspension(ctx: ServiceContext, *, project_uuid: str) -> Project:
    """Suspend the project: nothing new may be created for it, and ``suspendProject``'s
    job then stops its running VMs (``compute.projects``)."""
    project = await managed_project(ctx, project_uuid, "id")
    if project.state == ProjectState.SUSPENDED:
        raise invalid("id", f"project {project.name} is already Suspended", value=project_uuid)
    project.state = ProjectState.SUSPENDED
    project.account.state = EntityState.DISABLED
    await ctx.session.flush()
    await record_project_event(ctx, "PROJECT.SUSPEND", f"Suspended project {project.name}", project)
    return project


async def _resources_left(ctx: ServiceContext, account_id: int) -> list[str]:
    """What the project account still owns that ``cleanup=true`` would delete."""
    kinds: list[tuple[str, ColumnElement[bool]]] = [
        (
            "VMs",
            exists().where(
                VirtualMachine.account_id == account_id, VirtualMachine.removed.is_(None)
            ),
        ),
        ("volumes", exists().where(Volume.account_id == account_id, Volume.removed.is_(None))),
        (
            "snapshots",
            exists().where(Snapshot.account_id == account_id, Snapshot.removed.is_(None)),
        ),
        ("public IP addresses", exists().where(IpAddress.account_id == account_id)),
    ]
    return [noun for noun, found in kinds if await ctx.session.scalar(select(found))]


async def start_project_deletion(
    ctx: ServiceContext, *, project_uuid: str, cleanup: bool
) -> Project:
    """Check that the caller may delete the project, and freeze it for the job.

    Without ``cleanup`` a project that still owns VMs, volumes, snapshots or addresses
    is refused (536), as CloudStack refuses it; with it, ``deleteProject``'s job removes
    them as ``deleteAccount`` does, then the project and its account.
    """
    project = await managed_project(ctx, project_uuid, "id")
    if not cleanup and (left := await _resources_left(ctx, project.account_id)):
        raise ResourceInUse(
            f"Project {project.name} still owns {', '.join(left)}; delete them first, or "
            "use cleanup=true"
        )
    project.state = ProjectState.DISABLED
    project.account.state = EntityState.DISABLED
    await ctx.session.flush()
    return project


async def add_member(
    ctx: ServiceContext, *, project_uuid: str, account: str, role: ProjectRole
) -> None:
    """``addAccountToProject``: an account of the project's domain joins it."""
    project = await managed_project(ctx, project_uuid, "projectid")
    found = await _domain_account(ctx, project, account)
    if await _member(ctx, project, found.id) is not None:
        raise invalid(
            "account", f"account {found.name} is already a member of project {project.name}"
        )
    ctx.session.add(ProjectMember(project_id=project.id, account_id=found.id, role=role))
    await ctx.session.flush()
    await record_project_event(
        ctx,
        "PROJECT.ACCOUNT.ADD",
        f"Added account {found.name} to project {project.name} as {role}",
        project,
    )


async def remove_member(ctx: ServiceContext, *, project_uuid: str, account: str) -> None:
    """``deleteAccountFromProject``; the last admin stays (CloudStack keeps the owner)."""
    project = await managed_project(ctx, project_uuid, "projectid")
    found = await _domain_account(ctx, project, account)
    member = await _member(ctx, project, found.id)
    if member is None:
        raise invalid("account", f"account {found.name} is not a member of project {project.name}")
    if member.role == ProjectRole.ADMIN:
        admins = await ctx.session.scalar(
            select(func.count()).where(
                ProjectMember.project_id == project.id, ProjectMember.role == ProjectRole.ADMIN
            )
        )
        if admins == 1:
            raise invalid(
                "account",
                f"account {found.name} is the only admin of project {project.name}; make "
                "another account its admin first (updateProject account=)",
            )
    await ctx.session.delete(member)
    await ctx.session.flush()
    await record_project_event(
        ctx,
        "PROJECT.ACCOUNT.REMOVE",
        f"Removed account {found.name} from project {project.name}",
        project,
    )


async def list_members(
    ctx: ServiceContext,
    *,
    project_uuid: str,
    account: str | None,
    role: ProjectRole | None,
    page: PageRequest,
) -> Page[MemberView]:
    """``listProjectAccounts``: any member may see who else is."""
    project = await get_project(ctx, project_uuid)
    query = (
        select(ProjectMember)
        .join(Account, ProjectMember.account_id == Account.id)
        .where(
            ProjectMember.project_id == project.id,
            equal_if_given((Account.name, account), (ProjectMember.role, role)),
        )
    )
    found = await paginate(ctx.session, query.order_by(ProjectMember.id), page)
    return Page(items=[MemberView(project, member) for member in found.items], total=found.total)


async def _listed(ctx: ServiceContext, wanted: ProjectListing) -> ColumnElement[bool]:
    """Whose projects: the caller's memberships, or with ``listall``, ``domainid`` or
    ``account`` (admins) every project it administers there, as CloudStack lists them."""
    caller = ctx.caller
    visible = visible_projects(caller)
    member_of = Project.id.in_(
        select(ProjectMember.project_id).where(ProjectMember.account_id == caller.account_id)
    )
    if not (caller.is_root_admin or caller.is_domain_admin):
        if wanted.account is not None and wanted.account != caller.account_name:
            return false()  # a user sees only its own account's projects
        return member_of
    conditions: list[ColumnElement[bool]] = [visible]
    if wanted.account is not None:
        named = await get_account(
            ctx, account_uuid=None, name=wanted.account, domain_uuid=wanted.domain_uuid
        )
        conditions.append(
            Project.id.in_(
                select(ProjectMember.project_id).where(ProjectMember.account_id == named.id)
            )
        )
    elif wanted.domain_uuid is not None:
        domain = await container_domain(ctx, wanted.domain_uuid)
        below = (
            subtree_filter(Domain.path, domain.path)
            if wanted.recursive or wanted.listall
            else Domain.id == domain.id
        )
        conditions.append(below)
    elif not (wanted.listall or wanted.project_uuid is not None):
        conditions.append(member_of)
    return and_(true(), *conditions)


async def list_projects(
    ctx: ServiceContext, wanted: ProjectListing, page: PageRequest
) -> Page[ProjectView]:
    query = (
        select(Project)
        .join(Domain, Project.domain_id == Domain.id)
        .where(
            await _listed(ctx, wanted),
            equal_if_given(
                (Project.uuid, wanted.project_uuid),
                (Project.name, wanted.name),
                (Project.display_text, wanted.display_text),
                (Project.state, wanted.state),
            ),
            keyword_filter(wanted.keyword, Project.name, Project.display_text),
        )
    )
    found = await paginate(ctx.session, query.order_by(Project.id), page)
    return Page(
        items=[await project_view(ctx, project) for project in found.items], total=found.total
    )
