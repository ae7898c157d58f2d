"""SSH key pairs: create (with its private key), register, list and delete, per account."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from tests.api.compute.test_affinity import settings
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.world import Identity

__all__ = ["settings"]  # no job executor needed (tests.api.compute.test_affinity)


def ed25519_public_key(comment: str = "user@laptop") -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    text = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return f"{text.decode()} {comment}"


def md5_fingerprint(public_key: str) -> str:
    """Computed here independently: MD5 of the base64-decoded key blob, colon-separated."""
    digest = hashlib.md5(base64.b64decode(public_key.split()[1])).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, 32, 2))


async def keypair_names(client: ApiClient, **params: Any) -> list[str]:
    listed = await client.ok("listSSHKeyPairs", **params)
    return sorted(pair["name"] for pair in listed.get("sshkeypair", []))


async def test_create_answers_a_working_private_key_once(
    clients: Clients, identities: dict[str, Identity]
) -> None:
    alice = identities["alice"]
    created = (await clients.alice.ok("createSSHKeyPair", name="deploy"))["keypair"]
    assert set(created) == {
        "id",
        "name",
        "fingerprint",
        "privatekey",
        "account",
        "domainid",
        "domain",
    }
    assert (created["name"], created["account"]) == ("deploy", "alice")
    assert (created["domainid"], created["domain"]) == (alice.domain_id, "d1")

    private = serialization.load_pem_private_key(created["privatekey"].encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    assert private.key_size == 2048
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    assert created["fingerprint"] == md5_fingerprint(public.decode())

    listed = (await clients.alice.ok("listSSHKeyPairs", name="deploy"))["sshkeypair"]
    assert listed == [{key: value for key, value in created.items() if key != "privatekey"}]
    events = await clients.alice.ok("listEvents", type="CREATE.SSH.KEYPAIR")
    assert [event["description"] for event in events["event"]] == [
        f"Created SSH key pair deploy ({created['fingerprint']})"
    ]


async def test_register_computes_cloudstacks_md5_fingerprint(
    clients: Clients, tmp_path: Path
) -> None:
    public_key = ed25519_public_key()
    pair = (await clients.alice.ok("registerSSHKeyPair", name="laptop", publickey=public_key))[
        "keypair"
    ]
    assert "privatekey" not in pair
    assert pair["fingerprint"] == md5_fingerprint(public_key)
    if shutil.which("ssh-keygen"):
        key_file = tmp_path / "key.pub"
        key_file.write_text(public_key + "\n")
        process = await asyncio.create_subprocess_exec(
            "ssh-keygen", "-l", "-E", "md5", "-f", str(key_file), stdout=asyncio.subprocess.PIPE
        )
        shown = (await process.communicate())[0].decode()
        # "256 MD5:aa:bb:… user@laptop (ED25519)"
        assert shown.split()[1] == f"MD5:{pair['fingerprint']}"
    listed = await clients.alice.ok("listSSHKeyPairs", fingerprint=pair["fingerprint"])
    assert [found["name"] for found in listed["sshkeypair"]] == ["laptop"]


async def test_register_accepts_an_rsa_key_with_surrounding_whitespace(clients: Clients) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    text = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    pair = (
        await clients.bob.ok("registerSSHKeyPair", name="rsa", publickey=f"  {text.decode()}\n")
    )["keypair"]
    assert pair["fingerprint"] == md5_fingerprint(text.decode())


@pytest.mark.parametrize(
    "public_key",
    [
        "not a key",
        "ssh-ed25519",
        "ssh-ed25519 !!!not-base64!!!",
        # The declared type must match the blob's.
        "ssh-rsa " + ed25519_public_key().split()[1],
        "-----BEGIN PUBLIC KEY-----",
    ],
    # Stable ids: the generated key differs in each xdist worker.
    ids=["words", "type-only", "bad-base64", "type-mismatch", "pem"],
)
async def test_register_refuses_what_is_not_an_openssh_public_key(
    clients: Clients, public_key: str
) -> None:
    text = await clients.alice.fails("registerSSHKeyPair", 431, name="bad", publickey=public_key)
    assert "publickey" in text
    assert await keypair_names(clients.alice) == []


async def test_names_and_keys_are_unique_per_account(clients: Clients) -> None:
    public_key = ed25519_public_key()
    await clients.alice.ok("registerSSHKeyPair", name="laptop", publickey=public_key)
    text = await clients.alice.fails(
        "registerSSHKeyPair", 431, name="laptop", publickey=ed25519_public_key()
    )
    assert "A key pair with name laptop already exists" in text
    text = await clients.alice.fails("createSSHKeyPair", 431, name="laptop")
    assert "already exists" in text
    text = await clients.alice.fails("registerSSHKeyPair", 431, name="again", publickey=public_key)
    assert "already registered as key pair laptop" in text
    # Another account may use the same name and even the same key.
    await clients.bob.ok("registerSSHKeyPair", name="laptop", publickey=public_key)
    assert await keypair_names(clients.bob) == ["laptop"]


async def test_missing_name_is_431(clients: Clients) -> None:
    text = await clients.alice.fails("createSSHKeyPair", 431)
    assert "name" in text


async def test_listing_follows_accounts_and_listall(
    api: ApiClient, clients: Clients, identities: dict[str, Identity]
) -> None:
    for client, name in (
        (clients.alice, "alice-key"),
        (clients.carol, "carol-key"),
        (clients.bob, "bob-key"),
        (clients.d1admin, "d1admin-key"),
    ):
        await client.ok("registerSSHKeyPair", name=name, publickey=ed25519_public_key())
    assert await keypair_names(clients.alice) == ["alice-key"]
    assert await keypair_names(clients.alice, listall=True) == ["alice-key"]
    assert await keypair_names(clients.d1admin) == ["d1admin-key"]
    assert await keypair_names(clients.d1admin, listall=True) == [
        "alice-key",
        "carol-key",
        "d1admin-key",
    ]
    assert await keypair_names(api, listall=True) == [
        "alice-key",
        "bob-key",
        "carol-key",
        "d1admin-key",
    ]
    d1 = identities["alice"].domain_id
    assert await keypair_names(api, domainid=d1) == ["alice-key", "d1admin-key"]
    assert await keypair_names(api, domainid=d1, isrecursive=True) == [
        "alice-key",
        "carol-key",
        "d1admin-key",
    ]
    assert await keypair_names(
        clients.d1admin, account="carol", domainid=identities["carol"].domain_id
    ) == ["carol-key"]
    # Someone else's account is not found, not merely forbidden.
    await clients.alice.fails(
        "listSSHKeyPairs", 431, account="bob", domainid=identities["bob"].domain_id
    )
    await clients.d1admin.fails(
        "listSSHKeyPairs", 431, account="bob", domainid=identities["bob"].domain_id
    )
    assert await keypair_names(clients.alice, keyword="ALICE") == ["alice-key"]
    assert await keypair_names(clients.alice, keyword="bob") == []


async def test_paging_counts_every_match(clients: Clients) -> None:
    for number in range(5):
        await clients.alice.ok(
            "registerSSHKeyPair", name=f"k{number}", publickey=ed25519_public_key()
        )
    page = await clients.alice.ok("listSSHKeyPairs", page=2, pagesize=2)
    assert page["count"] == 5
    assert [pair["name"] for pair in page["sshkeypair"]] == ["k2", "k3"]
    await clients.alice.fails("listSSHKeyPairs", 431, page=2)


async def test_admin_acts_for_an_account_it_administers(
    clients: Clients, identities: dict[str, Identity]
) -> None:
    alice = identities["alice"]
    created = await clients.d1admin.ok(
        "createSSHKeyPair", name="ops", account="alice", domainid=alice.domain_id
    )
    assert created["keypair"]["account"] == "alice"
    assert await keypair_names(clients.alice) == ["ops"]
    assert await keypair_names(clients.d1admin) == []
    # account needs domainid; a domain admin cannot reach outside its subtree.
    await clients.d1admin.fails("createSSHKeyPair", 431, name="x", account="alice")
    bob = identities["bob"]
    await clients.d1admin.fails(
        "createSSHKeyPair", 431, name="x", account="bob", domainid=bob.domain_id
    )
    # A user cannot act for anyone else, even in its own domain.
    text = await clients.alice.fails(
        "createSSHKeyPair", 431, name="x", account="d1admin", domainid=alice.domain_id
    )
    assert "Unable to find account" in text


async def test_delete(clients: Clients, identities: dict[str, Identity]) -> None:
    await clients.alice.ok("createSSHKeyPair", name="old")
    await clients.bob.ok("createSSHKeyPair", name="old")
    answer = await clients.alice.ok("deleteSSHKeyPair", name="old")
    assert answer == {"success": "true"}
    assert await keypair_names(clients.alice) == []
    assert await keypair_names(clients.bob) == ["old"]
    text = await clients.alice.fails("deleteSSHKeyPair", 431, name="old")
    assert "A key pair with name old does not exist for account alice" in text
    await clients.alice.fails(
        "deleteSSHKeyPair", 431, name="old", account="bob", domainid=identities["bob"].domain_id
    )
    events = await clients.alice.ok("listEvents", type="DELETE.SSH.KEYPAIR")
    assert len(events["event"]) == 1


async def test_domain_admin_deletes_a_users_key_pair(
    clients: Clients, identities: dict[str, Identity]
) -> None:
    carol = identities["carol"]
    await clients.carol.ok("createSSHKeyPair", name="k")
    await clients.d1admin.ok(
        "deleteSSHKeyPair", name="k", account="carol", domainid=carol.domain_id
    )
    assert await keypair_names(clients.carol) == []
