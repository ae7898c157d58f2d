"""SSH key pairs: ``createSSHKeyPair``, ``registerSSHKeyPair``, ``listSSHKeyPairs``, delete.

Anyone manages their own account's key pairs; admins also those of the accounts they
administer (``account`` with ``domainid``).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from altostratus.api.declarations import ANYONE, SUCCESS, CommandSet
from altostratus.api.ownership import OwnedListParams, OwnerParams
from altostratus.api.params import Uuid, page_request
from altostratus.api.results import ListResult, ResponseObject, Single, Success
from altostratus.core.context import ServiceContext
from altostratus.db.models import SshKeyPair
from altostratus.services.compute import keypairs

__all__ = [
    "CreateKeyPairParams",
    "DeleteKeyPairParams",
    "ListKeyPairsParams",
    "RegisterKeyPairParams",
    "SshKeyPairResponse",
    "commands",
    "create_keypair",
    "delete_keypair",
    "keypair_view",
    "list_keypairs",
    "register_keypair",
]

commands = CommandSet()

Name = Annotated[str, Field(min_length=1, max_length=255)]


class SshKeyPairResponse(ResponseObject):
    id: str
    name: str
    fingerprint: str
    #: Only in createSSHKeyPair's answer: the server does not keep it.
    privatekey: str | None = None
    account: str
    domainid: str
    domain: str


def keypair_view(keypair: SshKeyPair, private_key: str | None = None) -> SshKeyPairResponse:
    return SshKeyPairResponse(
        id=keypair.uuid,
        name=keypair.name,
        fingerprint=keypair.fingerprint,
        privatekey=private_key,
        account=keypair.account.name,
        domainid=keypair.domain.uuid,
        domain=keypair.domain.name,
    )


class CreateKeyPairParams(OwnerParams):
    name: Name = Field(description="Name of the key pair; unique in the account")


@commands.command(
    "createSSHKeyPair",
    CreateKeyPairParams,
    description="Creates an RSA key pair and answers its private key (shown only here)",
    allowed=ANYONE,
    response=("keypair", SshKeyPairResponse),
    related=("listSSHKeyPairs",),
)
async def create_keypair(ctx: ServiceContext, p: CreateKeyPairParams) -> Single:
    created = await keypairs.create_keypair(
        ctx, name=p.name, account=p.account, domain_uuid=p.domainid, project_uuid=p.projectid
    )
    return Single("keypair", keypair_view(created.keypair, created.private_key))


class RegisterKeyPairParams(OwnerParams):
    name: Name = Field(description="Name of the key pair; unique in the account")
    publickey: str = Field(
        min_length=1, max_length=16384, description="The public key, in OpenSSH format"
    )


@commands.command(
    "registerSSHKeyPair",
    RegisterKeyPairParams,
    description="Registers the public key of a key pair the user keeps",
    allowed=ANYONE,
    response=("keypair", SshKeyPairResponse),
    related=("listSSHKeyPairs",),
)
async def register_keypair(ctx: ServiceContext, p: RegisterKeyPairParams) -> Single:
    keypair = await keypairs.register_keypair(
        ctx,
        name=p.name,
        public_key=p.publickey,
        account=p.account,
        domain_uuid=p.domainid,
        project_uuid=p.projectid,
    )
    return Single("keypair", keypair_view(keypair))


class ListKeyPairsParams(OwnedListParams):
    id: Uuid | None = Field(None, description="List the key pair of this id")
    name: str | None = Field(None, max_length=255, description="List the key pair of this name")
    fingerprint: str | None = Field(
        None, max_length=128, description="List the key pair of this MD5 fingerprint"
    )


@commands.command(
    "listSSHKeyPairs",
    ListKeyPairsParams,
    description="Lists SSH key pairs",
    allowed=ANYONE,
    response=("sshkeypair", SshKeyPairResponse),
    writes=False,
)
async def list_keypairs(ctx: ServiceContext, p: ListKeyPairsParams) -> ListResult:
    page = await keypairs.list_keypairs(
        ctx,
        keypair_uuid=p.id,
        name=p.name,
        fingerprint=p.fingerprint,
        keyword=p.keyword,
        scope=p.scope(),
        page=page_request(ctx, p),
    )
    return ListResult("sshkeypair", [keypair_view(k) for k in page.items], page.total)


class DeleteKeyPairParams(OwnerParams):
    name: Name = Field(description="Name of the key pair to delete")


@commands.command(
    "deleteSSHKeyPair",
    DeleteKeyPairParams,
    description="Deletes a key pair (VMs deployed with it keep their key)",
    allowed=ANYONE,
    response=SUCCESS,
)
async def delete_keypair(ctx: ServiceContext, p: DeleteKeyPairParams) -> Success:
    await keypairs.delete_keypair(
        ctx, name=p.name, account=p.account, domain_uuid=p.domainid, project_uuid=p.projectid
    )
    return Success()
