"""skip/take pagination as api-v1 describes it: ``take`` defaults to 20 and may not exceed 100."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mkt_whatsapp.errors import BadRequest

DEFAULT_TAKE = 20
MAX_TAKE = 100


def _integer(name: str, raw: str | int | None, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise BadRequest(f"Validation failed: {name} must be an integer", code="INVALID_TYPE", field=name) from None


@dataclass(frozen=True, slots=True)
class PageRequest:
    skip: int
    take: int

    @classmethod
    def parse(cls, skip: str | int | None, take: str | int | None) -> PageRequest:
        skip_value = _integer("skip", skip, 0)
        take_value = _integer("take", take, DEFAULT_TAKE)
        if skip_value < 0:
            raise BadRequest("Validation failed: skip must be 0 or more", code="OUT_OF_RANGE", field="skip")
        if not 1 <= take_value <= MAX_TAKE:
            raise BadRequest(
                f"Validation failed: take must be between 1 and {MAX_TAKE}", code="OUT_OF_RANGE", field="take"
            )
        return cls(skip=skip_value, take=take_value)

    def page_of(self, total: int) -> Pagination:
        return Pagination(
            page=self.skip // self.take + 1,
            limit=self.take,
            total=total,
            total_pages=math.ceil(total / self.take),
        )


@dataclass(frozen=True, slots=True)
class Pagination:
    page: int
    limit: int
    total: int
    total_pages: int

    def to_wire(self) -> dict[str, int]:
        return {"page": self.page, "limit": self.limit, "total": self.total, "totalPages": self.total_pages}
