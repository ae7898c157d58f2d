"""Affinity groups: keep VMs on the same host or apart."""

from __future__ import annotations

from altostratus.api.declarations import CommandSet

__all__ = ["commands"]

commands = CommandSet()
