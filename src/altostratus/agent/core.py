"""The agent's core: runs delivered commands through a driver, each id at most once.

A management server redelivers a command whose answer it did not get (its connection
broke, or the server that sent it died). The core keeps the answers of recent commands
and joins a command still running, so a redelivered id is answered from the first
execution instead of starting a VM twice.

Starts and stops go through the host's ``SafetyBelts`` (disk leases on shared storage,
the ledger), so every driver honours them alike; a neighbour check (``CheckHost``) is
answered by the belts alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from altostratus.agent.belts import SafetyBelts
from altostratus.agent.drivers.base import Driver, DriverError
from altostratus.agent.ledger import Ledger
from altostratus.agent.protocol import (
    Answer,
    CheckHost,
    CommandKind,
    Delivery,
    DestroyVm,
    RebootVm,
    ScaleVm,
    SnapshotVolume,
    StartVm,
    StopVm,
    VmSnapshotCommand,
    VolumeCommand,
)
from altostratus.agent.shared_storage import SharedStorage

__all__ = ["AgentCore"]

log = logging.getLogger(__name__)

#: Answers kept for redelivered ids; a redelivery comes within minutes, not thousands later.
_REMEMBERED = 4096


class AgentCore:
    def __init__(
        self,
        driver: Driver,
        *,
        remembered: int = _REMEMBERED,
        host_name: str | None = None,
        storage: SharedStorage | None = None,
        ledger: Ledger | None = None,
    ) -> None:
        self.driver = driver
        self.belts = SafetyBelts(driver, host_name, storage=storage, ledger=ledger)
        self._remembered = remembered
        self._answers: OrderedDict[str, Answer] = OrderedDict()
        self._running: dict[str, asyncio.Task[Answer]] = {}

    async def execute(self, delivery: Delivery) -> Answer:
        """The answer to ``delivery``: from memory, from the running execution, or new."""
        known = self._answers.get(delivery.id)
        if known is not None:
            return known
        task = self._running.get(delivery.id)
        if task is None:
            task = asyncio.create_task(self._run(delivery), name=f"command {delivery.id}")
            self._running[delivery.id] = task
        return await asyncio.shield(task)

    async def power_states(self) -> dict[str, str]:
        return await self.driver.power_states()

    async def _run(self, delivery: Delivery) -> Answer:
        try:
            result = await self._dispatch(delivery.kind, delivery.payload)
        except (DriverError, ValidationError) as error:
            result = {"error": str(error)}
        except Exception as error:  # a driver bug must not kill the agent
            log.exception("command %s (%s) failed", delivery.id, delivery.kind)
            result = {"error": f"{type(error).__name__}: {error}"}
        answer = Answer(id=delivery.id, result=result)
        self._answers[delivery.id] = answer
        while len(self._answers) > self._remembered:
            self._answers.popitem(last=False)
        self._running.pop(delivery.id, None)
        return answer

    async def _dispatch(self, kind: CommandKind, payload: dict[str, Any]) -> dict[str, Any]:
        driver = self.driver
        if kind is CommandKind.START_VM:
            start = StartVm.model_validate(payload)
            await self.belts.start(start, lambda: driver.start_vm(start))
            return {"power_state": "PowerOn"}
        if kind is CommandKind.STOP_VM:
            stop = StopVm.model_validate(payload)
            await self.belts.stop(stop.instance_name, lambda: driver.stop_vm(stop))
            return {}
        if kind is CommandKind.DESTROY_VM:
            destroy = DestroyVm.model_validate(payload)
            await self.belts.stop(destroy.instance_name, lambda: driver.destroy_vm(destroy))
            return {}
        if kind is CommandKind.CHECK_HOST:
            check = await self.belts.check_host(CheckHost.model_validate(payload))
            return check.model_dump(mode="json")
        if kind is CommandKind.CREATE_SNAPSHOT:
            return dict(await driver.create_snapshot(SnapshotVolume.model_validate(payload)))
        model, action = _ACTIONS[kind](driver)
        await action(model.model_validate(payload))
        return {}


def _simple(
    model: type[BaseModel], method: str
) -> Callable[[Driver], tuple[type[BaseModel], Callable[[Any], Awaitable[None]]]]:
    return lambda driver: (model, getattr(driver, method))


#: Commands answered ``{}`` on success: their payload model and driver method.
_ACTIONS = {
    CommandKind.REBOOT_VM: _simple(RebootVm, "reboot_vm"),
    CommandKind.SCALE_VM: _simple(ScaleVm, "scale_vm"),
    CommandKind.CREATE_VM_SNAPSHOT: _simple(VmSnapshotCommand, "create_vm_snapshot"),
    CommandKind.REVERT_VM_SNAPSHOT: _simple(VmSnapshotCommand, "revert_vm_snapshot"),
    CommandKind.DELETE_VM_SNAPSHOT: _simple(VmSnapshotCommand, "delete_vm_snapshot"),
    CommandKind.ATTACH_VOLUME: _simple(VolumeCommand, "attach_volume"),
    CommandKind.DETACH_VOLUME: _simple(VolumeCommand, "detach_volume"),
    CommandKind.RESIZE_VOLUME: _simple(VolumeCommand, "resize_volume"),
    CommandKind.DELETE_VOLUME: _simple(VolumeCommand, "delete_volume"),
    CommandKind.DELETE_SNAPSHOT: _simple(SnapshotVolume, "delete_snapshot"),
}
