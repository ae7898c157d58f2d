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

    accountid: str = Field(description="the account uuid of the api remaining count")
    account: str = Field(description="the account name of the api remaining count")
    apiIssued: int = Field(description="number of api already issued in this interval")
    apiAllowed: int = Field(description="currently allowed number of apis")
    expireAfter: int = Field(description="milliseconds left until the counter starts again")


class GetApiLimitParams(Params):
    pass


@commands.command(
    "getApiLimit",
    GetApiLimitParams,
    description="Get API limit count for the caller (its account, across the region)",
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
    description="Reset api count: an account's, or every account's, in this region",
    allowed=ADMIN,
    response=SUCCESS,
)
async def reset_api_limit(ctx: ServiceContext, p: ResetApiLimitParams) -> Success:
    await api_limits.reset_api_limit(ctx, p.account)
    return Success()
