"""Project commands: projects, their states and their member accounts (regional)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field

from altostratus.api.commands.identity.users import Name
from altostratus.api.commands.shared.limits import ResourceCountResponse, resource_count_fields
from altostratus.api.declarations import ANYONE, SUCCESS, CommandSet, Job, answer_success
from altostratus.api.params import ListParams, Params, Uuid, page_request
from altostratus.api.results import ListResult, ResponseObject, Single, Submitted, Success
from altostratus.core.context import ServiceContext
from altostratus.db.models import ProjectRole, ProjectState
from altostratus.services.compute import projects as project_jobs
from altostratus.services.identity import projects
from altostratus.services.identity.projects import MemberView, ProjectListing, ProjectView
from altostratus.timeutil import format_timestamp

__all__ = [
    "AddAccountParams",
    "CreateProjectParams",
    "DeleteProjectParams",
    "ListProjectAccountsParams",
    "ListProjectsParams",
    "MemberParams",
    "ProjectAccountResponse",
    "ProjectIdParams",
    "ProjectOwner",
    "ProjectResponse",
    "Role",
    "UpdateProjectParams",
    "activate_project",
    "add_account_to_project",
    "commands",
    "create_project",
    "delete_account_from_project",
    "delete_project",
    "list_project_accounts",
    "list_projects",
    "member_view",
    "project_response",
    "suspend_project",
    "update_project",
]

commands = CommandSet()


def _role_named(value: object) -> object:
    """CloudStack's ``roletype``/``role``: ``Admin`` or ``Regular``, in any case."""
    if isinstance(value, str):
        return {role.value.lower(): role for role in ProjectRole}.get(value.lower(), value)
    return value


#: A member's role in a project, ``Admin`` or ``Regular`` in any case.
Role = Annotated[ProjectRole, BeforeValidator(_role_named)]


class ProjectOwner(ResponseObject):
    account: str
    accountid: str


class ProjectResponse(ResourceCountResponse):
    id: str
    name: str
    displaytext: str
    domainid: str
    domain: str
    owner: list[ProjectOwner] = Field(description="The accounts that are the project's admins")
    projectaccountname: str
    state: str
    created: str
    vmrunning: int
    vmstopped: int


def project_response(view: ProjectView) -> ProjectResponse:
    project = view.project
    return ProjectResponse(
        id=project.uuid,
        name=project.name,
        displaytext=project.display_text,
        domainid=project.domain.uuid,
        domain=project.domain.name,
        owner=[ProjectOwner(account=a.name, accountid=a.uuid) for a in view.admins],
        projectaccountname=project.account.name,
        state=project.state,
        created=format_timestamp(project.created),
        vmrunning=view.vms_running,
        vmstopped=view.vms_stopped,
        **resource_count_fields(view.usage),
    )


def _single(view: ProjectView) -> Single:
    return Single("project", project_response(view))


async def _project_answer(ctx: ServiceContext, project_uuid: str) -> Single:
    """The project as a job leaves it: what ``queryAsyncJobResult`` shows."""
    return _single(
        await projects.project_view(ctx, await projects.project_by_uuid(ctx, project_uuid))
    )


class CreateProjectParams(Params):
    name: Name = Field(description="Name of the project, unique within its domain")
    displaytext: str | None = Field(
        None, max_length=255, description="Display text of the project; default: its name"
    )
    account: Name | None = Field(
        None, description="Admins: the account that will be the project's admin (with domainid)"
    )
    domainid: Uuid | None = Field(None, description="The domain of account")
    accountid: Uuid | None = Field(
        None, description="Admins: the id of the account that will be the project's admin"
    )


@commands.command(
    "createProject",
    CreateProjectParams,
    description="Creates a project; its owner (the caller's account by default) is its admin",
    allowed=ANYONE,
    response=("project", ProjectResponse),
    related=("listProjects",),
    is_async=True,
)
async def create_project(ctx: ServiceContext, p: CreateProjectParams) -> Single:
    view = await projects.create_project(
        ctx,
        name=p.name,
        display_text=p.displaytext,
        account=p.account,
        domain_uuid=p.domainid,
        account_uuid=p.accountid,
    )
    return _single(view)


class UpdateProjectParams(Params):
    id: Uuid = Field(description="The id of the project")
    name: Name | None = Field(None, description="New name of the project")
    displaytext: str | None = Field(None, max_length=255, description="New display text")
    account: Name | None = Field(
        None, description="An account of the project's domain to make its admin"
    )


@commands.command(
    "updateProject",
    UpdateProjectParams,
    description="Renames a project, changes its display text or its admin",
    allowed=ANYONE,
    response=("project", ProjectResponse),
    is_async=True,
)
async def update_project(ctx: ServiceContext, p: UpdateProjectParams) -> Single:
    view = await projects.update_project(
        ctx, project_uuid=p.id, name=p.name, display_text=p.displaytext, account=p.account
    )
    return _single(view)


class ProjectIdParams(Params):
    id: Uuid = Field(description="The id of the project")


@commands.command(
    "activateProject",
    ProjectIdParams,
    description="Activates a suspended project",
    allowed=ANYONE,
    response=("project", ProjectResponse),
    is_async=True,
)
async def activate_project(ctx: ServiceContext, p: ProjectIdParams) -> Single:
    return _single(await projects.activate_project(ctx, project_uuid=p.id))


@commands.command(
    "suspendProject",
    ProjectIdParams,
    description="Suspends a project: its VMs are stopped and nothing new is created for it",
    allowed=ANYONE,
    response=("project", ProjectResponse),
    job=Job(project_jobs.SUSPEND_PROJECT, _project_answer),
)
async def suspend_project(ctx: ServiceContext, p: ProjectIdParams) -> Submitted:
    project = await projects.start_suspension(ctx, project_uuid=p.id)
    payload = project_jobs.ProjectPayload(id=project.uuid, account=project.account.uuid)
    return Submitted(payload, instance_type="Project", instance_uuid=project.uuid)


class DeleteProjectParams(ProjectIdParams):
    cleanup: bool = Field(
        False, description="Also delete the project's VMs, volumes and other resources"
    )


@commands.command(
    "deleteProject",
    DeleteProjectParams,
    description="Deletes a project; one that still owns resources needs cleanup=true",
    allowed=ANYONE,
    response=SUCCESS,
    job=Job(project_jobs.DELETE_PROJECT, answer_success),
)
async def delete_project(ctx: ServiceContext, p: DeleteProjectParams) -> Submitted:
    project = await projects.start_project_deletion(ctx, project_uuid=p.id, cleanup=p.cleanup)
    payload = project_jobs.ProjectPayload(id=project.uuid, account=project.account.uuid)
    return Submitted(payload, instance_type="Project", instance_uuid=project.uuid)


class ListProjectsParams(ListParams):
    id: Uuid | None = Field(None, description="List the project with this id")
    name: str | None = Field(None, max_length=255, description="List projects with this name")
    displaytext: str | None = Field(None, max_length=255, description="List by display text")
    state: str | None = Field(None, max_length=32, description="Active, Suspended or Disabled")
    account: str | None = Field(
        None, max_length=255, description="List the projects this account is a member of"
    )
    domainid: Uuid | None = Field(None, description="Admins: list the projects of this domain")
    isrecursive: bool = Field(False, description="With domainid: include its subdomains")


def _state(value: str | None) -> str | None:
    """A state in any case; an unknown one matches nothing, as CloudStack's filter does."""
    if value is None:
        return None
    return {state.value.lower(): state.value for state in ProjectState}.get(value.lower(), value)


@commands.command(
    "listProjects",
    ListProjectsParams,
    description="Lists the projects the caller is a member of (admins: listall for all)",
    allowed=ANYONE,
    response=("project", ProjectResponse),
    writes=False,
)
async def list_projects(ctx: ServiceContext, p: ListProjectsParams) -> ListResult:
    wanted = ProjectListing(
        project_uuid=p.id,
        name=p.name,
        display_text=p.displaytext,
        state=_state(p.state),
        account=p.account,
        domain_uuid=p.domainid,
        recursive=p.isrecursive,
        listall=p.listall,
        keyword=p.keyword,
    )
    page = await projects.list_projects(ctx, wanted, page_request(ctx, p))
    return ListResult("project", [project_response(v) for v in page.items], page.total)


class MemberParams(Params):
    projectid: Uuid = Field(description="The id of the project")
    account: Name = Field(description="The name of an account of the project's domain")


class AddAccountParams(MemberParams):
    roletype: Role = Field(ProjectRole.REGULAR, description="Admin or Regular (the default)")


@commands.command(
    "addAccountToProject",
    AddAccountParams,
    description="Adds an account of the project's domain to the project",
    allowed=ANYONE,
    response=SUCCESS,
    is_async=True,
)
async def add_account_to_project(ctx: ServiceContext, p: AddAccountParams) -> Success:
    await projects.add_member(ctx, project_uuid=p.projectid, account=p.account, role=p.roletype)
    return Success()


@commands.command(
    "deleteAccountFromProject",
    MemberParams,
    description="Removes an account from a project (never its last admin)",
    allowed=ANYONE,
    response=SUCCESS,
    is_async=True,
)
async def delete_account_from_project(ctx: ServiceContext, p: MemberParams) -> Success:
    await projects.remove_member(ctx, project_uuid=p.projectid, account=p.account)
    return Success()


class ProjectAccountResponse(ResponseObject):
    projectid: str
    project: str
    accountid: str
    account: str
    accounttype: int
    role: str
    domainid: str
    domain: str
    domainpath: str


def member_view(found: MemberView) -> ProjectAccountResponse:
    account = found.member.account
    return ProjectAccountResponse(
        projectid=found.project.uuid,
        project=found.project.name,
        accountid=account.uuid,
        account=account.name,
        accounttype=account.type,
        role=found.member.role,
        domainid=account.domain.uuid,
        domain=account.domain.name,
        domainpath=account.domain.path,
    )


class ListProjectAccountsParams(ListParams):
    projectid: Uuid = Field(description="The id of the project")
    account: str | None = Field(None, max_length=255, description="List this account only")
    role: Role | None = Field(None, description="List the members of this role: Admin, Regular")


@commands.command(
    "listProjectAccounts",
    ListProjectAccountsParams,
    description="Lists the accounts of a project with their roles",
    allowed=ANYONE,
    response=("projectaccount", ProjectAccountResponse),
    writes=False,
)
async def list_project_accounts(ctx: ServiceContext, p: ListProjectAccountsParams) -> ListResult:
    page = await projects.list_members(
        ctx,
        project_uuid=p.projectid,
        account=p.account,
        role=p.role,
        page=page_request(ctx, p),
    )
    return ListResult("projectaccount", [member_view(m) for m in page.items], page.total)
