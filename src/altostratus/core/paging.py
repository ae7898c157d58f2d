"""What every ``list*`` service shares: optional filters, keyword search, pagination."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["Page", "PageRequest", "equal_if_given", "keyword_filter", "paginate"]

T = TypeVar("T")


def equal_if_given(*pairs: tuple[Any, object]) -> ColumnElement[bool]:
    """``column == value`` for every value given; ``None`` means the caller did not filter."""
    return and_(true(), *(column == value for column, value in pairs if value is not None))


def keyword_filter(keyword: str | None, *columns: Any) -> ColumnElement[bool]:
    """CloudStack's ``keyword``: a case-insensitive substring of any of ``columns``."""
    if not keyword:
        return true()
    return or_(*(column.icontains(keyword, autoescape=True) for column in columns))


@dataclass(frozen=True)
class PageRequest:
    """1-based page; ``size`` ``None`` means every row."""

    page: int = 1
    size: int | None = None

    @classmethod
    def of(cls, page: int | None, pagesize: int | None, default_size: int) -> PageRequest:
        if pagesize == -1:
            return cls(1, None)
        return cls(page or 1, pagesize or default_size)

    def slice(self, items: Sequence[T]) -> Sequence[T]:
        """This page of a list computed in full (figures that are no table's rows)."""
        if self.size is None:
            return items
        start = (self.page - 1) * self.size
        return items[start : start + self.size]


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    #: Every match, not just this page (CloudStack's ``count``).
    total: int


async def paginate(session: AsyncSession, query: Select[T], request: PageRequest) -> Page[T]:
    """Run ``query`` (already filtered and ordered) for one page, and count all matches."""
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    if request.size is not None:
        query = query.limit(request.size).offset((request.page - 1) * request.size)
    items = (await session.scalars(query)).unique().all()
    return Page(items=items, total=total or 0)
