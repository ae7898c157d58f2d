"""Deleting accounts and domains with everything they own: ``deleteAccount``'s and
``deleteDomain cleanup=true``'s jobs.

As CloudStack does, the request only checks and disables the accounts
(``identity.accounts.start_account_deletion``, ``identity.domains.start_domain_deletion``);
the job then

1. destroys and expunges every VM of the accounts through ordinary
   ``destroyVirtualMachine expunge=true`` jobs (one code path for the VM state machine,
   capacity, host commands and events), and waits for them;
2. in one step, deletes what the accounts still own: data disks (their hosts delete the
   files), snapshots, addresses, isolated networks, security groups with their rules,
   key pairs, affinity groups, tags, resource limits, the rows of expunged VMs, the
   accounts' project memberships and, for project accounts, their projects;
3. removes the accounts with their users, and for a domain the domains of the subtree
   with their limits: global rows, replicated to every region as tombstones (a
   project's account is regional: ``deleteProject``'s job, ``compute.projects``, ends
   here too, and no tombstone is logged for it).

It lives in compute because destroying VMs is compute's; the rows it deletes belong to
the domains below it. A template of the account that other accounts' VMs still use is
kept, retired, and handed to the admin who deleted the account: those VMs point at it.
If a VM cannot be expunged the job fails before anything else is deleted; the accounts
stay disabled and the command may be called again.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, delete, func, or_, select, update

from altostratus.core.context import ServiceContext
from altostratus.db.models import (
    Account,
    AffinityGroup,
    AsyncJob,
    InstanceGroup,
    IpAddress,
    Network,
    Nic,
    Project,
    ProjectMember,
    ResourceLimit,
    ResourceTag,
    SecurityGroup,
    SecurityGroupRule,
    Snapshot,
    SnapshotPolicy,
    SshKeyPair,
    Template,
    VirtualMachine,
    VmSnapshot,
    Volume,
)
from altostratus.db.models.compute import VmState, VolumeType
from altostratus.db.models.network import vm_security_groups
from altostratus.db.models.tenancy import affinity_group_members
from altostratus.errors import ResourceUnavailable
from altostratus.jobs.kinds import JobKind, JobPayload
from altostratus.jobs.run import JobRun
from altostratus.jobs.status import JobStatus
from altostratus.services.compute import jobs as vm_jobs
from altostratus.services.compute import lifecycle
from altostratus.services.identity import accounts, domains
from altostratus.services.infrastructure.jobs import watch
from altostratus.services.shared import async_jobs
from altostratus.services.storage import volumes
from altostratus.timeutil import utcnow

__all__ = [
    "DELETE_ACCOUNT",
    "DELETE_DOMAIN",
    "AccountPayload",
    "DomainPayload",
    "expunge_vms",
    "remove_accounts",
    "remove_domain_tree",
    "remove_owned",
    "submit_destroys",
]

#: VMs a destroy job can take now; the transitional ones are waited for.
_DESTROYABLE = (*lifecycle.DESTROYABLE, VmState.DESTROYED)


class AccountPayload(JobPayload):
    #: The account's uuid.
    id: str


class DomainPayload(JobPayload):
    #: The domain's uuid.
    id: str
    #: Its accounts and those of its sub-domains, disabled by the request.
    account_ids: tuple[str, ...]


async def _account_ids(ctx: ServiceContext, account_uuids: Sequence[str]) -> list[int]:
    return list(
        await ctx.session.scalars(select(Account.id).where(Account.uuid.in_(account_uuids)))
    )


def _live_vms(account_ids: Sequence[int]) -> list[ColumnElement[bool]]:
    return [VirtualMachine.account_id.in_(account_ids), VirtualMachine.removed.is_(None)]


async def submit_destroys(ctx: ServiceContext, account_uuids: list[str]) -> list[str]:
    """One ``destroyVirtualMachine expunge=true`` job per VM of the accounts; their ids."""
    ids = await _account_ids(ctx, account_uuids)
    submitted = []
    for vm_uuid in await ctx.session.scalars(
        select(VirtualMachine.uuid).where(*_live_vms(ids), VirtualMachine.state.in_(_DESTROYABLE))
    ):
        vm, _ = await lifecycle.start_destroy(ctx, vm_uuid, expunge=True)
        job = await async_jobs.submit(
            ctx,
            vm_jobs.DESTROY,
            vm_jobs.DestroyPayload(id=vm.uuid, expunge=True),
            instance_type="VirtualMachine",
            instance_uuid=vm.uuid,
        )
        submitted.append(job.uuid)
    return submitted


async def _settled(ctx: ServiceContext, account_uuids: list[str], job_uuids: list[str]) -> bool:
    """No VM of the accounts is left, or none of the destroy jobs is still running."""
    ids = await _account_ids(ctx, account_uuids)
    live = await ctx.session.scalar(select(func.count()).where(*_live_vms(ids)))
    pending = await ctx.session.scalar(
        select(func.count()).where(
            AsyncJob.uuid.in_(job_uuids), AsyncJob.status == JobStatus.PENDING
        )
    )
    return not live or not pending


async def _require_no_vms(ctx: ServiceContext, account_ids: Sequence[int]) -> None:
    left = list(
        await ctx.session.execute(
            select(VirtualMachine.name, VirtualMachine.state).where(*_live_vms(account_ids))
        )
    )
    if left:
        named = ", ".join(f"{name} ({state})" for name, state in left)
        raise ResourceUnavailable(
            f"Could not expunge every VM of the account(s): {named}; nothing else was "
            "deleted, call the command again"
        )


async def remove_owned(ctx: ServiceContext, account_uuids: list[str]) -> None:
    """Delete everything the accounts own (their VMs are expunged), in foreign-key order."""
    ids = await _account_ids(ctx, account_uuids)
    await _require_no_vms(ctx, ids)
    session = ctx.session
    vms = select(VirtualMachine.id).where(VirtualMachine.account_id.in_(ids))
    owned_volumes = select(Volume.id).where(or_(Volume.account_id.in_(ids), Volume.vm_id.in_(vms)))
    groups = select(SecurityGroup.id).where(SecurityGroup.account_id.in_(ids))
    networks = select(Network.id).where(Network.account_id.in_(ids))
    projects = select(Project.id).where(Project.account_id.in_(ids))
    for disk in await session.scalars(
        select(Volume).where(
            Volume.account_id.in_(ids), Volume.type == VolumeType.DATADISK, Volume.removed.is_(None)
        )
    ):
        await volumes.retire_disk(ctx, disk)
    statements = [
        delete(ResourceTag).where(ResourceTag.account_id.in_(ids)),
        delete(Snapshot).where(
            or_(Snapshot.account_id.in_(ids), Snapshot.volume_id.in_(owned_volumes))
        ),
        delete(Nic).where(or_(Nic.vm_id.in_(vms), Nic.network_id.in_(networks))),
        delete(IpAddress).where(
            or_(
                IpAddress.account_id.in_(ids),
                IpAddress.vm_id.in_(vms),
                IpAddress.network_id.in_(networks),
            )
        ),
        delete(affinity_group_members).where(affinity_group_members.c.vm_id.in_(vms)),
        delete(vm_security_groups).where(
            or_(
                vm_security_groups.c.vm_id.in_(vms),
                vm_security_groups.c.security_group_id.in_(groups),
            )
        ),
        delete(SnapshotPolicy).where(SnapshotPolicy.volume_id.in_(owned_volumes)),
        delete(Volume).where(Volume.id.in_(owned_volumes)),
        delete(VmSnapshot).where(VmSnapshot.account_id.in_(ids)),
        delete(VirtualMachine).where(VirtualMachine.account_id.in_(ids)),
        delete(InstanceGroup).where(InstanceGroup.account_id.in_(ids)),
        delete(Network).where(Network.id.in_(networks)),
        delete(SecurityGroupRule).where(
            or_(
                SecurityGroupRule.security_group_id.in_(groups),
                SecurityGroupRule.source_group_id.in_(groups),
            )
        ),
        delete(SecurityGroup).where(SecurityGroup.id.in_(groups)),
        delete(SshKeyPair).where(SshKeyPair.account_id.in_(ids)),
        delete(AffinityGroup).where(AffinityGroup.account_id.in_(ids)),
        delete(ResourceLimit).where(ResourceLimit.account_id.in_(ids)),
        # Memberships of the accounts, and the projects whose accounts these are.
        delete(ProjectMember).where(
            or_(ProjectMember.account_id.in_(ids), ProjectMember.project_id.in_(projects))
        ),
        delete(Project).where(Project.account_id.in_(ids)),
    ]
    for statement in statements:
        await session.execute(statement.execution_options(synchronize_session=False))
    await _settle_templates(ctx, ids)


async def _settle_templates(ctx: ServiceContext, account_ids: Sequence[int]) -> None:
    """Delete the accounts' templates; hand those others' VMs still use to the caller."""
    used = select(VirtualMachine.template_id).union(
        select(Volume.template_id).where(Volume.template_id.is_not(None))
    )
    owned = Template.account_id.in_(account_ids)
    await ctx.session.execute(
        update(Template)
        .where(owned, Template.id.in_(used))
        .values(
            account_id=ctx.caller.account_id,
            domain_id=ctx.caller.domain_id,
            removed=func.coalesce(Template.removed, utcnow()),
        )
        .execution_options(synchronize_session=False)
    )
    await ctx.session.execute(
        delete(Template).where(owned).execution_options(synchronize_session=False)
    )


async def remove_accounts(ctx: ServiceContext, account_uuids: list[str]) -> None:
    """The last step of ``deleteAccount``: what the accounts own, then the accounts."""
    await remove_owned(ctx, account_uuids)
    for account in await ctx.session.scalars(
        select(Account).where(Account.uuid.in_(account_uuids)).order_by(Account.id)
    ):
        await accounts.remove_account(ctx, account)


async def expunge_vms(run: JobRun, account_uuids: list[str]) -> None:
    """Destroy and expunge every VM of the accounts (steps of the running job)."""
    destroy_jobs = await run.step("destroy", lambda ctx: submit_destroys(ctx, account_uuids))
    run.deps.signals.jobs_submitted()
    within = 2 * run.deps.settings.agent_command_timeout + 10
    await watch(run, lambda ctx: _settled(ctx, account_uuids, destroy_jobs), within)


async def remove_domain_tree(ctx: ServiceContext, deletion: domains.DomainDeletion) -> None:
    """The last step of ``deleteDomain``: its accounts as above, then the domains."""
    await remove_accounts(ctx, deletion.account_uuids)
    await domains.remove_domain(ctx, deletion.domain_uuid)


async def _delete_account(run: JobRun, payload: AccountPayload) -> None:
    account_uuids = [payload.id]
    await expunge_vms(run, account_uuids)
    await run.step("removed", lambda ctx: remove_accounts(ctx, account_uuids))


async def _delete_domain(run: JobRun, payload: DomainPayload) -> None:
    deletion = domains.DomainDeletion(payload.id, list(payload.account_ids))
    if deletion.account_uuids:
        await expunge_vms(run, deletion.account_uuids)
    await run.step("removed", lambda ctx: remove_domain_tree(ctx, deletion))


DELETE_ACCOUNT = JobKind(AccountPayload, _delete_account)
DELETE_DOMAIN = JobKind(DomainPayload, _delete_domain)
