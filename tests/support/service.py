"""Processes a test starts and must stop again, also when starting fails half-way."""

from __future__ import annotations

import abc
from types import TracebackType
from typing import Self

__all__ = ["Service"]


class Service(abc.ABC):
    """``with`` starts it and stops it; a start that fails stops what it did start, so a
    half-started cluster leaves no process behind for the next test to trip over."""

    @abc.abstractmethod
    def start(self) -> None: ...

    @abc.abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.stop()
