"""CloudStack's image checksums: ``{MD5}hex``, ``{SHA-1}hex``, ``{SHA-256}hex`` (and the
other SHA-2 lengths), or bare hex, which CloudStack takes for MD5."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

__all__ = ["Checksum"]

_ALGORITHMS = {
    "MD5": ("md5", 32),
    "SHA-1": ("sha1", 40),
    "SHA-224": ("sha224", 56),
    "SHA-256": ("sha256", 64),
    "SHA-384": ("sha384", 96),
    "SHA-512": ("sha512", 128),
}
_FORM = re.compile(r"^(?:\{(?P<algo>[A-Za-z0-9-]+)\})?(?P<hex>[0-9a-fA-F]+)$")


@dataclass(frozen=True)
class Checksum:
    #: CloudStack's name of the algorithm (``SHA-256``).
    algorithm: str
    hexdigest: str

    @classmethod
    def parse(cls, text: str) -> Checksum:
        """The checksum ``text`` names; a ``ValueError`` saying why if it names none."""
        found = _FORM.match(text.strip())
        if found is None:
            raise ValueError("must be {MD5}, {SHA-1} or {SHA-256} followed by hex, or MD5 hex")
        algorithm = (found["algo"] or "MD5").upper()
        if algorithm == "SHA1":
            algorithm = "SHA-1"
        if algorithm not in _ALGORITHMS:
            raise ValueError(f"unknown algorithm {algorithm} (MD5, SHA-1, SHA-256, ...)")
        length = _ALGORITHMS[algorithm][1]
        if len(found["hex"]) != length:
            raise ValueError(f"a {algorithm} checksum has {length} hex digits")
        return cls(algorithm, found["hex"].lower())

    def hasher(self) -> hashlib._Hash:
        return hashlib.new(_ALGORITHMS[self.algorithm][0])

    def __str__(self) -> str:
        return f"{{{self.algorithm}}}{self.hexdigest}"
