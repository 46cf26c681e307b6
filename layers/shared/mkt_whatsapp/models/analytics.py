"""The analytics endpoints' queries and answers (api-v1.txt "Analytics"; docs/analytics.md).

Dates: ``startDate``/``endDate`` are ISO 8601 dates (``2026-01-18``) or date-times (``2026-01-18T09:00:00+07:00``:
the day as written, its offset aside — the caller's calendar day); a range holds both ends' days and spans
at most 366 days. A start after the end,
an unreadable date or a longer range is 400 naming the field.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

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
    return moment.date()  # the day as written, in the caller's own calendar (its offset aside)


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


MAX_HOUR_RANGE_DAYS = 31


def _zone(value: Any) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = str(value).strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PydanticCustomError("invalid_timezone", "must be an IANA time zone, e.g. Asia/Ho_Chi_Minh") from None
    return name


class ZonedRangeQuery(DateRangeQuery):
    """A shop and an optional range of days in ``timezone`` (IANA, default UTC), both ends included."""

    timezone: Annotated[str, BeforeValidator(_zone)] = "UTC"


class MessagesQuery(ZonedRangeQuery):
    """``GET /analytics/messages``'s query: a range of days in ``timezone`` (both ends included; default the
    last 30 days), grouped by ``hour`` (at most 31 days), ``day`` or ``week`` (ISO weeks, from Monday)."""

    group_by: Literal["hour", "day", "week"] = "day"

    @field_validator("group_by")
    @classmethod
    def _hours_in_reach(cls, group_by: str, info: ValidationInfo) -> str:
        start, end = info.data.get("start_date"), info.data.get("end_date")
        if group_by == "hour" and start and end and (end - start).days + 1 > MAX_HOUR_RANGE_DAYS:
            raise PydanticCustomError("range_too_long", f"groupBy=hour spans at most {MAX_HOUR_RANGE_DAYS} days")
        return group_by


class MessageBucket(ApiModel):
    date: str = Field(description="The bucket: `2026-01-18` (day; week: its Monday) or an hour with its offset")
    inbound_count: int
    outbound_count: int
    total_count: int
    failed_count: int


class MessageSummary(ApiModel):
    total_inbound: int
    total_outbound: int
    total_failed: int
    average_per_day: float


class MessageStatistics(ApiModel):
    metrics: list[MessageBucket]
    summary: MessageSummary
    start_date: date
    end_date: date
    group_by: str
    timezone: str


class ConversationsQuery(ZonedRangeQuery):
    """``GET /analytics/conversations``'s query: a range of days in ``timezone`` (default the last 30 days)."""


class ResponderTimes(ApiModel):
    responses: int
    average_response_time: str | None
    average_response_seconds: float | None


class ResponseTimesByResponder(ApiModel):
    human: ResponderTimes
    flow: ResponderTimes
    ai: ResponderTimes


class ConversationCounts(ApiModel):
    """The counts the metrics are computed from (docs/analytics.md, "Conversations")."""

    responses: int = Field(description="Waits the shop answered in the range")
    response_seconds: int = Field(description="Their seconds, summed")
    resolved: int = Field(description="Conversations closed in the range")
    resolution_seconds: int = Field(description="Their seconds from opened to closed, summed")
    resolved_by_automation: int = Field(description="Closed ones no human took part in (no handoff either)")
    resolved_with_ai: int = Field(description="Closed ones an AI agent replied in")
    resolved_by_ai: int = Field(description="Closed ones an AI agent replied in and no human took part in")
    opened: int = Field(description="Conversations opened in the range")
    handed_off: int = Field(description="Of those, the ones handed to a human (so far)")


class ConversationMetrics(ApiModel):
    """``GET /analytics/conversations`` (api-v1.txt's five metrics, their seconds and their counts); a rate
    or an average over nothing is null."""

    average_response_time: str | None = Field(description="`2m 30s`: responseSeconds / responses")
    average_response_seconds: float | None
    average_resolution_time: str | None = Field(description="`15m 45s`: resolutionSeconds / resolved")
    average_resolution_seconds: float | None
    automation_resolution_rate: float | None = Field(description="resolvedByAutomation / resolved")
    ai_resolution_rate: float | None = Field(description="resolvedByAi / resolvedWithAi")
    human_handoff_rate: float | None = Field(description="handedOff / opened")
    response_time_by_responder: ResponseTimesByResponder
    counts: ConversationCounts
    start_date: date
    end_date: date
    timezone: str


class AiQuery(ZonedRangeQuery):
    """``GET /analytics/ai``'s query: a range of days in ``timezone`` (default the last 30 days)."""


class AiHandoffs(ApiModel):
    total: int
    by_reason: dict[str, int] = Field(
        description="Handoffs by reason: keyword, max_turns, budget, unsupported_message, provider_error, "
        "model, outbound_refused, send_failed (docs/ai-agents.md)"
    )


class AiTotals(ApiModel):
    replies: int = Field(description="Turns the AI answered (its reply accepted for sending)")
    handoffs: AiHandoffs
    prompt_tokens: int
    completion_tokens: int
    estimated_cost_usd: float = Field(description="The provider's estimated cost, summed in millionths of a USD")


class AiDay(AiTotals):
    date: str = Field(description="The day in `timezone` (`2026-01-18`)")


class AiAgentTotals(AiTotals):
    agent_id: str
    name: str | None = Field(default=None, description="The agent's name; none once it is deleted")


class AiStatistics(ApiModel):
    metrics: list[AiDay] = Field(description="Every day of the range, zeros included")
    agents: list[AiAgentTotals] = Field(description="Each agent that answered or handed off in the range")
    summary: AiTotals
    start_date: date
    end_date: date
    timezone: str
