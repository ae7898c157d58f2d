"""CloudStack's API throttling commands: getApiLimit (any caller) and resetApiLimit (root)."""

from __future__ import annotations

from pydantic import Field

from altostratus.api.declarations import ADMIN, ANYONE, SUCCESS, CommandSet
from altostratus.api.params import Params, Uuid
from altostratus.api.results import ResponseObject, Single, Success
from altostratus.core.context import ServiceContext
from altostratus.services.shared import api_limits

__all__ = [
    "ApiLimitResponse",
    "GetApiLimitParams",
    "ResetApiLimitParams",
    "commands",
    "get_api_limit",
    "reset_api_limit",
]

commands = CommandSet()


class ApiLimitResponse(ResponseObject):
    """CloudStack's field names, camel case included."""

    accountid: str = Field(description="The id of the caller's account")
    account: str = Field(description="The name of the caller's account")
    apiIssued: int = Field(description="Requests served to the account in this window, region-wide")
    apiAllowed: int = Field(description="Requests the account may still make in this window")
    expireAfter: int = Field(
        description="Milliseconds until the window ends and the count starts again"
    )


class GetApiLimitParams(Params):
    pass


@commands.command(
    "getApiLimit",
    GetApiLimitParams,
    description="What the caller's account was served and may still ask in this window",
    allowed=ANYONE,
    response=("apilimit", ApiLimitResponse),
    writes=False,
)
async def get_api_limit(ctx: ServiceContext, _p: GetApiLimitParams) -> Single:
    found = api_limits.api_limit(ctx)
    return Single(
        "apilimit",
        ApiLimitResponse(
            accountid=found.account_uuid,
            account=found.account_name,
            apiIssued=found.issued,
            apiAllowed=found.allowed,
            expireAfter=found.expire_after_ms,
        ),
    )


class ResetApiLimitParams(Params):
    account: Uuid | None = Field(
        None, description="The id of the account whose count to reset (default: every account)"
    )


@commands.command(
    "resetApiLimit",
    ResetApiLimitParams,
    description="Starts the request count of an account, or of every account, again in this region",
    allowed=ADMIN,
    response=SUCCESS,
)
async def reset_api_limit(ctx: ServiceContext, p: ResetApiLimitParams) -> Success:
    await api_limits.reset_api_limit(ctx, p.account)
    return Success()
