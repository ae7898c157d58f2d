"""Password hashes: argon2id, salted, verified without raising."""

from __future__ import annotations

from altostratus.security.passwords import Passwords

CHEAP = Passwords(time_cost=1, memory_cost_kib=64, parallelism=1)


async def test_hash_verifies_only_the_right_password() -> None:
    digest = await CHEAP.hash("correct horse")
    assert digest.startswith("$argon2id$")
    assert "correct horse" not in digest
    assert await CHEAP.verify(digest, "correct horse")
    assert not await CHEAP.verify(digest, "correct horsE")
    assert not await CHEAP.verify(digest, "")


async def test_hashes_are_salted() -> None:
    assert await CHEAP.hash("same") != await CHEAP.hash("same")


async def test_hash_from_other_parameters_still_verifies() -> None:
    # Raising the cost later must not lock out users whose hashes predate it.
    old = await Passwords(time_cost=2, memory_cost_kib=128, parallelism=2).hash("pw")
    assert await CHEAP.verify(old, "pw")


async def test_garbage_hash_is_a_mismatch_not_an_error() -> None:
    assert not await CHEAP.verify("not-a-hash", "pw")
    assert not await CHEAP.verify("", "pw")
