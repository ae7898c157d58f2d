"""Kinds of job: the payload a job is submitted with and the body that drives it.

A service declares each kind next to its body (``services.compute.jobs``, …). The
asynchronous command that submits it names the kind in its declaration
(``api.declarations.Job``), and that gives the kind its name: the command's. A service
that submits jobs of another kind (host maintenance stops VMs through stopVirtualMachine
jobs) takes the name from the kind, so no name is spelt twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from altostratus.jobs.run import JobRun

__all__ = ["JobKind", "JobPayload"]


class JobPayload(BaseModel):
    """A job's arguments: stored as JSON with the job, validated again when it is loaded.

    So a renamed or missing field fails the job at once with a clear error, instead of a
    KeyError half-way through, after the request that submitted it was answered.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")


P = TypeVar("P", bound=JobPayload)
R = TypeVar("R")


class JobKind(Generic[P, R]):
    """A body taking a ``P`` and returning ``R``: a domain value (a uuid), never an answer."""

    def __init__(
        self,
        payload: type[P],
        body: Callable[[JobRun, P], Awaitable[R]],
        *,
        internal: str | None = None,
    ) -> None:
        """``internal`` names a kind no command submits (the region's own work, such as
        an HA investigation); a command's kind takes the command's name."""
        self.payload = payload
        self.body = body
        self._name: str | None = internal
        self.internal = internal is not None

    @property
    def name(self) -> str:
        """The name of the command that declares this kind (``async_jobs.kind``)."""
        if self._name is None:
            raise LookupError(f"No command declares the job of {self.body.__qualname__}")
        return self._name

    def bind(self, name: str) -> None:
        """Called by the declaring command; a kind belongs to one command only."""
        if self._name not in (None, name):
            raise ValueError(f"The job kind {self._name} is declared again as {name}")
        self._name = name
