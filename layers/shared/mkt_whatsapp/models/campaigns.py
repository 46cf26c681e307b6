"""Campaigns as the API takes and shows them (docs/campaigns.md, "Campaigns")."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, field_validator
from pydantic_core import PydanticCustomError

from mkt_whatsapp.models import ApiModel, PageQuery, ShopIdField, WireModel
from mkt_whatsapp.models.customers import TagText, WaId
from mkt_whatsapp.models.meta_objects import META_OBJECTS, check_components, component_items

CampaignStatus = Literal["draft", "scheduled", "running", "paused", "completed", "cancelled"]
MAX_WA_IDS = 10_000
MAX_AUDIENCE_TAGS = 10
MAX_COMPONENTS = 10

_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


# RFC 3339's date-time, with its offset (what JSON Schema's date-time format is): no bare date, no number.
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339(value: object) -> object:
    if not isinstance(value, str):
        raise PydanticCustomError("datetime_type", "Input should be an RFC 3339 date-time (2026-03-01T09:00:00+07:00)")
    if not _RFC3339.match(value):
        raise PydanticCustomError("datetime_parsing", "Input should be an RFC 3339 date-time with its offset")
    return value.upper()


def _utc(value: datetime) -> datetime:
    """An instant in UTC (a time without an offset is read as UTC); one out of any use (before 1970, or past
    the calendar once moved to UTC) is held at those bounds rather than refused."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        moved = value.astimezone(UTC)
    except OverflowError:
        return _EARLIEST if value.year < 2000 else _LATEST
    return min(max(moved, _EARLIEST), _LATEST)


Instant = Annotated[datetime, BeforeValidator(_rfc3339), AfterValidator(_utc)]


@cache
def _zones() -> list[str]:
    from zoneinfo import available_timezones

    return sorted(available_timezones())


def _zone_names(schema: dict[str, Any]) -> None:
    schema["enum"] = _zones()


def _known_zone(value: object) -> object:
    if isinstance(value, str) and value not in _zones():
        raise PydanticCustomError("invalid_timezone", "must be an IANA time zone, e.g. Asia/Ho_Chi_Minh")
    return value


# An IANA time zone, exactly as the list the schema gives names it.
IanaZone = Annotated[str, AfterValidator(_known_zone), Field(json_schema_extra=_zone_names)]
ClockTime = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", examples=["21:00"])]
CampaignName = Annotated[str, Field(min_length=1, max_length=128, pattern=r"\S", examples=["Spring sale"])]


class CampaignTemplate(WireModel):
    """One of the shop's templates, approved by Meta, by name and language; ``components`` are its parameters in
    Meta's shape, whose texts may hold placeholders (``{{customer.name|bạn}}``) rendered per customer."""

    name: str = Field(min_length=1, max_length=512, pattern=r"^[a-z0-9_]+$", examples=["spring_sale"])
    language: str = Field(min_length=2, max_length=15, examples=["vi"])
    components: Annotated[list[dict[str, Any]], META_OBJECTS] = Field(
        default_factory=list, max_length=MAX_COMPONENTS, json_schema_extra=component_items
    )

    @field_validator("components")
    @classmethod
    def _known_types(cls, components: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return check_components(components)


class CampaignAudience(WireModel):
    """Who the campaign is for: customers with any (``match: any``) or all of ``tags`` (none: every customer),
    without any of ``excludeTags``, last contacted before/after the given times; or, with ``waIds``, the
    customers of that list (the same filters apply to them)."""

    tags: list[TagText] = Field(default_factory=list, max_length=MAX_AUDIENCE_TAGS)
    match: Literal["any", "all"] = "any"
    exclude_tags: list[TagText] = Field(default_factory=list, max_length=MAX_AUDIENCE_TAGS)
    last_contacted_before: Instant | None = None
    last_contacted_after: Instant | None = None
    wa_ids: list[WaId] | None = Field(default=None, min_length=1, max_length=MAX_WA_IDS)


class QuietHours(WireModel):
    """A daily window in ``timezone`` when nothing is sent (``start`` after ``end`` spans midnight)."""

    start: ClockTime
    end: ClockTime
    timezone: IanaZone = Field(examples=["Asia/Ho_Chi_Minh"])


class CreateCampaignRequest(WireModel):
    """``POST /campaigns``: a new campaign is a draft; ``POST /campaigns/{id}/launch`` starts it (at
    ``scheduledAt`` if that is still to come)."""

    shop_id: ShopIdField
    name: CampaignName
    template: CampaignTemplate
    audience: CampaignAudience = Field(default_factory=CampaignAudience)
    scheduled_at: Instant | None = None
    quiet_hours: QuietHours | None = None


class UpdateCampaignRequest(WireModel):
    """``PUT /campaigns/{campaignId}`` (a draft or a scheduled campaign): the fields given replace the
    campaign's (``audience`` and ``template`` as wholes); ``scheduledAt`` and ``quietHours`` may be ``null``
    (none)."""

    name: CampaignName | None = None
    template: CampaignTemplate | None = None
    audience: CampaignAudience | None = None
    scheduled_at: Instant | None = None
    quiet_hours: QuietHours | None = None


class ListCampaignsQuery(PageQuery):
    """``GET /campaigns?shopId=&status=``: the shop's campaigns, newest first."""

    shop_id: ShopIdField
    status: CampaignStatus | None = None


RecipientState = Literal["queued", "paused", "waiting_tier", "waiting_quiet", "sent", "failed", "cancelled", "skipped"]


class ListRecipientsQuery(PageQuery):
    """``GET /campaigns/{campaignId}/recipients?status=``: the campaign's recipients, in customer order."""

    status: RecipientState | None = None


class DryRunQuery(WireModel):
    """``POST /campaigns/{campaignId}/dry-run?cursor=``: go on from where an earlier answer stopped."""

    cursor: str | None = Field(default=None, min_length=1, max_length=4096)


# --- answers --------------------------------------------------------------------------------------------


class StatusReason(ApiModel):
    """Why the service paused a campaign (an account needing action, its template paused or disabled…)."""

    code: str
    message: str
    at: datetime | None = None


class SkippedCounts(ApiModel):
    """Customers of the audience the campaign does not send to, by reason."""

    total: int
    opted_out: int = Field(description="A marketing template: the customer opted out")
    no_consent: int = Field(description="A marketing template: the customer never opted in")
    invalid_parameters: int = Field(description="A placeholder with no value for the customer and no fallback")
    duplicate: int = Field(description="The explicit list names a customer again")
    not_a_customer: int = Field(description="The explicit list names no customer of the shop")
    excluded: int = Field(description="The explicit list names a customer the audience's filters leave out")


class CampaignDelivery(ApiModel):
    """What Meta did with the campaign's messages, counted from their statuses (analytics/campaigns.py:
    exact under redelivered statuses; it follows the messages within the stats function's batching window)."""

    messages: int = Field(description="Messages stored for sending, one per recipient sent to")
    sent: int = Field(description="Messages Meta accepted (status sent or beyond)")
    delivered: int = Field(description="Delivered (a read whose delivered status never came counts too)")
    read: int
    failed: int = Field(description="Messages that failed, Meta's marketing limit (131049) aside")
    failed_by_code: dict[str, int] = Field(description="Failures by Meta's error code (`unknown` without one)")
    limited_by_meta: int = Field(
        description="Not delivered: Meta limits the marketing messages a user gets (131049), not a failure"
    )
    replied: int = Field(description="Customers who wrote within 72 hours of the delivery (once per delivery)")
    billable: dict[str, int] = Field(description="Messages Meta bills, by its pricing category")
    estimated_meta_charge_usd: float = Field(description="billable × the rate card in analytics/campaigns.py")


class CampaignStats(ApiModel):
    """Recipients by state, exact (counted as each recipient changes); the figures of a running campaign
    move as it sends."""

    targeted: int = Field(description="Customers the audience matched so far, skipped ones included")
    recipients: int = Field(description="Customers the campaign has considered so far, skipped ones included")
    queued: int = Field(description="On their way: in the outbound queue or being sent")
    sent: int = Field(description="Accepted by Meta")
    failed: int
    cancelled: int
    paused: int = Field(description="Waiting for the campaign to be resumed")
    waiting_for_tier: int = Field(description="Waiting for the messaging tier's 24-hour unique-customer limit")
    waiting_for_quiet_hours: int
    skipped: SkippedCounts
    pages: int = Field(description="Pages of the audience enumerated")
    enumeration_complete: bool
    delivery: CampaignDelivery


class AudienceView(ApiModel):
    tags: list[str]
    match: Literal["any", "all"]
    exclude_tags: list[str]
    last_contacted_before: datetime | None = None
    last_contacted_after: datetime | None = None
    wa_id_count: int | None = Field(default=None, description="How many waIds the explicit list holds (none: no list)")


class CampaignSummary(ApiModel):
    campaign_id: str
    shop_id: str
    name: str
    status: CampaignStatus
    template: CampaignTemplate
    scheduled_at: datetime | None = None
    status_reason: StatusReason | None = None
    created_at: datetime
    created_by: str | None = None
    updated_at: datetime | None = None
    launched_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None


class CampaignDetail(CampaignSummary):
    """``GET /campaigns/{campaignId}``: the campaign, its audience and its stats."""

    audience: AudienceView
    quiet_hours: QuietHours | None = None
    template_category: str | None = Field(default=None, description="Meta's category of the template, at launch")
    stats: CampaignStats


class CampaignRecipient(ApiModel):
    """What the campaign did with one customer, and what Meta did with its message."""

    wa_id: str | None = None
    customer_key: str
    status: RecipientState
    reason: str | None = Field(default=None, description="Why it was skipped or failed")
    message_id: str | None = None
    message_status: str | None = Field(default=None, description="The message's status: sent, delivered, read, failed…")
    error_code: int | None = Field(default=None, description="Meta's error code of a failed message")


class RecipientPage(ApiModel):
    recipients: list[CampaignRecipient]
    total_count: int


class CampaignPage(ApiModel):
    campaigns: list[CampaignSummary]
    total_count: int


class CampaignCreated(ApiModel):
    campaign_id: str
    name: str
    status: Literal["draft"]
    created_at: datetime


class CampaignTransition(ApiModel):
    """A launch, pause, resume or cancel: the status it left the campaign in, when and by whom."""

    campaign_id: str
    status: CampaignStatus
    at: datetime
    by: str
    scheduled_at: datetime | None = None


class CampaignDeletion(ApiModel):
    campaign_id: str
    deleted: Literal[True]
    deleted_by: str


class DryRunResult(ApiModel):
    """Who the campaign would send to now, and who it would skip and why; nothing is sent or stored."""

    campaign_id: str
    template_category: str
    audience: int = Field(description="Customers of the audience considered (this answer's pages)")
    would_receive: int
    skipped: SkippedCounts
    complete: bool = Field(description="Every page was read; otherwise nextCursor goes on")
    next_cursor: str | None = None
