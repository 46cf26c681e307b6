"""The analytics endpoints' queries and answers (api-v1.txt "Analytics"; docs/analytics.md).

Dates: ``startDate``/``endDate`` are ISO 8601 dates (``2026-01-18``) or date-times (``2026-01-18T09:00:00Z``,
an offset given or UTC); a range holds both ends' days and spans at most 366 days. A start after the end,
an unreadable date or a longer range is 400 naming the field.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from mkt_whatsapp.models import ApiModel, ShopIdField, WireModel

MAX_RANGE_DAYS = 366


def _day(value: Any) -> date:
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise PydanticCustomError("invalid_date", "must be an ISO 8601 date or date-time") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date()


Day = Annotated[date, BeforeValidator(_day)]


class DateRangeQuery(WireModel):
    """A shop and an optional range of days (UTC)."""

    shop_id: ShopIdField
    start_date: Day | None = None
    end_date: Day | None = None

    @field_validator("end_date")
    @classmethod
    def _ordered(cls, end: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("start_date")
        if end is not None and start is not None:
            if start > end:
                raise PydanticCustomError("date_order", "endDate is before startDate")
            if (end - start).days + 1 > MAX_RANGE_DAYS:
                raise PydanticCustomError("range_too_long", f"the range spans more than {MAX_RANGE_DAYS} days")
        return end

    def days(self, today: date) -> list[str] | None:
        """Every day of the range (``yyyy-mm-dd``), or None for all time. An open end is today; an open
        start is 30 days before the end."""
        if self.start_date is None and self.end_date is None:
            return None
        end = self.end_date or today
        start = self.start_date or end - timedelta(days=29)
        return [(start + timedelta(days=offset)).isoformat() for offset in range((end - start).days + 1)]


class AutomationsQuery(DateRangeQuery):
    """``GET /analytics/automations``'s query."""


class AutomationStats(ApiModel):
    flow_id: str
    flow_name: str
    is_active: bool
    execution_count: int
    finished_count: int
    completion_rate: float | None
    average_steps: float | None
    fallback_rate: float | None


class AutomationsAnswer(ApiModel):
    """``GET /analytics/automations``: every flow of the shop (and those deleted that ran in the range)."""

    flows: list[AutomationStats]
    start_date: date | None = Field(default=None, description="The range's first day (UTC); none: all time")
    end_date: date | None = None
