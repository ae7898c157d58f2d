"""Pod commands: root admins only, as pods are the physical layout of a zone."""

from __future__ import annotations

from pydantic import Field

from altostratus.api.address_params import Ipv4, Name, Netmask
from altostratus.api.declarations import ADMIN, SUCCESS, CommandSet
from altostratus.api.params import DeleteParams, ListParams, Params, Uuid, page_request
from altostratus.api.results import ListResult, ResponseObject, Single, Success
from altostratus.core.context import ServiceContext
from altostratus.db.models import Pod
from altostratus.db.models.inventory import (
    AllocationState,
)
from altostratus.services.infrastructure import pods
from altostratus.services.infrastructure.pods import PodNetwork

__all__ = [
    "CreatePodParams",
    "ListPodsParams",
    "PodResponse",
    "UpdatePodParams",
    "commands",
    "create_pod",
    "delete_pod",
    "list_pods",
    "pod_view",
    "update_pod",
]

commands = CommandSet()


class PodResponse(ResponseObject):
    id: str
    name: str
    zoneid: str
    zonename: str
    gateway: str
    netmask: str
    startip: str | None = None
    endip: str | None = None
    allocationstate: str


def pod_view(pod: Pod) -> PodResponse:
    return PodResponse(
        id=pod.uuid,
        name=pod.name,
        zoneid=pod.zone.uuid,
        zonename=pod.zone.name,
        gateway=pod.gateway,
        netmask=pod.netmask,
        startip=pod.start_ip,
        endip=pod.end_ip,
        allocationstate=pod.allocation_state,
    )


class CreatePodParams(Params):
    zoneid: Uuid = Field(description="The zone of the pod")
    name: Name = Field(description="Name of the pod; unique in its zone")
    gateway: Ipv4 = Field(description="Gateway of the pod's management subnet")
    netmask: Netmask = Field(description="Netmask of the pod's management subnet")
    startip: Ipv4 | None = Field(None, description="First address the cloud may use")
    endip: Ipv4 | None = Field(
        None, description="Last address the cloud may use (default: the subnet's last)"
    )
    allocationstate: AllocationState | None = Field(None, description="Enabled or Disabled")


@commands.command(
    "createPod",
    CreatePodParams,
    description="Creates a pod in a zone",
    allowed=ADMIN,
    response=("pod", PodResponse),
    related=("listPods",),
)
async def create_pod(ctx: ServiceContext, p: CreatePodParams) -> Single:
    pod = await pods.create_pod(
        ctx,
        zone_uuid=p.zoneid,
        name=p.name,
        network=PodNetwork(p.gateway, p.netmask, p.startip, p.endip),
        allocation_state=p.allocationstate,
    )
    return Single("pod", pod_view(pod))


class UpdatePodParams(Params):
    id: Uuid = Field(description="The pod to update")
    name: Name | None = Field(None, description="New name of the pod")
    gateway: Ipv4 | None = Field(None, description="Gateway of the pod's management subnet")
    netmask: Netmask | None = Field(None, description="Netmask of the pod's management subnet")
    startip: Ipv4 | None = Field(None, description="First address the cloud may use")
    endip: Ipv4 | None = Field(None, description="Last address the cloud may use")
    allocationstate: AllocationState | None = Field(None, description="Enabled or Disabled")


@commands.command(
    "updatePod",
    UpdatePodParams,
    description="Updates a pod",
    allowed=ADMIN,
    response=("pod", PodResponse),
    related=("listPods",),
)
async def update_pod(ctx: ServiceContext, p: UpdatePodParams) -> Single:
    pod = await pods.update_pod(
        ctx,
        pod_uuid=p.id,
        name=p.name,
        gateway=p.gateway,
        netmask=p.netmask,
        start_ip=p.startip,
        end_ip=p.endip,
        allocation_state=p.allocationstate,
    )
    return Single("pod", pod_view(pod))


@commands.command(
    "deletePod",
    DeleteParams,
    description="Deletes a pod that has no clusters",
    allowed=ADMIN,
    response=SUCCESS,
)
async def delete_pod(ctx: ServiceContext, p: DeleteParams) -> Success:
    await pods.delete_pod(ctx, pod_uuid=p.id)
    return Success()


class ListPodsParams(ListParams):
    id: Uuid | None = Field(None, description="List the pod of this id")
    name: str | None = Field(None, max_length=255, description="List pods of this name")
    zoneid: Uuid | None = Field(None, description="List the pods of this zone")
    allocationstate: AllocationState | None = Field(None, description="Enabled or Disabled")


@commands.command(
    "listPods",
    ListPodsParams,
    description="Lists pods",
    allowed=ADMIN,
    response=("pod", PodResponse),
    writes=False,
)
async def list_pods(ctx: ServiceContext, p: ListPodsParams) -> ListResult:
    page = await pods.list_pods(
        ctx,
        pod_uuid=p.id,
        name=p.name,
        zone_uuid=p.zoneid,
        allocation_state=p.allocationstate,
        keyword=p.keyword,
        page=page_request(ctx, p),
    )
    return ListResult("pod", [pod_view(pod) for pod in page.items], page.total)
