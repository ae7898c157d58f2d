"""Every command of the API, looked up by name (case-insensitively, as clients vary)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from altostratus.api.commands import COMMAND_SETS
from altostratus.api.commands.identity import roles
from altostratus.api.commands.platform import discovery
from altostratus.api.declarations import Command, CommandSet
from altostratus.ha.hosts.investigation import INVESTIGATE
from altostratus.jobs.executor import JobHandler
from altostratus.jobs.kinds import JobKind
from altostratus.jobs.run import JobRun

__all__ = ["Registry", "build_registry"]


class Registry:
    def __init__(self, command_sets: Iterable[CommandSet]) -> None:
        self._by_name: dict[str, Command[Any]] = {}
        #: The jobs the commands declare, by kind (the command's name), for the executor.
        self.job_handlers: dict[str, JobHandler[Any]] = {}
        for command_set in command_sets:
            self.add(command_set)

    def add(self, command_set: CommandSet) -> None:
        for command in command_set:
            key = command.name.lower()
            if key in self._by_name:
                raise ValueError(f"command {command.name} declared twice")
            self._by_name[key] = command
            if command.job is not None:
                self.job_handlers[command.name] = command.job.handler(command.checked)

    def add_internal(self, kind: JobKind[Any, Any]) -> None:
        """A kind no command submits (the region's own work): its result is the body's."""
        if not kind.internal:
            raise ValueError(f"{kind.name} is a command's job; declare it with the command")

        async def drive(run: JobRun, payload: Any) -> dict[str, Any]:
            return {"outcome": await kind.body(run, payload)}

        self.job_handlers[kind.name] = JobHandler(kind.payload, drive)

    def get(self, name: str) -> Command[Any] | None:
        return self._by_name.get(name.lower())

    def __iter__(self) -> Iterator[Command[Any]]:
        return iter(sorted(self._by_name.values(), key=lambda command: command.name))

    def __len__(self) -> int:
        return len(self._by_name)


def build_registry() -> Registry:
    registry = Registry(COMMAND_SETS)
    # listApis describes the registry it belongs to, itself included.
    registry.add(discovery.command_set(registry))
    # Role rules name commands: the rule commands check the names against the registry.
    registry.add(roles.rule_commands(registry))
    registry.add_internal(INVESTIGATE)
    return registry
