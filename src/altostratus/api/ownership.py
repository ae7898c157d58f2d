"""The ``account``/``domainid`` parameters of commands on tenant objects.

Admins act for an account they administer by naming it (``account`` with
``domainid``), as in CloudStack; ``services.ownership`` checks they may.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import AfterValidator, Field

from altostratus.api.params import ApiType, ListParams, Params, Uuid
from altostratus.services.shared.ownership import OwnerScope
from altostratus.services.shared.projects import ALL_PROJECTS

__all__ = ["OwnedListParams", "OwnerFilterParams", "OwnerParams", "ProjectFilter"]


def _project_filter(value: str) -> str:
    if value == ALL_PROJECTS:
        return value
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError("not a valid UUID (or -1: every project)") from None


#: ``projectid`` of a listing: a project's UUID, or ``-1`` for every project.
ProjectFilter = Annotated[str, ApiType("uuid"), AfterValidator(_project_filter)]


class OwnerParams(Params):
    account: str | None = Field(
        None, max_length=255, description="Admins: the account to act for; needs domainid"
    )
    domainid: Uuid | None = Field(None, description="The domain of the account")
    projectid: Uuid | None = Field(
        None, description="The project to act for (its members may); instead of account"
    )


class OwnerFilterParams(ListParams):
    """The owner filters of a list command (``OwnedListParams`` without ``scope()``, for a
    command with a ``scope`` parameter of its own, as ``listWebhooks``)."""

    account: str | None = Field(
        None, max_length=255, description="List the resources of this account; needs domainid"
    )
    domainid: Uuid | None = Field(None, description="List the resources of this domain")
    isrecursive: bool = Field(False, description="With domainid: include the domain's subdomains")
    projectid: ProjectFilter | None = Field(
        None, description="List the resources of this project; -1: of every project"
    )

    def owner_scope(self) -> OwnerScope:
        return OwnerScope(
            self.account, self.domainid, self.isrecursive, self.listall, self.projectid
        )


class OwnedListParams(OwnerFilterParams):
    def scope(self) -> OwnerScope:
        return self.owner_scope()
