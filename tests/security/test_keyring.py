"""The region's key file and ``ENC(...)`` values."""

from __future__ import annotations

import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from altostratus.security.keyring import KeyFileMismatch, Keyring


def test_key_file_is_created_owner_only_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "secret.key"
    first = Keyring.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = path.read_bytes()
    second = Keyring.load_or_create(path)
    assert path.read_bytes() == key, "an existing key file must never be replaced"
    assert second.decrypt(first.encrypt("value")) == "value"


def test_encrypt_decrypt(tmp_path: Path) -> None:
    keyring = Keyring.load_or_create(tmp_path / "secret.key")
    # A secret long enough that random base64 cannot contain it by chance.
    ciphertext = keyring.encrypt("postgresql://alto:Secret-Passw0rd-Xyz@db/alto")
    assert "Secret-Passw0rd-Xyz" not in ciphertext
    assert keyring.encrypt("same") != keyring.encrypt("same"), "encryption must be randomised"
    assert keyring.decrypt(ciphertext) == "postgresql://alto:Secret-Passw0rd-Xyz@db/alto"


def test_another_key_file_cannot_decrypt(tmp_path: Path) -> None:
    ciphertext = Keyring.load_or_create(tmp_path / "a.key").encrypt("secret")
    other = Keyring.load_or_create(tmp_path / "b.key")
    with pytest.raises(KeyFileMismatch):
        other.decrypt(ciphertext)
    with pytest.raises(KeyFileMismatch):
        other.decrypt("not a token")


def test_wrap_and_unwrap(tmp_path: Path) -> None:
    keyring = Keyring.load_or_create(tmp_path / "secret.key")
    wrapped = keyring.wrap("s3cret")
    assert wrapped.startswith("ENC(")
    assert wrapped.endswith(")")
    assert keyring.unwrap(wrapped) == "s3cret"
    # Plain configuration values pass through untouched.
    for plain in ("sqlite:///x.db", "ENC(", "x ENC(y)", ""):
        assert keyring.unwrap(plain) == plain
    with pytest.raises(KeyFileMismatch):
        keyring.unwrap("ENC(forged)")


def test_concurrent_first_starts_share_one_key(tmp_path: Path) -> None:
    """Servers (``--workers``) starting together on a new data dir must agree on the key."""
    path = tmp_path / "secret.key"
    barrier = threading.Barrier(16)

    def start() -> str:
        barrier.wait()
        return Keyring.load_or_create(path).wrap("probe")

    with ThreadPoolExecutor(16) as pool:
        wrapped = list(pool.map(lambda _: start(), range(16)))
    keyring = Keyring.load_or_create(path)
    assert [keyring.unwrap(value) for value in wrapped] == ["probe"] * 16
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.key"], "no temporary files left"
