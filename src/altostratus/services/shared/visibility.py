"""Which account-owned rows a caller may see, as CloudStack's ``listall`` rules say.

Without ``listall`` everyone lists their own account's rows; with it a root admin lists
every row and a domain admin those owned inside its subtree. Users never see more than
their own account. Offerings limited to a domain (service, disk and network offerings)
are offered to that domain's subtree (``offered_to``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_, select, true

from altostratus.core.context import Caller
from altostratus.db.models import Domain

__all__ = ["offered_to", "owned_rows_filter", "subtree_filter"]


def subtree_filter(path_column: Any, root_path: str) -> ColumnElement[bool]:
    """Rows whose domain path is ``root_path`` or below it."""
    below: ColumnElement[bool] = path_column.startswith(root_path + "/", autoescape=True)
    return or_(path_column == root_path, below)


def owned_rows_filter(
    caller: Caller, *, account_uuid_column: Any, domain_path_column: Any, listall: bool
) -> ColumnElement[bool]:
    if not listall or not (caller.is_root_admin or caller.is_domain_admin):
        own: ColumnElement[bool] = account_uuid_column == caller.account_uuid
        return own
    if caller.is_root_admin:
        return true()
    return subtree_filter(domain_path_column, caller.domain_path)


def _ancestor_paths(path: str) -> list[str]:
    """``ROOT/d1/sub`` → ``ROOT``, ``ROOT/d1``, ``ROOT/d1/sub``."""
    parts = path.split("/")
    return ["/".join(parts[: depth + 1]) for depth in range(len(parts))]


def offered_to(
    caller: Caller, domain_id_column: Any, *, recursive: bool = True
) -> ColumnElement[bool]:
    """Rows limited to no domain, or to a domain the caller belongs to; ``recursive``:
    or to one it manages (a domain admin's subdomains)."""
    if caller.is_root_admin:
        return true()
    reachable: ColumnElement[bool] = Domain.path.in_(_ancestor_paths(caller.domain_path))
    if caller.is_domain_admin and recursive:
        reachable = or_(reachable, subtree_filter(Domain.path, caller.domain_path))
    return or_(domain_id_column.is_(None), domain_id_column.in_(select(Domain.id).where(reachable)))
