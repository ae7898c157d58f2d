"""``login`` and ``logout``: session authentication as the web UI and cloudmonkey use it."""

from __future__ import annotations

from pydantic import Field

from altostratus.api.auth import JSESSIONID_COOKIE, SESSION_COOKIE
from altostratus.api.declarations import ANYONE, CommandSet
from altostratus.api.params import Params, Uuid
from altostratus.api.results import ResponseObject, Single, Success, SuccessResponse
from altostratus.core.context import ServiceContext
from altostratus.services.identity import authentication

__all__ = [
    "LoginParams",
    "LoginResponse",
    "LogoutParams",
    "LogoutResponse",
    "commands",
    "login",
    "logout",
]

commands = CommandSet()


class LoginParams(Params):
    username: str = Field(description="Username", max_length=255)
    password: str = Field(description="Password in clear text", max_length=255)
    domain: str | None = Field(
        None, description="Path of the user's domain (/ or /sales/emea); default ROOT"
    )
    domainid: Uuid | None = Field(None, description="The id of the user's domain")


class LoginResponse(ResponseObject):
    username: str
    userid: str
    domainid: str
    account: str
    firstname: str
    lastname: str
    type: str
    timezone: str | None = None
    timeout: str
    sessionkey: str
    registered: str = "false"
    issuccess: str = "true"


@commands.command(
    "login",
    LoginParams,
    description="Logs a user into the cloud; answers a session key",
    allowed=ANYONE,
    response=("login", LoginResponse),
    requires_auth=False,
    post_only=True,
)
async def login(ctx: ServiceContext, p: LoginParams) -> Single:
    result = await authentication.login(
        ctx.session,
        ctx.deps,
        username=p.username,
        password=p.password,
        domain_path=p.domain,
        domain_uuid=p.domainid,
        source=ctx.client_address,
    )
    user, caller = result.user, result.caller
    answer = LoginResponse(
        username=user.username,
        userid=user.uuid,
        domainid=caller.domain_uuid,
        account=caller.account_name,
        firstname=user.firstname,
        lastname=user.lastname,
        type=str(int(caller.account_type)),
        timezone=user.timezone,
        timeout=str(ctx.deps.settings.session_timeout),
        sessionkey=result.token,
    )
    cookies: dict[str, str | None] = {JSESSIONID_COOKIE: result.token, SESSION_COOKIE: result.token}
    return Single("login", answer, flat=True, cookies=cookies)


class LogoutParams(Params):
    pass


class LogoutResponse(SuccessResponse):
    """What logout answers (described for listApis; the handler answers a ``Success``)."""

    description: str = Field(description="success if the user was logged out")


@commands.command(
    "logout",
    LogoutParams,
    description="Logs out the user: the session key stops working in every region",
    allowed=ANYONE,
    response=("logout", LogoutResponse),
)
async def logout(ctx: ServiceContext, _p: LogoutParams) -> Success:
    await authentication.logout(ctx)
    return Success(
        extra={"description": "success"},
        cookies={JSESSIONID_COOKIE: None, SESSION_COOKIE: None},
    )
