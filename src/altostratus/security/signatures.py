"""CloudStack request signatures: the canonical algorithm and the variants real clients send.

The canonical string (CloudStack's server): every parameter but ``signature``, sorted by
name case-sensitively, ``name=value`` with the value encoded like Java's ``URLEncoder``,
joined with ``&``, lowercased; HMAC-SHA1 with the secret key; base64.

``cs`` and libcloud leave ``~`` raw, libcloud also ``[`` and ``]``, and libcloud and
cloudmonkey sort names case-insensitively. Each variant is tried in turn, so a client
that signs any of those ways is accepted and nothing weaker is.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator, Mapping

__all__ = ["sign", "signature_matches"]

# Java's URLEncoder keeps letters, digits and ``.-*_``; space becomes ``+`` which
# CloudStack then rewrites to ``%20``. One string per byte, so encoding a value is a
# ``join`` over a table lookup done in C, not a Python loop per byte.
_KEEP = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-*_")
_JAVA_ENCODED = tuple(chr(b) if b in _KEEP else f"%{b:02X}" for b in range(256))
#: What each client variant leaves raw that Java encodes (``%XX`` only ever starts an
#: escape in an encoded value, so replacing it undoes exactly that escape).
_RAW_TILDE = (("%7E", "~"),)
_RAW_TILDE_BRACKETS = (("%7E", "~"), ("%5B", "["), ("%5D", "]"))


def _encode(value: str) -> str:
    return "".join(map(_JAVA_ENCODED.__getitem__, value.encode()))


def _unescape(encoded: str, raw: tuple[tuple[str, str], ...]) -> str:
    for escape, char in raw:
        encoded = encoded.replace(escape, char)
    return encoded


def _joined(items: list[tuple[str, str]], *, fold_names: bool) -> str:
    pairs = [(name.lower(), value) for name, value in items] if fold_names else list(items)
    pairs.sort(key=lambda item: item[0])
    return "&".join(f"{name}={value}" for name, value in pairs).lower()


def _variants(params: Mapping[str, str]) -> Iterator[str]:
    """Each accepted canonical string once; every value is encoded once, whatever the
    number of variants (the variants differ only by which escapes they undo)."""
    # CloudStack leaves out ``signature`` in any case, as clients spell it ``Signature`` too.
    encoded = [
        (name, _encode(value)) for name, value in params.items() if name.lower() != "signature"
    ]
    seen: set[str] = set()
    for raw in ((), _RAW_TILDE, _RAW_TILDE_BRACKETS):
        items = [(name, _unescape(value, raw)) for name, value in encoded]
        for fold_names in (False, True):
            text = _joined(items, fold_names=fold_names)
            if text not in seen:
                seen.add(text)
                yield text


def _hmac(secret_key: str, text: str) -> bytes:
    return hmac.new(secret_key.encode(), text.encode(), hashlib.sha1).digest()


def sign(params: Mapping[str, str], secret_key: str) -> str:
    """The canonical signature of ``params`` (what a client computes)."""
    return base64.b64encode(_hmac(secret_key, next(_variants(params)))).decode()


def signature_matches(params: Mapping[str, str], signature: str, secret_key: str) -> bool:
    """Whether ``signature`` signs ``params`` under any accepted variant (constant-time).

    The signature must be exactly the base64 of the HMAC, as CloudStack compares the
    strings: nothing before it, nothing after its padding, no other spelling.
    """
    given = signature.encode()
    matched = False
    for text in _variants(params):
        # Compare every variant, so timing does not reveal which one matched.
        matched |= hmac.compare_digest(base64.b64encode(_hmac(secret_key, text)), given)
    return matched
