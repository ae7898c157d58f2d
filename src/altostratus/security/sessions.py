"""Session tokens: signed, self-contained, so any server of any region can verify them.

A token is ``base64url(payload).base64url(HMAC-SHA256(payload))``. The payload names the
session and the user and carries when it was issued and when it expires; logging out adds
the session id to the revocation table, which every server consults, and a password change
adds a row that ends every session of the user issued before it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

__all__ = ["InvalidSessionToken", "SessionClaims", "SessionSigner"]


class InvalidSessionToken(ValueError):
    """Malformed, forged or expired."""


@dataclass(frozen=True)
class SessionClaims:
    session_id: str
    user_uuid: str
    expires_at: datetime
    #: When the session began: a user-wide revocation ends the sessions issued before it.
    issued_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()

    def issue(self, claims: SessionClaims) -> str:
        payload = orjson.dumps(
            {
                "sid": claims.session_id,
                "uid": claims.user_uuid,
                "exp": int(claims.expires_at.timestamp()),
                # Milliseconds: a login just after a password change must outlive it.
                "iat": int(claims.issued_at.timestamp() * 1000),
            }
        )
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def verify(self, token: str, *, now: datetime) -> SessionClaims:
        try:
            payload_part, mac_part = token.split(".")
            payload, mac = _unb64(payload_part), _unb64(mac_part)
        except ValueError as exc:
            raise InvalidSessionToken("malformed session token") from exc
        if not hmac.compare_digest(self._mac(payload), mac):
            raise InvalidSessionToken("session token signature mismatch")
        try:
            data = orjson.loads(payload)
            claims = SessionClaims(
                session_id=str(data["sid"]),
                user_uuid=str(data["uid"]),
                expires_at=datetime.fromtimestamp(int(data["exp"]), UTC),
                # Tokens issued before ``iat`` existed count as the oldest possible.
                issued_at=datetime.fromtimestamp(int(data.get("iat", 0)) / 1000, UTC),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise InvalidSessionToken("malformed session payload") from exc
        if claims.expires_at <= now:
            raise InvalidSessionToken("session expired")
        return claims
