"""What the federation's work is handed by the composition root (``runtime.Runtime``)."""

from __future__ import annotations

from dataclasses import dataclass

from altostratus.core.context import Dependencies
from altostratus.db.engine import Database
from altostratus.federation.outbox import Outbox
from altostratus.settings import Settings

__all__ = ["Federation"]


@dataclass(frozen=True)
class Federation:
    """This region's part in the federation: its database, the log's outbox, the key.

    The puller, notifier, audit and garbage collection take this rather than the whole
    runtime, so the federation package never imports what builds it.
    """

    db: Database
    deps: Dependencies
    #: Records local changes of global entities in the replication log.
    outbox: Outbox
    #: Shared by every region of the federation; signs region-to-region requests.
    federation_key: bytes

    @property
    def settings(self) -> Settings:
        return self.deps.settings
