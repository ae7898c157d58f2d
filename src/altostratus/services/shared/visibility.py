"""Which account-owned rows a caller may see, as CloudStack's ``listall`` rules say.

Without ``listall`` everyone lists their own account's rows; with it a root admin lists
every row and a domain admin those owned inside its subtree. Users never see more than
their own account.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_, true

from altostratus.core.context import Caller

__all__ = ["owned_rows_filter", "subtree_filter"]


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
