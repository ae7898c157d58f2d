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
# CloudStack then rewrites to ``%20``. (``urllib.parse.quote`` always keeps ``~``.)
_JAVA_SAFE = ".-*_"
_ALNUM = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def _encode(value: str, safe: str) -> str:
    keep = _ALNUM | frozenset(safe.encode())
    return "".join(chr(b) if b in keep else f"%{b:02X}" for b in value.encode())


def _canonical(params: Mapping[str, str], *, safe: str, fold_names: bool) -> str:
    # CloudStack leaves out ``signature`` in any case, as clients spell it ``Signature`` too.
    items = [
        (k.lower() if fold_names else k, v) for k, v in params.items() if k.lower() != "signature"
    ]
    items.sort(key=lambda item: item[0])
    return "&".join(f"{k}={_encode(v, safe)}" for k, v in items).lower()


def _variants(params: Mapping[str, str]) -> Iterator[str]:
    seen: set[str] = set()
    for fold_names in (False, True):
        for safe in (_JAVA_SAFE, _JAVA_SAFE + "~", _JAVA_SAFE + "~[]"):
            text = _canonical(params, safe=safe, fold_names=fold_names)
            if text not in seen:
                seen.add(text)
                yield text


def _hmac(secret_key: str, text: str) -> bytes:
    return hmac.new(secret_key.encode(), text.encode(), hashlib.sha1).digest()


def sign(params: Mapping[str, str], secret_key: str) -> str:
    """The canonical signature of ``params`` (what a client computes)."""
    text = _canonical(params, safe=_JAVA_SAFE, fold_names=False)
    return base64.b64encode(_hmac(secret_key, text)).decode()


def signature_matches(params: Mapping[str, str], signature: str, secret_key: str) -> bool:
    """Whether ``signature`` signs ``params`` under any accepted variant (constant-time)."""
    try:
        expected = base64.b64decode(signature, validate=False)
    except ValueError:
        return False
    matched = False
    for text in _variants(params):
        # Compare every variant, so timing does not reveal which one matched.
        matched |= hmac.compare_digest(_hmac(secret_key, text), expected)
    return matched
