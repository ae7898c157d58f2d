"""User commands: lifecycle, API keys and ``listUsers``."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field

from altostratus.api.declarations import ADMIN, ADMINS, ANYONE, SUCCESS, CommandSet
from altostratus.api.params import ListParams, Params, Timezone, Uuid, page_request
from altostratus.api.results import ListResult, ResponseObject, Single, Success
from altostratus.core.context import ServiceContext
from altostratus.db.models import AccountType, EntityState, User
from altostratus.security.apikeys import KeyPair
from altostratus.services.identity import users
from altostratus.services.identity.users import NewUser
from altostratus.services.shared.access import ListScope
from altostratus.timeutil import format_timestamp

__all__ = [
    "CreateUserParams",
    "GetUserParams",
    "ListUsersParams",
    "MoveUserParams",
    "Name",
    "NewUserParams",
    "State",
    "UpdateUserParams",
    "UserIdParams",
    "UserKeysResponse",
    "UserResponse",
    "commands",
    "create_user",
    "delete_user",
    "get_user",
    "get_user_keys",
    "list_users",
    "move_user",
    "new_user",
    "register_user_keys",
    "update_user",
    "user_view",
]

commands = CommandSet()


Name = Annotated[str, Field(min_length=1, max_length=255)]
#: ``enabled``, ``disabled`` or ``locked``, in any case.
State = Annotated[EntityState, BeforeValidator(lambda v: v.lower() if isinstance(v, str) else v)]


class UserResponse(ResponseObject):
    id: str
    username: str
    firstname: str
    lastname: str
    email: str
    created: str
    state: str
    account: str
    accounttype: int
    accountid: str
    domainid: str
    domain: str
    timezone: str | None = None
    #: The API key identifies a user; its secret key is shown only by the *UserKeys commands.
    apikey: str | None = None
    roleid: str
    rolename: str
    roletype: str
    usersource: str = "native"


def user_view(user: User) -> UserResponse:
    account = user.account
    return UserResponse(
        id=user.uuid,
        username=user.username,
        firstname=user.firstname,
        lastname=user.lastname,
        email=user.email,
        created=format_timestamp(user.created),
        state=user.state.value,
        account=account.name,
        accounttype=account.type,
        accountid=account.uuid,
        domainid=account.domain.uuid,
        domain=account.domain.name,
        timezone=user.timezone,
        apikey=user.api_key,
        roleid=account.role.uuid,
        rolename=account.role.name,
        roletype=account.role.type.value,
    )


class NewUserParams(Params):
    """What ``createUser`` and ``createAccount`` share: the user to create."""

    username: Name = Field(description="Unique username within the domain")
    password: Name = Field(description="Password in clear text")
    email: Name = Field(description="Email address")
    firstname: Name = Field(description="First name")
    lastname: Name = Field(description="Last name")
    timezone: Timezone | None = Field(None, description="Time zone of the user (IANA name)")
    userid: Uuid | None = Field(
        None, description="The id to give the user (to match another cloud's)"
    )


def new_user(p: NewUserParams) -> NewUser:
    return NewUser(
        username=p.username,
        password=p.password,
        email=p.email,
        firstname=p.firstname,
        lastname=p.lastname,
        timezone=p.timezone,
        user_uuid=p.userid,
    )


class CreateUserParams(NewUserParams):
    account: Name = Field(description="The account to add the user to")
    domainid: Uuid | None = Field(None, description="The account's domain; default: the caller's")


@commands.command(
    "createUser",
    CreateUserParams,
    description="Creates a user in an existing account",
    allowed=ADMINS,
    response=("user", UserResponse),
    related=("listUsers",),
)
async def create_user(ctx: ServiceContext, p: CreateUserParams) -> Single:
    user = await users.create_user(
        ctx, account_name=p.account, domain_uuid=p.domainid, spec=new_user(p)
    )
    return Single("user", user_view(user))


class UpdateUserParams(Params):
    id: Uuid = Field(description="The id of the user")
    username: Name | None = Field(None, description="New username, unique within the domain")
    email: Name | None = Field(None, description="New email address")
    firstname: Name | None = Field(None, description="New first name")
    lastname: Name | None = Field(None, description="New last name")
    timezone: Timezone | None = Field(None, description="New time zone (IANA name)")
    password: Name | None = Field(None, description="New password in clear text")
    currentpassword: Name | None = Field(
        None, description="The current password: required when users change their own"
    )


@commands.command(
    "updateUser",
    UpdateUserParams,
    description="Updates a user's profile or password",
    allowed=ANYONE,
    response=("user", UserResponse),
    related=("listUsers",),
)
async def update_user(ctx: ServiceContext, p: UpdateUserParams) -> Single:
    user = await users.update_user(
        ctx,
        user_uuid=p.id,
        username=p.username,
        email=p.email,
        firstname=p.firstname,
        lastname=p.lastname,
        timezone=p.timezone,
        password=p.password,
        current_password=p.currentpassword,
    )
    return Single("user", user_view(user))


class UserIdParams(Params):
    id: Uuid = Field(description="The id of the user")


@commands.command(
    "deleteUser",
    UserIdParams,
    description="Deletes a user (never your own)",
    allowed=ADMINS,
    response=SUCCESS,
)
async def delete_user(ctx: ServiceContext, p: UserIdParams) -> Success:
    await users.delete_user(ctx, user_uuid=p.id)
    return Success()


class MoveUserParams(Params):
    id: Uuid = Field(description="The id of the user to move")
    account: Name | None = Field(
        None, description="The account of the user's domain to move it to; or give accountid"
    )
    accountid: Uuid | None = Field(
        None, description="The id of the account to move the user to; or give account"
    )


@commands.command(
    "moveUser",
    MoveUserParams,
    description="Moves a user to another account of the same domain",
    allowed=ADMIN,
    response=SUCCESS,
)
async def move_user(ctx: ServiceContext, p: MoveUserParams) -> Success:
    await users.move_user(ctx, user_uuid=p.id, account_uuid=p.accountid, account_name=p.account)
    return Success()


def _state_command(name: str, state: EntityState, description: str, *, is_async: bool) -> None:
    """The three state commands differ only in the state they set (and disableUser is async)."""

    @commands.command(
        name,
        UserIdParams,
        description=description,
        allowed=ADMINS,
        response=("user", UserResponse),
        is_async=is_async,
    )
    async def handler(ctx: ServiceContext, p: UserIdParams) -> Single:
        user = await users.set_user_state(ctx, user_uuid=p.id, state=state)
        return Single("user", user_view(user))


_state_command(
    "disableUser",
    EntityState.DISABLED,
    "Disables a user: its keys and sessions stop working",
    is_async=True,
)
_state_command(
    "enableUser", EntityState.ENABLED, "Enables a disabled or locked user", is_async=False
)
_state_command(
    "lockUser", EntityState.LOCKED, "Locks a user out until it is enabled", is_async=False
)


class UserKeysResponse(ResponseObject):
    apikey: str | None = None
    secretkey: str | None = None


def _keys_view(pair: KeyPair | None) -> Single:
    if pair is None:
        return Single("userkeys", UserKeysResponse())
    return Single("userkeys", UserKeysResponse(apikey=pair.api_key, secretkey=pair.secret_key))


@commands.command(
    "registerUserKeys",
    UserIdParams,
    description="Issues a new API key pair for a user; the old one stops working",
    allowed=ANYONE,
    response=("userkeys", UserKeysResponse),
)
async def register_user_keys(ctx: ServiceContext, p: UserIdParams) -> Single:
    return _keys_view(await users.register_user_keys(ctx, user_uuid=p.id))


@commands.command(
    "getUserKeys",
    UserIdParams,
    description="Shows a user's API key and secret key",
    allowed=ANYONE,
    response=("userkeys", UserKeysResponse),
    writes=False,
)
async def get_user_keys(ctx: ServiceContext, p: UserIdParams) -> Single:
    return _keys_view(await users.get_user_keys(ctx, user_uuid=p.id))


class GetUserParams(Params):
    userapikey: Name = Field(description="The API key of the user")


@commands.command(
    "getUser",
    GetUserParams,
    description="Finds the user owning an API key",
    allowed=ADMIN,
    response=("user", UserResponse),
    writes=False,
)
async def get_user(ctx: ServiceContext, p: GetUserParams) -> Single:
    return Single("user", user_view(await users.get_user_by_api_key(ctx, api_key=p.userapikey)))


class ListUsersParams(ListParams):
    id: Uuid | None = Field(None, description="List the user with this id")
    username: str | None = Field(None, max_length=255, description="List users with this name")
    account: str | None = Field(None, max_length=255, description="List users of this account")
    domainid: Uuid | None = Field(None, description="List users in this domain")
    accounttype: AccountType | None = Field(
        None, description="List users of accounts of this type: 0 user, 1 admin, 2 domain admin"
    )
    state: State | None = Field(None, description="enabled, disabled or locked")
    isrecursive: bool = Field(False, description="Also list users in the domains below")


@commands.command(
    "listUsers",
    ListUsersParams,
    description="Lists users",
    allowed=ANYONE,
    response=("user", UserResponse),
    writes=False,
)
async def list_users(ctx: ServiceContext, p: ListUsersParams) -> ListResult:
    page = await users.list_users(
        ctx,
        scope=ListScope(domain_uuid=p.domainid, recursive=p.isrecursive, listall=p.listall),
        user_uuid=p.id,
        username=p.username,
        account_name=p.account,
        account_type=p.accounttype,
        state=p.state,
        keyword=p.keyword,
        page=page_request(ctx, p),
    )
    return ListResult("user", [user_view(u) for u in page.items], page.total)
