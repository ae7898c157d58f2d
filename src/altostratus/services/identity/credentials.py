"""Passwords and API key pairs of users: shared by the API and ``alto admin``."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.core.context import Dependencies
from altostratus.db.models import Domain, EntityState, User
from altostratus.errors import InvalidParameter
from altostratus.security.apikeys import KeyPair, generate_key_pair
from altostratus.security.keyring import Keyring
from altostratus.security.passwords import Passwords
from altostratus.services.identity.authentication import revoke_user_sessions

__all__ = ["change_password", "find_user_by_name", "issue_key_pair", "set_password", "unlock"]


async def find_user_by_name(session: AsyncSession, username: str, domain_path: str) -> User:
    user = await session.scalar(
        select(User)
        .join(Domain, User.domain_id == Domain.id)
        .where(User.username == username, Domain.path == domain_path)
    )
    if user is None:
        raise InvalidParameter(f"No user {username} in domain {domain_path}")
    return user


async def set_password(user: User, password: str, passwords: Passwords) -> None:
    if not password:
        raise InvalidParameter("Unable to set an empty password: check the password parameter")
    user.password_hash = await passwords.hash(password)
    user.failed_logins = 0


async def change_password(
    session: AsyncSession, deps: Dependencies, user: User, password: str
) -> None:
    """A new password for an existing user: every session it had, in every region, ends.

    Whoever knew the old password (the reason for a reset, often) must not keep a session
    opened with it.
    """
    await set_password(user, password, deps.passwords)
    await revoke_user_sessions(session, deps, user)


def issue_key_pair(user: User, keyring: Keyring) -> KeyPair:
    """Give ``user`` a new key pair; the old one stops working at commit."""
    pair = generate_key_pair()
    user.api_key = pair.api_key
    user.secret_key_encrypted = keyring.encrypt(pair.secret_key)
    return pair


def unlock(user: User) -> None:
    """Undo a lock from failed logins (an operator's recovery after a password reset)."""
    if user.state is EntityState.LOCKED:
        user.state = EntityState.ENABLED
    user.failed_logins = 0
