"""Who a request is: API-key lookup, session checks, login and logout.

Signature arithmetic lives in ``security.signatures``; this module holds the rules:
only enabled users of enabled accounts authenticate, a revoked session is dead
everywhere, and too many failed logins lock a user out of interactive login (not out of
its API keys: a loop of bad logins must not stop a user's automation), while too many
failures from one client address refuse that address for a while. The policy is in
``docs/security.md``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.core.context import Caller, Dependencies, ServiceContext
from altostratus.db.models import Domain, EntityState, SessionRevocation, User
from altostratus.errors import AuthenticationError, InvalidParameter, LoginFailed, Throttled
from altostratus.security.keyring import Keyring
from altostratus.security.sessions import InvalidSessionToken, SessionClaims
from altostratus.services.identity import login_sources
from altostratus.services.shared.events import record_event
from altostratus.timeutil import utcnow

__all__ = [
    "LoginResult",
    "caller_for_api_key",
    "caller_for_session",
    "login",
    "logout",
    "revoke_user_sessions",
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
    every_session = await session.get(SessionRevocation, claims.user_uuid)
    if every_session is not None and claims.issued_at <= every_session.revoked_at:
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
    source: str,
) -> LoginResult:
    """Check the password and issue a session token; the caller commits the transaction.

    ``source`` is the client's address. A failed attempt counts against it and against
    the user; at the configured limit the user may no longer log in, as CloudStack's
    ``incorrect.login.attempts.allowed`` has it, until an admin enables it or resets its
    password. Every attempt that reaches a user costs one password verification, known
    user or not, so the answer time does not tell which user names exist.
    """
    wait = login_sources.retry_after(deps, source)
    if wait is not None:
        raise Throttled(
            f"Too many failed logins from {source}; please retry after {wait} seconds",
            retry_after=wait,
        )
    failure = LoginFailed("Failed to authenticate user; please provide valid credentials")
    domain = await _login_domain(session, domain_path, domain_uuid)
    user = await session.scalar(
        select(User).where(User.domain_id == domain.id, User.username == username)
    )
    if user is None:
        await deps.passwords.verify_nothing(password)
        login_sources.record_failure(deps, source)
        raise failure
    if not await deps.passwords.verify(user.password_hash, password):
        login_sources.record_failure(deps, source)
        await _count_failure(session, deps, user)
        raise failure
    if user.failed_logins >= deps.settings.login_attempts_allowed:
        raise LoginFailed(
            f"User {username} in domain {domain.path} is locked after too many failed logins"
        )
    if user.state is not EntityState.ENABLED:
        raise LoginFailed(f"User {username} in domain {domain.path} is {user.state.value}")
    if user.account.state is not EntityState.ENABLED:
        raise LoginFailed(
            f"Account {user.account.name} of user {username} is {user.account.state.value}"
        )
    user.failed_logins = 0
    now = utcnow()
    expires_at = now + timedelta(seconds=deps.settings.session_timeout)
    caller = Caller.of(user, user.account, session_id=str(uuid.uuid4()))
    assert caller.session_id is not None
    token = deps.sessions.issue(
        SessionClaims(caller.session_id, user.uuid, expires_at, issued_at=now)
    )
    await record_event(
        ServiceContext(session, caller, deps),
        "USER.LOGIN",
        f"user has logged in from the API: {user.username}",
        resource_type="User",
        resource_uuid=user.uuid,
    )
    return LoginResult(caller=caller, user=user, token=token, expires_at=expires_at)


async def _count_failure(session: AsyncSession, deps: Dependencies, user: User) -> None:
    """One more consecutive failure; the one reaching the limit records ``USER.LOCK``.

    The lock is the count itself, not the user's state: a locked state would also stop
    the user's API keys (``caller_for_api_key``), and anyone able to reach the login page
    could then stop anyone's automation.
    """
    user.failed_logins += 1
    if user.failed_logins == deps.settings.login_attempts_allowed:
        ctx = ServiceContext(session, Caller.of(user, user.account), deps)
        await record_event(
            ctx,
            "USER.LOCK",
            f"User {user.username} locked out of interactive login after "
            f"{user.failed_logins} failed logins (API keys keep working)",
            resource_type="User",
            resource_uuid=user.uuid,
            owner=user.account,
            level="WARN",
        )


async def revoke_user_sessions(session: AsyncSession, deps: Dependencies, user: User) -> None:
    """End every session of ``user`` issued until now, in every region.

    A user-wide revocation is a replicated revocation row keyed by the user's uuid (a
    session id is never one) whose ``revoked_at`` is compared with each token's issue
    time; a later change moves it forward. Called when a password changes, so that
    whoever held the old password loses its sessions too.
    """
    now = utcnow()
    expires_at = now + timedelta(seconds=deps.settings.session_timeout)
    row = await session.get(SessionRevocation, user.uuid)
    if row is None:
        session.add(
            SessionRevocation(
                session_id=user.uuid, user_uuid=user.uuid, revoked_at=now, expires_at=expires_at
            )
        )
    else:
        row.revoked_at, row.expires_at = now, expires_at


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
