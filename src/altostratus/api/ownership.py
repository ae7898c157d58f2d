"""The ``account``/``domainid`` parameters of commands on tenant objects.

Admins act for an account they administer by naming it (``account`` with
``domainid``), as in CloudStack; ``services.ownership`` checks they may.
"""

from __future__ import annotations

from pydantic import Field

from altostratus.api.params import ListParams, Params, Uuid
from altostratus.services.shared.ownership import OwnerScope

__all__ = ["OwnedListParams", "OwnerParams"]


class OwnerParams(Params):
    account: str | None = Field(
        None, max_length=255, description="Admins: the account to act for; needs domainid"
    )
    domainid: Uuid | None = Field(None, description="The domain of the account")


class OwnedListParams(ListParams):
    account: str | None = Field(
        None, max_length=255, description="List the resources of this account; needs domainid"
    )
    domainid: Uuid | None = Field(None, description="List the resources of this domain")
    isrecursive: bool = Field(False, description="With domainid: include the domain's subdomains")

    def scope(self) -> OwnerScope:
        return OwnerScope(self.account, self.domainid, self.isrecursive, self.listall)
