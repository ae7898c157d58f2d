"""The region's management servers: listManagementServers (root admins, as in CloudStack)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from altostratus.api.declarations import ADMIN, CommandSet
from altostratus.api.params import ListParams, Strict, Uuid, page_request
from altostratus.api.results import ListResult, ResponseObject
from altostratus.core.context import ServiceContext
from altostratus.db.models import ManagementServer
from altostratus.db.models.servers import ServerState
from altostratus.ha import membership
from altostratus.timeutil import format_timestamp

__all__ = [
    "ListManagementServersParams",
    "ManagementServerResponse",
    "commands",
    "list_management_servers",
    "server_view",
]

commands = CommandSet()


class ManagementServerResponse(ResponseObject):
    id: str
    name: str
    state: str
    version: str
    serviceip: str
    #: The API address the server listens on (not in CloudStack).
    endpoint: str
    pythonversion: str
    osdistribution: str
    kernelversion: str
    lastserverstart: str
    lastserverstop: str | None = None
    #: The server's last membership heartbeat (not in CloudStack).
    lastheartbeat: str


def server_view(server: ManagementServer) -> ManagementServerResponse:
    return ManagementServerResponse(
        id=server.uuid,
        name=server.name,
        state=server.state,
        version=server.version,
        serviceip=server.service_ip,
        endpoint=server.endpoint,
        pythonversion=server.python_version,
        osdistribution=server.os_distribution,
        kernelversion=server.kernel_version,
        lastserverstart=format_timestamp(server.started),
        lastserverstop=format_timestamp(server.stopped) if server.stopped else None,
        lastheartbeat=format_timestamp(server.last_heartbeat),
    )


class ListManagementServersParams(ListParams):
    id: Uuid | None = Field(None, description="List the management server of this id")
    name: str | None = Field(None, max_length=255, description="List servers of this host name")
    state: Annotated[ServerState, Strict()] | None = Field(None, description="Up or Down")


@commands.command(
    "listManagementServers",
    ListManagementServersParams,
    description="Lists the region's management servers and whether each is Up",
    allowed=ADMIN,
    response=("managementserver", ManagementServerResponse),
    writes=False,
)
async def list_management_servers(
    ctx: ServiceContext, p: ListManagementServersParams
) -> ListResult:
    page = await membership.list_servers(
        ctx,
        uuid=p.id,
        name=p.name,
        state=p.state,
        keyword=p.keyword,
        page=page_request(ctx, p),
    )
    return ListResult(
        "managementserver", [server_view(server) for server in page.items], page.total
    )
