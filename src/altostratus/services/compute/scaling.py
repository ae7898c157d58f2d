"""A VM's new service offering: ``changeServiceForVirtualMachine`` and ``scaleVirtualMachine``.

A Stopped VM takes any offering the caller may use (its capacity is reserved at the
next start, where the scheduler checks it). A Running VM is scaled in place only where
CloudStack allows it: its zone has ``enable.dynamic.scale.vm`` (off by default), it was
deployed or updated as dynamically scalable (``isdynamicallyscalable``) and the new
offering has ``dynamicscalingenabled``; and only up: its host must have room for the difference,
which the request reserves, so two scalings cannot both take the host's last room.
The VM's row carries the new size at once; the job (``compute.jobs``) asks its host to
apply it, and gives the difference back and restores the old size if the host refuses.
Either way the account's limits are checked on the difference.
"""

from __future__ import annotations

from dataclasses import dataclass

from altostratus.core.configuration import overrides_in
from altostratus.core.context import ServiceContext
from altostratus.db.models import ServiceOffering, VirtualMachine
from altostratus.db.models.compute import VmState
from altostratus.errors import InsufficientCapacity, InvalidParameter, invalid
from altostratus.services.catalog import offerings
from altostratus.services.compute import lifecycle
from altostratus.services.compute.vms import update_if, vm_by_uuid
from altostratus.services.infrastructure import reservations
from altostratus.services.shared import limits
from altostratus.services.shared.limits import ResourceType

__all__ = ["Resize", "Size", "change_offering", "scale_failed", "scale_on_request"]


@dataclass(frozen=True)
class Size:
    """What a VM reserves: the offering it has and the CPU and memory that come with it."""

    offering_id: int
    cpu_number: int
    cpu_speed: int
    memory_mb: int

    @classmethod
    def of(cls, vm: VirtualMachine) -> Size:
        return cls(vm.service_offering_id, vm.cpu_number, vm.cpu_speed, vm.memory_mb)

    @classmethod
    def offered(cls, offering: ServiceOffering) -> Size:
        return cls(offering.id, offering.cpu_number, offering.cpu_speed, offering.memory_mb)

    @property
    def cpu_mhz(self) -> int:
        return self.cpu_number * self.cpu_speed


@dataclass(frozen=True)
class Resize:
    """A Running VM's scaling, for its job: the host it holds capacity on, before and after."""

    host_id: int
    old: Size
    new: Size


async def _new_offering(ctx: ServiceContext, vm: VirtualMachine, uuid: str) -> ServiceOffering:
    offering = await offerings.get_service_offering(ctx, uuid)
    if offering.id == vm.service_offering_id:
        raise invalid(
            "serviceofferingid",
            f"VM {vm.name} already has service offering {offering.name}",
            value=uuid,
        )
    return offering


async def _check_limits(ctx: ServiceContext, vm: VirtualMachine, new: Size) -> None:
    """532 if the account's limits cannot take the growth (shrinking always fits)."""
    await limits.check(
        ctx.session,
        vm.account_id,
        {
            ResourceType.CPU: new.cpu_number - vm.cpu_number,
            ResourceType.MEMORY: new.memory_mb - vm.memory_mb,
        },
    )


def _apply(vm: VirtualMachine, size: Size) -> None:
    vm.service_offering_id = size.offering_id
    vm.cpu_number, vm.cpu_speed, vm.memory_mb = size.cpu_number, size.cpu_speed, size.memory_mb


async def _resize_if_running(
    ctx: ServiceContext, vm: VirtualMachine, host_id: int, old: Size, new: Size
) -> bool:
    """``old`` → ``new`` in one conditional UPDATE: only if it still runs there at ``old``."""
    return await update_if(
        ctx.session,
        vm,
        (
            VirtualMachine.state == VmState.RUNNING,
            VirtualMachine.host_id == host_id,
            VirtualMachine.service_offering_id == old.offering_id,
        ),
        service_offering_id=new.offering_id,
        cpu_number=new.cpu_number,
        cpu_speed=new.cpu_speed,
        memory_mb=new.memory_mb,
    )


async def change_offering(ctx: ServiceContext, vm: VirtualMachine, offering_uuid: str) -> None:
    """changeServiceForVirtualMachine: a Stopped VM takes the offering from its next start."""
    lifecycle.require_state(vm, (VmState.STOPPED,), "change the service offering of")
    offering = await _new_offering(ctx, vm, offering_uuid)
    new = Size.offered(offering)
    await _check_limits(ctx, vm, new)
    _apply(vm, new)
    await ctx.session.flush()
    await ctx.session.refresh(vm)
    await lifecycle.record_vm_event(ctx, vm, "VM.UPGRADE", f"Changed to offering {offering.name}:")


async def scale_on_request(
    ctx: ServiceContext, vm: VirtualMachine, offering_uuid: str
) -> Resize | None:
    """scaleVirtualMachine: a Stopped VM changes offering; a Running one is resized.

    ``None``: nothing for a host to do (the VM was Stopped). Otherwise the new size is
    recorded and its growth reserved on the VM's host (533 if it has no room).
    """
    if vm.state == VmState.STOPPED:
        await change_offering(ctx, vm, offering_uuid)
        return None
    lifecycle.require_state(vm, (VmState.RUNNING, VmState.STOPPED), "scale")
    await _require_zone_scaling(ctx, vm)
    if not vm.dynamically_scalable:
        raise InvalidParameter(
            f"Unable to scale VM {vm.name} ({vm.uuid}) while it runs: it is not dynamically "
            "scalable (isdynamicallyscalable); stop it first or change the offering then"
        )
    offering = await _new_offering(ctx, vm, offering_uuid)
    if not offering.dynamic_scaling_enabled:
        raise invalid(
            "serviceofferingid",
            f"offering {offering.name} does not allow scaling running VMs "
            "(dynamicscalingenabled=false); stop the VM first",
            value=offering_uuid,
        )
    old, new = Size.of(vm), Size.offered(offering)
    if (
        new.cpu_number < old.cpu_number
        or new.cpu_speed < old.cpu_speed
        or (new.memory_mb < old.memory_mb)
    ):
        raise invalid(
            "serviceofferingid",
            "only scaling up is supported: the new offering's CPU cores, speed and memory "
            "must each be at least the VM's",
            value=offering_uuid,
        )
    await _check_limits(ctx, vm, new)
    assert vm.host_id is not None, f"VM {vm.uuid} is Running without a host"
    host_id = vm.host_id
    await lifecycle.lock_host(ctx, host_id)
    grown = await reservations.reserve(
        ctx.session,
        await reservations.overcommit(ctx.session, ctx.deps.settings),
        host_id,
        new.cpu_mhz - old.cpu_mhz,
        new.memory_mb - old.memory_mb,
    )
    if not grown:
        raise InsufficientCapacity(
            f"Host of VM {vm.name} has no room to scale it to offering {offering.name}"
        )
    if not await _resize_if_running(ctx, vm, host_id, old, new):
        raise InvalidParameter(
            f"VM {vm.name} ({vm.uuid}) changed state while this request ran; try again"
        )
    await lifecycle.record_vm_event(ctx, vm, "VM.UPGRADE", f"Scaling to offering {offering.name}:")
    return Resize(host_id, old, new)


async def _require_zone_scaling(ctx: ServiceContext, vm: VirtualMachine) -> None:
    """CloudStack's ``enable.dynamic.scale.vm``, set globally or for the VM's zone."""
    by_zone = await overrides_in(ctx.session, "enable_dynamic_scale_vm", "zone")
    if not by_zone.get(vm.zone_id, ctx.deps.settings.enable_dynamic_scale_vm):
        raise InvalidParameter(
            f"Unable to scale VM {vm.name} ({vm.uuid}) while it runs: scaling running VMs "
            "is disabled in its zone (enable.dynamic.scale.vm); stop it first"
        )


async def scale_failed(ctx: ServiceContext, vm_uuid: str, resize: Resize, reason: str) -> None:
    """The host refused: the old size back, and its growth given back to the host.

    Only while the VM still runs there with the new size; a VM stopped meanwhile gave
    its (new) capacity back as it stopped, and keeps the new offering.
    """
    await lifecycle.lock_host(ctx, resize.host_id)
    vm = await vm_by_uuid(ctx.session, vm_uuid)
    if not await _resize_if_running(ctx, vm, resize.host_id, resize.new, resize.old):
        return
    await reservations.release(
        ctx.session,
        resize.host_id,
        resize.new.cpu_mhz - resize.old.cpu_mhz,
        resize.new.memory_mb - resize.old.memory_mb,
    )
    await lifecycle.record_vm_event(
        ctx, vm, "VM.UPGRADE", f"Could not scale ({reason}):", level="ERROR"
    )
