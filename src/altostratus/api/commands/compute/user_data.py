"""``getVirtualMachineUserData``: the user data a VM's guest is given.

Set by ``deployVirtualMachine`` and ``updateVirtualMachine`` (``userdata``, base64) and
sent to the VM's host with every start, where the agent's driver exposes it to the
guest (``Driver.user_data``). Ansible's ``cs_instance`` reads it back to tell whether
its ``user_data`` changed.
"""

from __future__ import annotations

from pydantic import Field

from altostratus.api.declarations import ANYONE, CommandSet
from altostratus.api.params import Params, Uuid
from altostratus.api.results import ResponseObject, Single
from altostratus.core.context import ServiceContext
from altostratus.services.compute.vms import get_vm

__all__ = ["GetUserDataParams", "UserDataResponse", "commands", "get_user_data"]

commands = CommandSet()


class UserDataResponse(ResponseObject):
    virtualmachineid: str = Field(description="the ID of the virtual machine")
    userdata: str | None = Field(None, description="its base64-encoded user data, if any")


class GetUserDataParams(Params):
    virtualmachineid: Uuid = Field(description="The VM whose user data to answer")


@commands.command(
    "getVirtualMachineUserData",
    GetUserDataParams,
    description="Answers the base64 user data of a VM, as its guest is given it",
    allowed=ANYONE,
    response=("virtualmachineuserdata", UserDataResponse),
    related=("deployVirtualMachine", "updateVirtualMachine"),
    writes=False,
)
async def get_user_data(ctx: ServiceContext, p: GetUserDataParams) -> Single:
    vm = await get_vm(ctx, p.virtualmachineid, "virtualmachineid")
    return Single(
        "virtualmachineuserdata", UserDataResponse(virtualmachineid=vm.uuid, userdata=vm.user_data)
    )
