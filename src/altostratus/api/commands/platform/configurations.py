"""Configuration commands: the settings that may change at run time, per scope."""

from __future__ import annotations

from pydantic import Field

from altostratus.api.declarations import ADMINS, CommandSet
from altostratus.api.params import ListParams, Params, Uuid, page_request
from altostratus.api.results import ListResult, ResponseObject, Single
from altostratus.core.context import ServiceContext
from altostratus.services.shared import configurations
from altostratus.services.shared.configurations import Configuration, ScopeRef

__all__ = [
    "ConfigurationGroupResponse",
    "ConfigurationResponse",
    "ConfigurationSubGroupResponse",
    "ListConfigurationGroupsParams",
    "ListConfigurationsParams",
    "ResetConfigurationParams",
    "ScopeParams",
    "UpdateConfigurationParams",
    "commands",
    "configuration_view",
    "list_configuration_groups",
    "list_configurations",
    "reset_configuration",
    "update_configuration",
]

commands = CommandSet()


class ConfigurationResponse(ResponseObject):
    category: str
    name: str
    value: str
    defaultvalue: str
    description: str
    isdynamic: bool
    scope: str
    type: str
    displaytext: str
    group: str
    subgroup: str


def configuration_view(config: Configuration) -> ConfigurationResponse:
    return ConfigurationResponse(
        category=config.meta.category,
        name=config.name,
        value=config.value,
        defaultvalue=config.default,
        description=config.description,
        # Every configuration here applies from the next request on, without a restart.
        isdynamic=True,
        scope=config.scope,
        type=config.type,
        displaytext=config.name.replace(".", " ").capitalize(),
        group=config.meta.group,
        subgroup=config.meta.subgroup,
    )


class ScopeParams(Params):
    """At most one scope; none means the region's (``global``) value."""

    zoneid: Uuid | None = Field(None, description="The zone's value (root admins)")
    clusterid: Uuid | None = Field(None, description="The cluster's value (root admins)")
    domainid: Uuid | None = Field(None, description="The domain's value")
    accountid: Uuid | None = Field(None, description="The account's value")

    def ref(self) -> ScopeRef:
        return ScopeRef(
            zone_uuid=self.zoneid,
            cluster_uuid=self.clusterid,
            domain_uuid=self.domainid,
            account_uuid=self.accountid,
        )


class ListConfigurationsParams(ListParams, ScopeParams):
    name: str | None = Field(None, max_length=255, description="Configurations whose name has this")
    category: str | None = Field(None, max_length=255, description="Configurations of a category")
    group: str | None = Field(None, max_length=255, description="Configurations of a group")
    subgroup: str | None = Field(None, max_length=255, description="Configurations of a subgroup")


@commands.command(
    "listConfigurations",
    ListConfigurationsParams,
    description="Lists the settings that may change at run time, with their values in a scope",
    allowed=ADMINS,
    response=("configuration", ConfigurationResponse),
    writes=False,
)
async def list_configurations(ctx: ServiceContext, p: ListConfigurationsParams) -> ListResult:
    found = await configurations.list_configurations(
        ctx,
        ref=p.ref(),
        name=p.name,
        category=p.category,
        group=p.group,
        subgroup=p.subgroup,
        keyword=p.keyword,
    )
    page = page_request(ctx, p).slice(found)
    return ListResult("configuration", [configuration_view(c) for c in page], len(found))


class UpdateConfigurationParams(ScopeParams):
    name: str = Field(min_length=1, max_length=255, description="The configuration to change")
    value: str = Field(max_length=4096, description="Its new value, checked against its type")


@commands.command(
    "updateConfiguration",
    UpdateConfigurationParams,
    description="Changes a setting for the region, a zone, a cluster, a domain or an account",
    allowed=ADMINS,
    response=("configuration", ConfigurationResponse),
    related=("listConfigurations",),
)
async def update_configuration(ctx: ServiceContext, p: UpdateConfigurationParams) -> Single:
    config = await configurations.update_configuration(ctx, name=p.name, value=p.value, ref=p.ref())
    return Single("configuration", configuration_view(config))


class ResetConfigurationParams(ScopeParams):
    name: str = Field(min_length=1, max_length=255, description="The configuration to reset")


@commands.command(
    "resetConfiguration",
    ResetConfigurationParams,
    description="Removes a scope's value of a setting: the broader scope's value holds again",
    allowed=ADMINS,
    response=("configuration", ConfigurationResponse),
    related=("listConfigurations",),
)
async def reset_configuration(ctx: ServiceContext, p: ResetConfigurationParams) -> Single:
    config = await configurations.reset_configuration(ctx, name=p.name, ref=p.ref())
    return Single("configuration", configuration_view(config))


class ConfigurationSubGroupResponse(ResponseObject):
    name: str
    precedence: int


class ConfigurationGroupResponse(ResponseObject):
    name: str
    description: str
    precedence: int
    subgroup: list[ConfigurationSubGroupResponse]


class ListConfigurationGroupsParams(ListParams):
    name: str | None = Field(None, max_length=255, description="The group of this name")


@commands.command(
    "listConfigurationGroups",
    ListConfigurationGroupsParams,
    description="Lists the groups and subgroups of the configurations",
    allowed=ADMINS,
    response=("configurationgroup", ConfigurationGroupResponse),
    writes=False,
)
async def list_configuration_groups(
    ctx: ServiceContext, p: ListConfigurationGroupsParams
) -> ListResult:
    views = [
        ConfigurationGroupResponse(
            name=name,
            description=f"{name} settings",
            precedence=precedence,
            subgroup=[
                ConfigurationSubGroupResponse(name=sub, precedence=order)
                for order, sub in enumerate(subs, start=1)
            ],
        )
        for precedence, (name, subs) in enumerate(configurations.groups(), start=1)
        if p.name is None or p.name.lower() == name.lower()
    ]
    page = page_request(ctx, p).slice(views)
    return ListResult("configurationgroup", list(page), len(views))
