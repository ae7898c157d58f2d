"""API key pairs and generated passwords."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

__all__ = ["KeyPair", "generate_key_pair", "generate_password"]


@dataclass(frozen=True)
class KeyPair:
    api_key: str
    secret_key: str


def generate_key_pair() -> KeyPair:
    """Random keys of CloudStack's length (64 random bytes, base64url: 86 characters)."""
    return KeyPair(secrets.token_urlsafe(64), secrets.token_urlsafe(64))


def generate_password() -> str:
    return secrets.token_urlsafe(18)
