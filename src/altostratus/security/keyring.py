"""The region's key file and the encryption of secrets at rest (API secret keys, ``ENC(...)``).

Every management server of a region must use the same key file: the database holds only
ciphertext, so a server with another key can neither verify signatures nor sessions.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

__all__ = ["KeyFileMismatch", "Keyring"]

_ENC_PREFIX, _ENC_SUFFIX = "ENC(", ")"


class KeyFileMismatch(RuntimeError):
    """The key file cannot decrypt what the database holds."""


class Keyring:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @classmethod
    def load_or_create(cls, path: Path) -> Keyring:
        """Read the key file, creating it (mode 0600) on a new installation.

        Servers starting together (``--workers``) race to create it: each writes a complete
        key to a private temporary file and links it into place, so the first link wins and
        nobody reads a half-written file.
        """
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(Fernet.generate_key() + b"\n")
                with contextlib.suppress(FileExistsError):
                    os.link(temporary, path)
            finally:
                os.unlink(temporary)
        return cls(path.read_bytes().strip())

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise KeyFileMismatch("this key file did not encrypt the value") from exc

    def wrap(self, plaintext: str) -> str:
        """Encrypt for a configuration file: ``ENC(...)``."""
        return f"{_ENC_PREFIX}{self.encrypt(plaintext)}{_ENC_SUFFIX}"

    def unwrap(self, value: str) -> str:
        """Decrypt an ``ENC(...)`` configuration value; other values pass through."""
        if value.startswith(_ENC_PREFIX) and value.endswith(_ENC_SUFFIX):
            return self.decrypt(value[len(_ENC_PREFIX) : -len(_ENC_SUFFIX)])
        return value
