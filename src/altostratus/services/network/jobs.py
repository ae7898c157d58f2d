"""The network jobs: store what the request checked (no host is involved at this level).

Networks, public addresses and security-group rules change in one recorded step each;
a body returns the uuid of the address or group it leaves behind (a deletion: nothing),
for the answer.
"""

from __future__ import annotations

from altostratus.jobs.kinds import JobKind, JobPayload
from altostratus.jobs.run import JobRun
from altostratus.services.network import addresses, networks, security_groups
from altostratus.services.network.security_groups import Direction, RuleSpec

__all__ = [
    "ASSOCIATE_ADDRESS",
    "AUTHORIZE",
    "DELETE_NETWORK",
    "DISASSOCIATE_ADDRESS",
    "REVOKE",
    "AddressPayload",
    "NetworkPayload",
    "RulePayload",
    "RulesPayload",
]


class NetworkPayload(JobPayload):
    #: The network's uuid.
    id: str


class AddressPayload(JobPayload):
    #: The public address's uuid.
    id: str


class RulesPayload(JobPayload):
    #: The security group's uuid.
    group: str
    direction: Direction
    rules: tuple[RuleSpec, ...]


class RulePayload(JobPayload):
    #: The rule's uuid.
    id: str


async def _delete_network(run: JobRun, payload: NetworkPayload) -> None:
    await run.step("delete", lambda ctx: networks.delete_network(ctx, payload.id))


async def _associate_address(run: JobRun, payload: AddressPayload) -> str:
    await run.step("associate", lambda ctx: addresses.complete_association(ctx, payload.id))
    return payload.id


async def _disassociate_address(run: JobRun, payload: AddressPayload) -> None:
    await run.step("release", lambda ctx: addresses.release(ctx, payload.id))


async def _authorize(run: JobRun, payload: RulesPayload) -> str:
    """The job of both authorize commands: add the rules to the group."""
    await run.step(
        "rules",
        lambda ctx: security_groups.add_rules(ctx, payload.group, payload.direction, payload.rules),
    )
    return payload.group


async def _revoke(run: JobRun, payload: RulePayload) -> None:
    await run.step("revoke", lambda ctx: security_groups.revoke_rule(ctx, payload.id))


DELETE_NETWORK = JobKind(NetworkPayload, _delete_network)
ASSOCIATE_ADDRESS = JobKind(AddressPayload, _associate_address)
DISASSOCIATE_ADDRESS = JobKind(AddressPayload, _disassociate_address)
#: One kind per direction, as each direction has its own command.
AUTHORIZE: dict[Direction, JobKind[RulesPayload, str]] = {
    "ingress": JobKind(RulesPayload, _authorize),
    "egress": JobKind(RulesPayload, _authorize),
}
REVOKE: dict[Direction, JobKind[RulePayload, None]] = {
    "ingress": JobKind(RulePayload, _revoke),
    "egress": JobKind(RulePayload, _revoke),
}
