"""Session tokens: any server holding the region's key verifies them, nothing else does."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from altostratus.security.sessions import InvalidSessionToken, SessionClaims, SessionSigner

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
CLAIMS = SessionClaims("session-1", "user-1", NOW + timedelta(minutes=30), NOW)


def test_round_trip() -> None:
    token = SessionSigner(b"k" * 32).issue(CLAIMS)
    assert SessionSigner(b"k" * 32).verify(token, now=NOW) == CLAIMS


def test_another_key_does_not_verify() -> None:
    token = SessionSigner(b"k" * 32).issue(CLAIMS)
    with pytest.raises(InvalidSessionToken):
        SessionSigner(b"x" * 32).verify(token, now=NOW)


def test_expired_token_is_refused() -> None:
    signer = SessionSigner(b"k" * 32)
    token = signer.issue(CLAIMS)
    with pytest.raises(InvalidSessionToken, match="expired"):
        signer.verify(token, now=CLAIMS.expires_at)


def _flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


def test_tampered_tokens_are_refused() -> None:
    signer = SessionSigner(b"k" * 32)
    token = signer.issue(CLAIMS)
    payload, mac = token.split(".")
    forged_claims = signer.issue(SessionClaims("session-1", "admin", CLAIMS.expires_at, NOW))
    tampered = [
        f"{_flip(payload, 3)}.{mac}",
        f"{payload}.{_flip(mac, 3)}",
        # Someone else's claims under this token's MAC.
        f"{forged_claims.split('.')[0]}.{mac}",
    ]
    for bad in tampered:
        with pytest.raises(InvalidSessionToken):
            signer.verify(bad, now=NOW)


@pytest.mark.parametrize("garbage", ["", "no-dot", "a.b.c", "!!!.???", "e30.AAAA"])
def test_malformed_tokens_are_refused(garbage: str) -> None:
    with pytest.raises(InvalidSessionToken):
        SessionSigner(b"k" * 32).verify(garbage, now=NOW)


def _mac_token(key: bytes, payload: bytes) -> str:
    """A token in the documented format, ``base64url(payload).base64url(HMAC-SHA256)``."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return f"{b64(payload)}.{b64(hmac.new(key, payload, hashlib.sha256).digest())}"


def test_documented_format_is_what_is_verified() -> None:
    key = b"k" * 32
    exp = int(CLAIMS.expires_at.timestamp())
    iat = int(NOW.timestamp() * 1000)
    payload = f'{{"sid":"session-1","uid":"user-1","exp":{exp},"iat":{iat}}}'.encode()
    assert SessionSigner(key).verify(_mac_token(key, payload), now=NOW) == CLAIMS


def test_a_token_without_issue_time_counts_as_the_oldest() -> None:
    """Tokens from before ``iat`` existed must still be ended by a password change."""
    key = b"k" * 32
    exp = int(CLAIMS.expires_at.timestamp())
    payload = f'{{"sid":"session-1","uid":"user-1","exp":{exp}}}'.encode()
    claims = SessionSigner(key).verify(_mac_token(key, payload), now=NOW)
    assert claims.issued_at == datetime.fromtimestamp(0, UTC)


@pytest.mark.parametrize(
    "payload", [b"{}", b"[]", b"not json", b'{"sid":"s","uid":"u","exp":"soon"}']
)
def test_correctly_signed_but_malformed_payload_is_refused(payload: bytes) -> None:
    key = b"k" * 32
    with pytest.raises(InvalidSessionToken):
        SessionSigner(key).verify(_mac_token(key, payload), now=NOW)
