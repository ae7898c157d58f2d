"""Snapshot policies: recurring snapshots of a volume, and how many of them to keep.

All four commands are synchronous, as in CloudStack. ``intervaltype`` is answered as
CloudStack's number (0 HOURLY, 1 DAILY, 2 WEEKLY, 3 MONTHLY): Ansible's
``cs_snapshot_policy`` matches a volume's policy by it, and reads ``schedule``,
``maxsnaps`` and ``timezone`` to decide whether it changed.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from altostratus.api.declarations import ANYONE, SUCCESS, CommandSet
from altostratus.api.params import (
    Integer,
    ListParams,
    Params,
    Timezone,
    Uuid,
    UuidList,
    page_request,
)
from altostratus.api.results import ListResult, ResponseObject, Single, Success
from altostratus.core.context import ServiceContext
from altostratus.db.models import SnapshotPolicy
from altostratus.db.models.compute import SnapshotInterval
from altostratus.errors import invalid
from altostratus.services.storage import snapshot_policies
from altostratus.services.storage.snapshot_policies import PolicySpec

__all__ = [
    "CreateSnapshotPolicyParams",
    "DeleteSnapshotPoliciesParams",
    "ListSnapshotPoliciesParams",
    "SnapshotPolicyResponse",
    "UpdateSnapshotPolicyParams",
    "commands",
    "create_snapshot_policy",
    "delete_snapshot_policies",
    "list_snapshot_policies",
    "policy_view",
    "update_snapshot_policy",
]

commands = CommandSet()


class SnapshotPolicyResponse(ResponseObject):
    id: str
    volumeid: str
    schedule: str
    #: 0 HOURLY, 1 DAILY, 2 WEEKLY, 3 MONTHLY.
    intervaltype: int
    maxsnaps: int
    timezone: str
    fordisplay: bool


def policy_view(policy: SnapshotPolicy) -> SnapshotPolicyResponse:
    return SnapshotPolicyResponse(
        id=policy.uuid,
        volumeid=policy.volume.uuid,
        schedule=policy.schedule,
        intervaltype=SnapshotInterval(policy.interval_type).code,
        maxsnaps=policy.max_snaps,
        timezone=policy.timezone,
        fordisplay=policy.for_display,
    )


class CreateSnapshotPolicyParams(Params):
    volumeid: Uuid = Field(description="The volume to snapshot on the schedule")
    intervaltype: SnapshotInterval = Field(description="HOURLY, DAILY, WEEKLY or MONTHLY")
    schedule: str = Field(
        max_length=16,
        description="When, in timezone: MM if HOURLY, MM:HH if DAILY, MM:HH:DD if WEEKLY "
        "(DD 1-7, 1 is Sunday), MM:HH:DD if MONTHLY (DD 1-28)",
    )
    timezone: Timezone = Field(description="The time zone of schedule (IANA name, e.g. UTC)")
    maxsnaps: Integer = Field(
        ge=1, description="Snapshots of this policy to keep; older ones are deleted"
    )
    fordisplay: bool | None = Field(
        None, description="Admins: whether the policy is shown to the volume's users"
    )


@commands.command(
    "createSnapshotPolicy",
    CreateSnapshotPolicyParams,
    description="Creates a snapshot policy for a volume, or changes the volume's policy "
    "of the same interval",
    allowed=ANYONE,
    response=("snapshotpolicy", SnapshotPolicyResponse),
    related=("listSnapshotPolicies",),
)
async def create_snapshot_policy(ctx: ServiceContext, p: CreateSnapshotPolicyParams) -> Single:
    spec = PolicySpec(
        interval=p.intervaltype,
        schedule=p.schedule,
        timezone=p.timezone,
        max_snaps=p.maxsnaps,
        for_display=p.fordisplay,
    )
    policy = await snapshot_policies.create_policy(ctx, p.volumeid, spec)
    return Single("snapshotpolicy", policy_view(policy))


class UpdateSnapshotPolicyParams(Params):
    id: Uuid = Field(description="The snapshot policy")
    fordisplay: bool | None = Field(
        None, description="Admins: whether the policy is shown to the volume's users"
    )


@commands.command(
    "updateSnapshotPolicy",
    UpdateSnapshotPolicyParams,
    description="Updates a snapshot policy",
    allowed=ANYONE,
    response=("snapshotpolicy", SnapshotPolicyResponse),
)
async def update_snapshot_policy(ctx: ServiceContext, p: UpdateSnapshotPolicyParams) -> Single:
    policy = await snapshot_policies.update_policy(ctx, p.id, for_display=p.fordisplay)
    return Single("snapshotpolicy", policy_view(policy))


class ListSnapshotPoliciesParams(ListParams):
    id: Uuid | None = Field(None, description="List the snapshot policy of this id")
    volumeid: Uuid | None = Field(None, description="List the policies of this volume")
    fordisplay: bool | None = Field(
        None, description="Admins: list only policies shown (true) or hidden (false)"
    )


@commands.command(
    "listSnapshotPolicies",
    ListSnapshotPoliciesParams,
    description="Lists snapshot policies",
    allowed=ANYONE,
    response=("snapshotpolicy", SnapshotPolicyResponse),
    writes=False,
)
async def list_snapshot_policies(ctx: ServiceContext, p: ListSnapshotPoliciesParams) -> ListResult:
    page = await snapshot_policies.list_policies(
        ctx,
        uuid=p.id,
        volume_uuid=p.volumeid,
        for_display=p.fordisplay,
        keyword=p.keyword,
        page=page_request(ctx, p),
    )
    return ListResult("snapshotpolicy", [policy_view(x) for x in page.items], page.total)


class DeleteSnapshotPoliciesParams(Params):
    id: Uuid | None = Field(None, description="The snapshot policy to delete")
    ids: UuidList | None = Field(None, description="The snapshot policies to delete")

    @model_validator(mode="after")
    def _one_selection(self) -> Self:
        if self.id is None and self.ids is None:
            raise ValueError(invalid("id", "either id or ids must be specified").text)
        if self.id is not None and self.ids is not None:
            raise ValueError(invalid("ids", "give id or ids, not both").text)
        return self


@commands.command(
    "deleteSnapshotPolicies",
    DeleteSnapshotPoliciesParams,
    description="Deletes snapshot policies (the snapshots they took are kept)",
    allowed=ANYONE,
    response=SUCCESS,
)
async def delete_snapshot_policies(ctx: ServiceContext, p: DeleteSnapshotPoliciesParams) -> Success:
    if p.ids is not None:
        await snapshot_policies.delete_policies(ctx, p.ids, "ids")
    else:
        assert p.id is not None
        await snapshot_policies.delete_policies(ctx, [p.id], "id")
    return Success()
