"""Account commands: an account is created with its first user and answered with its users."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from altostratus.api.commands.identity.domains import NetworkDomain
from altostratus.api.commands.identity.users import (
    Name,
    NewUserParams,
    State,
    UserResponse,
    new_user,
    user_view,
)
from altostratus.api.commands.shared.limits import ResourceCountResponse, resource_count_fields
from altostratus.api.declarations import ADMINS, ANYONE, SUCCESS, CommandSet, Job, answer_success
from altostratus.api.params import ListParams, MapParam, Params, Uuid, page_request
from altostratus.api.results import ListResult, Single, Submitted
from altostratus.core.context import ServiceContext
from altostratus.db.models import AccountType, EntityState
from altostratus.services.compute import teardown
from altostratus.services.identity import accounts
from altostratus.services.identity.accounts import AccountRef, AccountWithUsers
from altostratus.services.shared.access import ListScope
from altostratus.timeutil import format_timestamp

__all__ = [
    "AccountRefParams",
    "AccountResponse",
    "CreateAccountParams",
    "DeleteAccountParams",
    "DisableAccountParams",
    "ListAccountsParams",
    "UpdateAccountParams",
    "account_view",
    "commands",
    "create_account",
    "delete_account",
    "disable_account",
    "enable_account",
    "list_accounts",
    "update_account",
]

commands = CommandSet()


class AccountResponse(ResourceCountResponse):
    id: str
    name: str
    accounttype: int
    roleid: str
    rolename: str
    roletype: str
    domainid: str
    domain: str
    domainpath: str
    state: str
    networkdomain: str | None = None
    accountdetails: dict[str, str] | None = None
    created: str
    vmrunning: int
    vmstopped: int
    user: list[UserResponse]


def account_view(found: AccountWithUsers) -> AccountResponse:
    account = found.account
    return AccountResponse(
        id=account.uuid,
        name=account.name,
        accounttype=account.type,
        roleid=account.role.uuid,
        rolename=account.role.name,
        roletype=account.role.type.value,
        domainid=account.domain.uuid,
        domain=account.domain.name,
        domainpath=account.domain.path,
        state=account.state.value,
        networkdomain=account.network_domain,
        accountdetails=account.details or None,
        created=format_timestamp(account.created),
        vmrunning=found.vms_running,
        vmstopped=found.vms_stopped,
        user=[user_view(user) for user in found.users],
        **resource_count_fields(found.usage),
    )


def _single(found: AccountWithUsers) -> Single:
    return Single("account", account_view(found))


class CreateAccountParams(NewUserParams):
    accounttype: AccountType | None = Field(
        None, description="0 user, 1 root admin, 2 domain admin; or give roleid"
    )
    roleid: Uuid | None = Field(None, description="The account's role; or give accounttype")
    account: Name | None = Field(None, description="Name of the account; default: the username")
    domainid: Uuid | None = Field(None, description="The account's domain; default: the caller's")
    networkdomain: NetworkDomain | None = Field(
        None, max_length=255, description="Network domain for the account's networks"
    )
    accountid: Uuid | None = Field(
        None, description="The id to give the account (to match another cloud's)"
    )
    accountdetails: MapParam | None = Field(
        None, description="Details of the account: accountdetails[0].key=value"
    )


def _details(entries: list[dict[str, Any]] | None) -> dict[str, str]:
    """CloudStack reads ``accountdetails[0].k1=v1&accountdetails[0].k2=v2`` as one map."""
    return {key: value for entry in entries or [] for key, value in entry.items()}


@commands.command(
    "createAccount",
    CreateAccountParams,
    description="Creates an account with its first user",
    allowed=ADMINS,
    response=("account", AccountResponse),
    related=("listAccounts",),
)
async def create_account(ctx: ServiceContext, p: CreateAccountParams) -> Single:
    found = await accounts.create_account(
        ctx,
        user=new_user(p),
        account_type=p.accounttype,
        role_uuid=p.roleid,
        name=p.account,
        domain_uuid=p.domainid,
        network_domain=p.networkdomain,
        account_uuid=p.accountid,
        details=_details(p.accountdetails),
    )
    return _single(found)


class AccountRefParams(Params):
    """An account by ``id``, or by ``account`` name in ``domainid`` (default: the caller's)."""

    id: Uuid | None = Field(None, description="The id of the account")
    account: Name | None = Field(None, description="The name of the account (with domainid)")
    domainid: Uuid | None = Field(None, description="The domain of the named account")

    def ref(self) -> AccountRef:
        return AccountRef(account_uuid=self.id, name=self.account, domain_uuid=self.domainid)


class UpdateAccountParams(AccountRefParams):
    newname: Name | None = Field(None, description="New name of the account")
    networkdomain: NetworkDomain | None = Field(
        None, max_length=255, description="Network domain for the account's networks"
    )
    roleid: Uuid | None = Field(None, description="New role of the account")


@commands.command(
    "updateAccount",
    UpdateAccountParams,
    description="Renames an account, or changes its network domain or role",
    allowed=ADMINS,
    response=("account", AccountResponse),
    related=("listAccounts",),
)
async def update_account(ctx: ServiceContext, p: UpdateAccountParams) -> Single:
    found = await accounts.update_account(
        ctx, ref=p.ref(), new_name=p.newname, network_domain=p.networkdomain, role_uuid=p.roleid
    )
    return _single(found)


class DeleteAccountParams(Params):
    id: Uuid = Field(description="The id of the account")


@commands.command(
    "deleteAccount",
    DeleteAccountParams,
    description=(
        "Deletes an account (never your own): its job destroys and expunges the VMs, "
        "deletes volumes, addresses, groups, key pairs and limits, then the account"
    ),
    allowed=ADMINS,
    response=SUCCESS,
    job=Job(teardown.DELETE_ACCOUNT, answer_success),
)
async def delete_account(ctx: ServiceContext, p: DeleteAccountParams) -> Submitted:
    account = await accounts.start_account_deletion(ctx, account_uuid=p.id)
    return Submitted(teardown.AccountPayload(id=account.uuid), instance_type="Account")


class DisableAccountParams(AccountRefParams):
    lock: bool = Field(description="true: lock the account; false: disable it")


@commands.command(
    "disableAccount",
    DisableAccountParams,
    description="Disables or locks an account: none of its users can call the API",
    allowed=ADMINS,
    response=("account", AccountResponse),
    is_async=True,
)
async def disable_account(ctx: ServiceContext, p: DisableAccountParams) -> Single:
    state = EntityState.LOCKED if p.lock else EntityState.DISABLED
    return _single(await accounts.set_account_state(ctx, ref=p.ref(), state=state))


@commands.command(
    "enableAccount",
    AccountRefParams,
    description="Enables a disabled or locked account",
    allowed=ADMINS,
    response=("account", AccountResponse),
)
async def enable_account(ctx: ServiceContext, p: AccountRefParams) -> Single:
    return _single(await accounts.set_account_state(ctx, ref=p.ref(), state=EntityState.ENABLED))


class ListAccountsParams(ListParams):
    id: Uuid | None = Field(None, description="List the account with this id")
    name: str | None = Field(None, max_length=255, description="List accounts with this name")
    accounttype: AccountType | None = Field(
        None, description="List accounts of this type: 0 user, 1 admin, 2 domain admin"
    )
    domainid: Uuid | None = Field(None, description="List accounts in this domain")
    isrecursive: bool = Field(False, description="Also list accounts in the domains below")
    state: State | None = Field(None, description="enabled, disabled or locked")


@commands.command(
    "listAccounts",
    ListAccountsParams,
    description="Lists accounts with their users",
    allowed=ANYONE,
    response=("account", AccountResponse),
    writes=False,
)
async def list_accounts(ctx: ServiceContext, p: ListAccountsParams) -> ListResult:
    page = await accounts.list_accounts(
        ctx,
        scope=ListScope(domain_uuid=p.domainid, recursive=p.isrecursive, listall=p.listall),
        account_uuid=p.id,
        name=p.name,
        account_type=p.accounttype,
        state=p.state,
        keyword=p.keyword,
        page=page_request(ctx, p),
    )
    return ListResult("account", [account_view(a) for a in page.items], page.total)
