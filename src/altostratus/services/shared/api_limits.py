"""CloudStack's API throttling, per region: ``api.throttling.max`` requests per account in
each ``api.throttling.interval``, counted by every server of the region together.

As in CloudStack, root admins are not throttled and only authenticated requests count
(a login is not one); the windows are fixed, so the count starts again at each window's
start. Unlike CloudStack, a refused request does not count: ``apiIssued`` is what the
account was served. The counting itself, and what a server may not yet know of the
others' counts, is ``core/region_counts.py`` (docs/throttling.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import delete, select

from altostratus.core.context import ServiceContext
from altostratus.core.region_counts import Tally
from altostratus.db.models import Account, RegionCounter
from altostratus.errors import Throttled, UnknownCommand, invalid

__all__ = ["NAMESPACE", "ApiLimit", "admit", "api_limit", "reset_api_limit"]

NAMESPACE = "api"
_DISABLED = "This api is only available when api.throttling.enabled = true."


@dataclass(frozen=True)
class ApiLimit:
    """An account's count in the current window (``getApiLimit``)."""

    account_uuid: str
    account_name: str
    issued: int
    allowed: int
    #: Milliseconds until the window ends and the count starts again.
    expire_after_ms: int


def _tally(ctx: ServiceContext) -> Tally:
    seconds = ctx.deps.settings.api_throttling_interval
    return ctx.deps.counts.tally(NAMESPACE, ctx.caller.account_uuid, seconds)


def admit(ctx: ServiceContext) -> None:
    """Count the caller's request, or refuse it (429) when its account is at the limit.

    No database access: the decision takes the region's count as of this server's last
    flush plus what it counted since.
    """
    settings = ctx.deps.settings
    if not settings.api_throttling_enabled or ctx.caller.is_root_admin:
        return
    tally = _tally(ctx)
    limit = settings.api_throttling_max
    if tally.current >= limit:
        wait = tally.remaining
    elif not tally.within_share(limit):
        # Below the limit, but this server spent its share of what is left until the
        # next flush tells it what the region's other servers spent.
        wait = min(tally.remaining, settings.counter_flush_interval)
    else:
        ctx.deps.counts.add(NAMESPACE, ctx.caller.account_uuid, tally.seconds)
        return
    milliseconds = max(1, math.ceil(wait * 1000))
    raise Throttled(
        "The given user has reached his/her account api limit, please retry after "
        f"[{milliseconds}] ms.",
        retry_after=max(1, math.ceil(wait)),
    )


def _require_enabled(ctx: ServiceContext) -> None:
    if not ctx.deps.settings.api_throttling_enabled:
        raise UnknownCommand(_DISABLED)


def api_limit(ctx: ServiceContext) -> ApiLimit:
    """The caller's account: what it was served in this window and what is left."""
    _require_enabled(ctx)
    tally = _tally(ctx)
    limit = ctx.deps.settings.api_throttling_max
    return ApiLimit(
        account_uuid=ctx.caller.account_uuid,
        account_name=ctx.caller.account_name,
        issued=tally.current,
        allowed=max(0, limit - tally.current),
        expire_after_ms=math.ceil(tally.remaining * 1000),
    )


async def reset_api_limit(ctx: ServiceContext, account_uuid: str | None) -> None:
    """Start an account's count (every account's when ``None``) again, in this region.

    The rows go now; this server forgets its counts at once, and the other servers learn
    the new total at the flush after the account's next request reaches them.
    """
    _require_enabled(ctx)
    rows = delete(RegionCounter).where(RegionCounter.namespace == NAMESPACE)
    if account_uuid is not None:
        found = await ctx.session.scalar(select(Account.id).where(Account.uuid == account_uuid))
        if found is None:
            raise invalid("account", "no account has this id", value=account_uuid)
        rows = rows.where(RegionCounter.key == account_uuid)
    await ctx.session.execute(rows)
    ctx.deps.counts.forget(NAMESPACE, account_uuid)
