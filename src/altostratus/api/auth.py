"""Request authentication: a signature (``apikey`` + ``signature``) or a session.

The arithmetic is in ``security``; lookups and account rules are in
``services.authentication``. This module reads the transport: parameters,
``signatureversion`` and ``expires``.

A session call must carry its key as the ``sessionkey`` parameter, as CloudStack requires:
the cookie a browser sends by itself is never enough, or any page the user visits could
call the API in the user's name (cross-site request forgery).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.core.context import Caller, Dependencies
from altostratus.errors import AuthenticationError
from altostratus.security.signatures import signature_matches
from altostratus.services.identity.authentication import caller_for_api_key, caller_for_session
from altostratus.timeutil import parse_timestamp, utcnow

__all__ = ["SESSION_COOKIE", "authenticate"]

SESSION_COOKIE = "sessionkey"
JSESSIONID_COOKIE = "JSESSIONID"
_BAD_CREDENTIALS = "unable to verify user credentials and/or request signature"


def _check_expiry(params: Mapping[str, str], window: float) -> None:
    """``signatureversion=3`` needs ``expires`` (any other version is unknown); an
    ``expires``, given with or without a version, must lie within the next ``window``
    seconds, so a captured request cannot be replayed for years."""
    version = params.get("signatureversion")
    expires = params.get("expires")
    if version is not None and version.strip() != "3":
        raise AuthenticationError(f"unsupported signatureversion {version!r}: only 3 is known")
    if version is not None and not expires:
        raise AuthenticationError("signatureversion 3 requires the expires parameter")
    if expires:
        try:
            moment = parse_timestamp(expires)
        except ValueError:
            raise AuthenticationError(f"unable to parse expires value {expires!r}") from None
        now = utcnow()
        if moment <= now:
            raise AuthenticationError("the request has expired (expires is in the past)")
        if moment > now + timedelta(seconds=window):
            raise AuthenticationError(
                f"expires is too far ahead: at most {window:g} seconds from now "
                "(signature_expires_window)"
            )


#: Parameters longer than this (characters in all) are checked off the event loop.
_INLINE_CHECK_MAX = 64 * 1024


async def _signature_matches(params: Mapping[str, str], signature: str, secret_key: str) -> bool:
    """A large request's check (up to ``request_max_bytes``, some 0.2 s) runs in a thread,
    so the other requests and ``/health`` are answered meanwhile."""
    if sum(len(value) for value in params.values()) <= _INLINE_CHECK_MAX:
        return signature_matches(params, signature, secret_key)
    return await asyncio.to_thread(signature_matches, params, signature, secret_key)


async def authenticate(
    session: AsyncSession,
    deps: Dependencies,
    signed_params: Mapping[str, str],
    params: Mapping[str, str],
) -> Caller:
    """Return the caller or raise 401.

    ``signed_params`` are the parameters exactly as sent (names in their case), which the
    signature covers; ``params`` are the same with lowercase names.
    """
    api_key = params.get("apikey")
    if api_key:
        signature = params.get("signature")
        if not signature:
            raise AuthenticationError(_BAD_CREDENTIALS)
        _check_expiry(params, deps.settings.signature_expires_window)
        caller, secret_key = await caller_for_api_key(session, deps.keyring, api_key)
        if not await _signature_matches(signed_params, signature, secret_key):
            raise AuthenticationError(_BAD_CREDENTIALS)
        return caller
    token = params.get("sessionkey")
    if token:
        return await caller_for_session(session, deps, token)
    raise AuthenticationError(_BAD_CREDENTIALS)
