"""Who a request is: API-key lookup, session checks, login and logout.

Signature arithmetic lives in ``security.signatures``; this module holds the rules:
only enabled users of enabled accounts authenticate, a revoked session is dead
everywhere, and too many failed logins lock a user.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.core.context import Caller, Dependencies, ServiceContext
from altostratus.db.models import Domain, EntityState, SessionRevocation, User
from altostratus.errors import AuthenticationError, InvalidParameter, LoginFailed
from altostratus.security.keyring import Keyring
from altostratus.security.sessions import InvalidSessionToken, SessionClaims
from altostratus.services.shared.events import record_event
from altostratus.timeutil import utcnow

__all__ = [
    "LoginResult",
    "caller_for_api_key",
    "caller_for_session",
    "login",
    "logout",
]

_BAD_CREDENTIALS = "unable to verify user credentials and/or request signature"


@dataclass(frozen=True)
class LoginResult:
    caller: Caller
    user: User
    token: str
    expires_at: datetime


def _require_active(user: User | None) -> User:
    if (
        user is None
        or user.state is not EntityState.ENABLED
        or user.account.state is not EntityState.ENABLED
    ):
        raise AuthenticationError(_BAD_CREDENTIALS)
    return user


async def caller_for_api_key(
    session: AsyncSession, keyring: Keyring, api_key: str
) -> tuple[Caller, str]:
    """The caller owning ``api_key`` and its decrypted secret key (to check the signature)."""
    user = await session.scalar(select(User).where(User.api_key == api_key))
    user = _require_active(user)
    if user.secret_key_encrypted is None:
        raise AuthenticationError(_BAD_CREDENTIALS)
    return Caller.of(user, user.account), keyring.decrypt(user.secret_key_encrypted)


async def caller_for_session(session: AsyncSession, deps: Dependencies, token: str) -> Caller:
    try:
        claims = deps.sessions.verify(token, now=utcnow())
    except InvalidSessionToken:
        raise AuthenticationError(_BAD_CREDENTIALS) from None
    if await session.get(SessionRevocation, claims.session_id) is not None:
        raise AuthenticationError(_BAD_CREDENTIALS)
    user = await session.scalar(select(User).where(User.uuid == claims.user_uuid))
    user = _require_active(user)
    return Caller.of(user, user.account, session_id=claims.session_id)


async def _login_domain(
    session: AsyncSession, domain_path: str | None, domain_uuid: str | None
) -> Domain:
    if domain_uuid is not None:
        domain = await session.scalar(select(Domain).where(Domain.uuid == domain_uuid))
    else:
        # Clients send ``/``, ``/sales`` or ``ROOT/sales``; all name a path under ROOT.
        path = (domain_path or "").strip("/")
        if path.upper() == "ROOT":
            path = ""
        path = path.removeprefix("ROOT/")
        full = "ROOT" if not path else f"ROOT/{path}"
        domain = await session.scalar(select(Domain).where(Domain.path == full))
    if domain is None:
        raise InvalidParameter("Unable to find domain for the login: check the domain parameter")
    return domain


async def login(
    session: AsyncSession,
    deps: Dependencies,
    *,
    username: str,
    password: str,
    domain_path: str | None,
    domain_uuid: str | None,
) -> LoginResult:
    """Check the password and issue a session token; the caller commits the transaction.

    A failed attempt counts against the user and locks it at the configured limit,
    as CloudStack's ``incorrect.login.attempts.allowed`` does.
    """
    failure = LoginFailed("Failed to authenticate user; please provide valid credentials")
    domain = await _login_domain(session, domain_path, domain_uuid)
    user = await session.scalar(
        select(User).where(User.domain_id == domain.id, User.username == username)
    )
    if user is None:
        raise failure
    if not await deps.passwords.verify(user.password_hash, password):
        user.failed_logins += 1
        limit_reached = user.failed_logins >= deps.settings.login_attempts_allowed
        # Lock once: later attempts on a locked user must not repeat the lock event.
        if limit_reached and user.state is EntityState.ENABLED:
            user.state = EntityState.LOCKED
            ctx = ServiceContext(session, Caller.of(user, user.account), deps)
            await record_event(
                ctx,
                "USER.LOCK",
                f"User {user.username} locked after {user.failed_logins} failed logins",
                resource_type="User",
                resource_uuid=user.uuid,
                owner=user.account,
                level="WARN",
            )
        raise failure
    if user.state is not EntityState.ENABLED:
        raise LoginFailed(f"User {username} in domain {domain.path} is {user.state.value}")
    if user.account.state is not EntityState.ENABLED:
        raise LoginFailed(
            f"Account {user.account.name} of user {username} is {user.account.state.value}"
        )
    user.failed_logins = 0
    expires_at = utcnow() + timedelta(seconds=deps.settings.session_timeout)
    caller = Caller.of(user, user.account, session_id=str(uuid.uuid4()))
    assert caller.session_id is not None
    token = deps.sessions.issue(SessionClaims(caller.session_id, user.uuid, expires_at))
    await record_event(
        ServiceContext(session, caller, deps),
        "USER.LOGIN",
        f"user has logged in from the API: {user.username}",
        resource_type="User",
        resource_uuid=user.uuid,
    )
    return LoginResult(caller=caller, user=user, token=token, expires_at=expires_at)


async def logout(ctx: ServiceContext) -> None:
    """Revoke the caller's session so that no server of any region accepts it again."""
    caller = ctx.caller
    if caller.session_id is None:
        return  # signed requests have no session to end
    if await ctx.session.get(SessionRevocation, caller.session_id) is None:
        ctx.session.add(
            SessionRevocation(
                session_id=caller.session_id,
                user_uuid=caller.user_uuid,
                revoked_at=utcnow(),
                expires_at=utcnow() + timedelta(seconds=ctx.deps.settings.session_timeout),
            )
        )
    await record_event(
        ctx,
        "USER.LOGOUT",
        f"user has logged out: {caller.username}",
        resource_type="User",
        resource_uuid=caller.user_uuid,
    )
