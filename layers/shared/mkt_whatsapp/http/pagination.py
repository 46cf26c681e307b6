"""skip/take pagination as api-v1 describes it (``take`` defaults to 20 and may not exceed 100; the
query's bounds are :class:`mkt_whatsapp.models.PageQuery`'s), and the ``pagination`` block of a list's
answer."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mkt_whatsapp.models import PageQuery


@dataclass(frozen=True, slots=True)
class Pagination:
    page: int
    limit: int
    total: int
    total_pages: int

    def to_wire(self) -> dict[str, int]:
        return {"page": self.page, "limit": self.limit, "total": self.total, "totalPages": self.total_pages}


def page_of(query: PageQuery, total: int) -> Pagination:
    """The page ``query`` asked for, of a list of ``total`` items."""
    return Pagination(
        page=query.skip // query.take + 1,
        limit=query.take,
        total=total,
        total_pages=math.ceil(total / query.take),
    )
