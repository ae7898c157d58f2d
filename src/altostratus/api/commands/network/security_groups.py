"""Security groups and their ingress and egress rules, as CloudStack's commands shape them.

Adding and removing rules are asynchronous commands in CloudStack (clients poll for
them), so they are here too: the request checks everything, the job
(``services.network.jobs``) stores the change.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import ip_network
from typing import Annotated

from pydantic import AfterValidator, Field

from altostratus.api.address_params import Name
from altostratus.api.commands.shared.tags import TagResponse, tag_view
from altostratus.api.declarations import ANYONE, SUCCESS, CommandSet, Job, answer_success
from altostratus.api.ownership import OwnedListParams, OwnerParams
from altostratus.api.params import CommaList, MapParam, Params, Uuid, page_request
from altostratus.api.results import ListResult, ResponseObject, Single, Submitted, Success
from altostratus.core.context import ServiceContext
from altostratus.db.models import ResourceTag, SecurityGroup, SecurityGroupRule
from altostratus.services.network import jobs as network_jobs
from altostratus.services.network import security_groups
from altostratus.services.network.security_groups import Direction
from altostratus.services.shared.tags import tags_of

__all__ = [
    "AuthorizeParams",
    "CreateSecurityGroupParams",
    "DeleteSecurityGroupParams",
    "ListSecurityGroupsParams",
    "RevokeParams",
    "SecurityGroupResponse",
    "SecurityGroupRuleResponse",
    "commands",
    "create_security_group",
    "delete_security_group",
    "list_security_groups",
    "security_group_view",
]

commands = CommandSet()


# --- responses ---


class SecurityGroupRuleResponse(ResponseObject):
    ruleid: str
    protocol: str
    startport: int | None = None
    endport: int | None = None
    icmptype: int | None = None
    icmpcode: int | None = None
    cidr: str | None = None
    #: The source group's account and name, for a rule allowing another group's members.
    account: str | None = None
    securitygroupname: str | None = None


def _rule_view(rule: SecurityGroupRule) -> SecurityGroupRuleResponse:
    source = rule.source_group
    return SecurityGroupRuleResponse(
        ruleid=rule.uuid,
        protocol=rule.protocol,
        startport=rule.start_port,
        endport=rule.end_port,
        icmptype=rule.icmp_type,
        icmpcode=rule.icmp_code,
        cidr=rule.cidr,
        account=source.account.name if source else None,
        securitygroupname=source.name if source else None,
    )


class SecurityGroupResponse(ResponseObject):
    id: str
    name: str
    description: str | None = None
    account: str
    domainid: str
    domain: str
    ingressrule: list[SecurityGroupRuleResponse]
    egressrule: list[SecurityGroupRuleResponse]
    virtualmachinecount: int | None = None
    tags: list[TagResponse]


def security_group_view(
    group: SecurityGroup, *, tags: Sequence[ResourceTag] = (), vm_count: int | None = None
) -> SecurityGroupResponse:
    def rules(direction: Direction) -> list[SecurityGroupRuleResponse]:
        return [_rule_view(rule) for rule in group.rules if rule.direction == direction]

    return SecurityGroupResponse(
        id=group.uuid,
        name=group.name,
        description=group.description,
        account=group.account.name,
        domainid=group.domain.uuid,
        domain=group.domain.name,
        ingressrule=rules("ingress"),
        egressrule=rules("egress"),
        virtualmachinecount=vm_count,
        tags=[tag_view(tag) for tag in tags],
    )


async def _views(
    ctx: ServiceContext, groups: Sequence[SecurityGroup]
) -> list[SecurityGroupResponse]:
    """Full views: with tags and the number of VMs using each group."""
    tags = await tags_of(ctx.session, security_groups.RESOURCE_TYPE, [g.uuid for g in groups])
    counts = await security_groups.vm_counts(ctx.session, [g.id for g in groups])
    return [
        security_group_view(group, tags=tags[group.uuid], vm_count=counts[group.id])
        for group in groups
    ]


# --- groups ---


class CreateSecurityGroupParams(OwnerParams):
    name: Name = Field(description="Name of the group; unique in the account, not 'default'")
    description: str | None = Field(None, max_length=4096, description="What the group is for")


@commands.command(
    "createSecurityGroup",
    CreateSecurityGroupParams,
    description="Creates a security group",
    allowed=ANYONE,
    response=("securitygroup", SecurityGroupResponse),
    related=("listSecurityGroups",),
)
async def create_security_group(ctx: ServiceContext, p: CreateSecurityGroupParams) -> Single:
    group = await security_groups.create_group(
        ctx,
        name=p.name,
        description=p.description,
        account=p.account,
        domain_uuid=p.domainid,
        project_uuid=p.projectid,
    )
    return Single("securitygroup", (await _views(ctx, [group]))[0])


class DeleteSecurityGroupParams(OwnerParams):
    id: Uuid | None = Field(None, description="The group to delete; or give name")
    name: str | None = Field(None, max_length=255, description="The name of the group to delete")


@commands.command(
    "deleteSecurityGroup",
    DeleteSecurityGroupParams,
    description="Deletes a security group no VM uses",
    allowed=ANYONE,
    response=SUCCESS,
)
async def delete_security_group(ctx: ServiceContext, p: DeleteSecurityGroupParams) -> Success:
    group = await security_groups.find_group(
        ctx,
        group_uuid=p.id,
        name=p.name,
        account=p.account,
        domain_uuid=p.domainid,
        project_uuid=p.projectid,
    )
    await security_groups.delete_group(ctx, group)
    return Success()


class ListSecurityGroupsParams(OwnedListParams):
    id: Uuid | None = Field(None, description="List the group of this id")
    securitygroupname: str | None = Field(None, max_length=255, description="List by name")
    virtualmachineid: Uuid | None = Field(None, description="List the groups of this VM")
    tags: MapParam | None = Field(None, description="List groups with these tags (key, value)")


@commands.command(
    "listSecurityGroups",
    ListSecurityGroupsParams,
    description="Lists security groups",
    allowed=ANYONE,
    response=("securitygroup", SecurityGroupResponse),
    # Writes: the caller's ``default`` group is created on first sight, as every
    # account has one.
)
async def list_security_groups(ctx: ServiceContext, p: ListSecurityGroupsParams) -> ListResult:
    page = await security_groups.list_groups(
        ctx,
        group_uuid=p.id,
        name=p.securitygroupname,
        vm_uuid=p.virtualmachineid,
        tags=p.tags or [],
        keyword=p.keyword,
        scope=p.scope(),
        page=page_request(ctx, p),
    )
    return ListResult("securitygroup", await _views(ctx, page.items), page.total)


# --- rules ---


def _cidrs(values: list[str]) -> list[str]:
    try:
        return [str(ip_network(value, strict=False)) for value in values]
    except ValueError as exc:
        raise ValueError(f"not a list of CIDRs such as 0.0.0.0/0: {exc}") from None


CidrList = Annotated[CommaList, AfterValidator(_cidrs)]


class AuthorizeParams(OwnerParams):
    securitygroupid: Uuid | None = Field(None, description="The group; or give securitygroupname")
    securitygroupname: str | None = Field(
        None, max_length=255, description="The name of the group (in the caller's account)"
    )
    protocol: str = Field(max_length=16, description="tcp, udp, icmp, all or a protocol number")
    startport: int | None = Field(None, ge=0, le=65535, description="First port (tcp, udp)")
    endport: int | None = Field(
        None, ge=0, le=65535, description="Last port (tcp, udp; default: startport)"
    )
    icmptype: int | None = Field(None, ge=-1, le=255, description="ICMP type; -1 for all")
    icmpcode: int | None = Field(None, ge=-1, le=255, description="ICMP code; -1 for all")
    cidrlist: CidrList | None = Field(None, description="Source (or destination) CIDRs")
    usersecuritygrouplist: MapParam | None = Field(
        None, description="Other groups' members: usersecuritygrouplist[i].account and .group"
    )

    def request(self) -> security_groups.RuleRequest:
        return security_groups.RuleRequest(
            protocol=self.protocol,
            start_port=self.startport,
            end_port=self.endport,
            icmp_type=self.icmptype,
            icmp_code=self.icmpcode,
            cidrs=tuple(self.cidrlist or ()),
            user_groups=tuple(self.usersecuritygrouplist or ()),
        )


async def _authorize(ctx: ServiceContext, p: AuthorizeParams, direction: Direction) -> Submitted:
    group = await security_groups.find_group(
        ctx,
        group_uuid=p.securitygroupid,
        name=p.securitygroupname,
        account=p.account,
        domain_uuid=p.domainid,
        project_uuid=p.projectid,
        parameters=("securitygroupid", "securitygroupname"),
    )
    specs = await security_groups.rule_specs(ctx, group, p.request())
    return Submitted(
        network_jobs.RulesPayload(group=group.uuid, direction=direction, rules=tuple(specs)),
        instance_type="SecurityGroup",
        instance_uuid=group.uuid,
    )


async def _group_answer(ctx: ServiceContext, group_uuid: str) -> Single:
    group = await security_groups.find_group(
        ctx, group_uuid=group_uuid, name=None, account=None, domain_uuid=None
    )
    return Single("securitygroup", (await _views(ctx, [group]))[0])


class RevokeParams(Params):
    id: Uuid = Field(description="The rule to remove")


async def _revoke(ctx: ServiceContext, p: RevokeParams, direction: Direction) -> Submitted:
    rule = await security_groups.get_rule(ctx, p.id, direction)
    return Submitted(network_jobs.RulePayload(id=rule.uuid))


_AUTHORIZE: dict[Direction, str] = {
    "ingress": "authorizeSecurityGroupIngress",
    "egress": "authorizeSecurityGroupEgress",
}
_REVOKE: dict[Direction, str] = {
    "ingress": "revokeSecurityGroupIngress",
    "egress": "revokeSecurityGroupEgress",
}


def _declare(direction: Direction) -> None:
    """The authorize and revoke commands (and their jobs) of one direction."""
    traffic = "incoming" if direction == "ingress" else "outgoing"

    async def authorize(ctx: ServiceContext, p: AuthorizeParams) -> Submitted:
        return await _authorize(ctx, p, direction)

    async def revoke(ctx: ServiceContext, p: RevokeParams) -> Submitted:
        return await _revoke(ctx, p, direction)

    commands.command(
        _AUTHORIZE[direction],
        AuthorizeParams,
        description=f"Allows {traffic} traffic for the members of a security group",
        allowed=ANYONE,
        response=("securitygroup", SecurityGroupResponse),
        related=("listSecurityGroups",),
        job=Job(network_jobs.AUTHORIZE[direction], _group_answer),
    )(authorize)
    commands.command(
        _REVOKE[direction],
        RevokeParams,
        description=f"Removes a rule allowing {traffic} traffic from its security group",
        allowed=ANYONE,
        response=SUCCESS,
        job=Job(network_jobs.REVOKE[direction], answer_success),
    )(revoke)


_declare("ingress")
_declare("egress")
