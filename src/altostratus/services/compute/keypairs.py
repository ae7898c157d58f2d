"""SSH key pairs: created here (the private key is shown once) or registered by the user.

A key pair belongs to an account and its name is unique there; a VM deployed with
``keypair=NAME`` gets the public key of its owner's key pair of that name. Fingerprints
are CloudStack's: the MD5 of the public key blob in colon-separated hex, which is what
``ssh-keygen -l -E md5`` prints after ``MD5:``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from altostratus.core.context import ServiceContext
from altostratus.core.paging import Page, PageRequest, equal_if_given, keyword_filter, paginate
from altostratus.db.models import Account, SshKeyPair
from altostratus.errors import InvalidParameter, invalid
from altostratus.services.shared.events import record_event
from altostratus.services.shared.ownership import OwnerScope, owned_rows, owner_account

__all__ = [
    "CreatedKeyPair",
    "create_keypair",
    "delete_keypair",
    "fingerprint_of",
    "get_keypair",
    "list_keypairs",
    "register_keypair",
]

#: CloudStack generates 2048-bit RSA keys: every guest OS and cloud-init accepts them.
_RSA_BITS = 2048


@dataclass(frozen=True)
class CreatedKeyPair:
    keypair: SshKeyPair
    #: PEM, shown in the create answer only: the server does not keep it.
    private_key: str


def fingerprint_of(blob: bytes) -> str:
    """MD5 of the public key blob (the base64 part of an OpenSSH key), as ``aa:bb:…``."""
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def _parsed_public_key(text: str) -> tuple[str, bytes]:
    """The key as stored (``type base64 [comment]``) and its blob; 431 unless OpenSSH format."""
    key = " ".join(text.split())
    fields = key.split(" ")
    try:
        serialization.load_ssh_public_key(key.encode())
        blob = base64.b64decode(fields[1], validate=True)
    except (ValueError, UnsupportedAlgorithm, IndexError, binascii.Error):
        raise invalid(
            "publickey", "not an OpenSSH public key (such as 'ssh-ed25519 AAAAC3Nza… comment')"
        ) from None
    return key, blob


def _generate() -> tuple[str, str]:
    """A new RSA key pair: (OpenSSH public key, PEM private key)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS)
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return public.decode(), pem.decode()


async def _check_name_free(ctx: ServiceContext, owner: Account, name: str) -> None:
    if await _find(ctx, owner.id, SshKeyPair.name == name) is not None:
        raise InvalidParameter(f"A key pair with name {name} already exists for this account")


async def _find(ctx: ServiceContext, account_id: int, condition: Any) -> SshKeyPair | None:
    found: SshKeyPair | None = await ctx.session.scalar(
        select(SshKeyPair).where(SshKeyPair.account_id == account_id, condition)
    )
    return found


async def _store(ctx: ServiceContext, owner: Account, name: str, public_key: str) -> SshKeyPair:
    """Check and add the key pair; one account cannot hold one public key twice."""
    key, blob = _parsed_public_key(public_key)
    fingerprint = fingerprint_of(blob)
    await _check_name_free(ctx, owner, name)
    twin = await _find(ctx, owner.id, SshKeyPair.fingerprint == fingerprint)
    if twin is not None:
        raise invalid("publickey", f"this key is already registered as key pair {twin.name}")
    keypair = SshKeyPair(
        name=name, account=owner, domain=owner.domain, fingerprint=fingerprint, public_key=key
    )
    ctx.session.add(keypair)
    await ctx.session.flush()
    return keypair


async def _record(ctx: ServiceContext, event_type: str, verb: str, keypair: SshKeyPair) -> None:
    await record_event(
        ctx,
        event_type,
        f"{verb} SSH key pair {keypair.name} ({keypair.fingerprint})",
        resource_type="SSHKeyPair",
        resource_uuid=keypair.uuid,
        owner=keypair.account,
    )


async def create_keypair(
    ctx: ServiceContext,
    *,
    name: str,
    account: str | None,
    domain_uuid: str | None,
    project_uuid: str | None,
) -> CreatedKeyPair:
    owner = await owner_account(ctx, account, domain_uuid, project_uuid)
    await _check_name_free(ctx, owner, name)
    # RSA generation takes tens of milliseconds: keep the event loop serving others.
    public_key, private_key = await asyncio.to_thread(_generate)
    keypair = await _store(ctx, owner, name, public_key)
    await _record(ctx, "CREATE.SSH.KEYPAIR", "Created", keypair)
    return CreatedKeyPair(keypair, private_key)


async def register_keypair(
    ctx: ServiceContext,
    *,
    name: str,
    public_key: str,
    account: str | None,
    domain_uuid: str | None,
    project_uuid: str | None,
) -> SshKeyPair:
    owner = await owner_account(ctx, account, domain_uuid, project_uuid)
    keypair = await _store(ctx, owner, name, public_key)
    await _record(ctx, "REGISTER.SSH.KEYPAIR", "Registered", keypair)
    return keypair


async def get_keypair(ctx: ServiceContext, name: str, account_id: int) -> SshKeyPair:
    """The key pair ``name`` of the account ``account_id`` (a VM's owner), else 431."""
    keypair = await _find(ctx, account_id, SshKeyPair.name == name)
    if keypair is None:
        raise invalid("keypair", f"no key pair named {name} was found")
    return keypair


async def delete_keypair(
    ctx: ServiceContext,
    *,
    name: str,
    account: str | None,
    domain_uuid: str | None,
    project_uuid: str | None,
) -> None:
    owner = await owner_account(ctx, account, domain_uuid, project_uuid)
    keypair = await _find(ctx, owner.id, SshKeyPair.name == name)
    if keypair is None:
        raise InvalidParameter(
            f"A key pair with name {name} does not exist for account {owner.name} "
            f"in domain {owner.domain.path}"
        )
    await _record(ctx, "DELETE.SSH.KEYPAIR", "Deleted", keypair)
    await ctx.session.delete(keypair)


async def list_keypairs(
    ctx: ServiceContext,
    *,
    keypair_uuid: str | None,
    name: str | None,
    fingerprint: str | None,
    keyword: str | None,
    scope: OwnerScope,
    page: PageRequest,
) -> Page[SshKeyPair]:
    query = (await owned_rows(ctx, SshKeyPair, scope)).where(
        equal_if_given(
            (SshKeyPair.uuid, keypair_uuid),
            (SshKeyPair.name, name),
            (SshKeyPair.fingerprint, fingerprint and fingerprint.lower()),
        ),
        keyword_filter(keyword, SshKeyPair.name),
    )
    return await paginate(ctx.session, query.order_by(SshKeyPair.id), page)
