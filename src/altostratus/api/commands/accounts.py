"""accounts commands (to be written)."""

from altostratus.api.declarations import CommandSet

__all__ = ["commands"]

commands = CommandSet()
