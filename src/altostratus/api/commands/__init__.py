"""The command modules, one per area; ``COMMAND_SETS`` is what the registry serves."""

from altostratus.api.commands import (
    accounts,
    domains,
    events,
    inventory,
    jobs,
    regions,
    replication,
    sessions,
    users,
)

COMMAND_SETS = (
    sessions.commands,
    domains.commands,
    accounts.commands,
    users.commands,
    regions.commands,
    replication.commands,
    inventory.commands,
    events.commands,
    jobs.commands,
)

__all__ = ["COMMAND_SETS"]
