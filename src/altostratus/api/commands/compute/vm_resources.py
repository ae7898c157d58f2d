"""What a VM runs with and where: its service offering (changed or scaled) and its host.

``changeServiceForVirtualMachine`` changes a Stopped VM's offering at once;
``scaleVirtualMachine`` does the same for a Stopped VM and, asynchronously, resizes a
Running one that is dynamically scalable (``services.compute.scaling``).
``migrateVirtualMachine`` moves a Running VM to another host of its cluster
(``services.compute.migration``).
"""

from __future__ import annotations

from pydantic import Field

from altostratus.api.commands.compute.vms import (
    VirtualMachineResponse,
    single_vm,
    submitted,
    vm_answer,
)
from altostratus.api.declarations import ADMIN, ANYONE, CommandSet, Job
from altostratus.api.params import MapParam, Params, Uuid
from altostratus.api.results import Single, Submitted
from altostratus.core.context import ServiceContext
from altostratus.errors import invalid
from altostratus.services.compute import jobs as vm_jobs
from altostratus.services.compute import migration, scaling
from altostratus.services.compute.vms import get_vm

__all__ = [
    "ChangeOfferingParams",
    "MigrateParams",
    "change_service_offering",
    "commands",
    "migrate_virtual_machine",
    "scale_virtual_machine",
]

commands = CommandSet()


class ChangeOfferingParams(Params):
    id: Uuid = Field(description="The VM")
    serviceofferingid: Uuid = Field(description="Its new service offering")
    details: MapParam | None = Field(
        None, description="Custom CPU and memory of a custom offering (not supported)"
    )

    def offering(self) -> str:
        """The offering's uuid; ``details`` would size a custom offering, which we lack."""
        if self.details:
            raise invalid("details", "custom offerings are not supported: choose a sized one")
        return self.serviceofferingid


@commands.command(
    "changeServiceForVirtualMachine",
    ChangeOfferingParams,
    description="Changes the service offering of a Stopped VM (from its next start)",
    allowed=ANYONE,
    response=("virtualmachine", VirtualMachineResponse),
    related=("scaleVirtualMachine",),
)
async def change_service_offering(ctx: ServiceContext, p: ChangeOfferingParams) -> Single:
    vm = await get_vm(ctx, p.id)
    await scaling.change_offering(ctx, vm, p.offering())
    return await single_vm(ctx, vm)


@commands.command(
    "scaleVirtualMachine",
    ChangeOfferingParams,
    description="Scales a VM to a new service offering: a Stopped one, or a Running one "
    "that is dynamically scalable (up only, if its host has room)",
    allowed=ANYONE,
    response=("virtualmachine", VirtualMachineResponse),
    related=("changeServiceForVirtualMachine",),
    job=Job(vm_jobs.SCALE, vm_answer),
)
async def scale_virtual_machine(ctx: ServiceContext, p: ChangeOfferingParams) -> Submitted:
    vm = await get_vm(ctx, p.id)
    resize = await scaling.scale_on_request(ctx, vm, p.offering())
    return submitted(vm_jobs.ScalePayload(id=vm.uuid, resize=resize))


class MigrateParams(Params):
    virtualmachineid: Uuid = Field(description="The Running VM to move")
    hostid: Uuid | None = Field(
        None, description="The host to move it to (default: the scheduler picks one)"
    )


@commands.command(
    "migrateVirtualMachine",
    MigrateParams,
    description="Moves a Running VM to another host of its cluster",
    allowed=ADMIN,
    response=("virtualmachine", VirtualMachineResponse),
    related=("listHosts",),
    job=Job(vm_jobs.MIGRATE, vm_answer),
)
async def migrate_virtual_machine(ctx: ServiceContext, p: MigrateParams) -> Submitted:
    vm = await get_vm(ctx, p.virtualmachineid, "virtualmachineid")
    move = await migration.migrate_on_request(ctx, vm, p.hostid)
    return submitted(vm_jobs.MigratePayload(id=vm.uuid, move=move))
