"""Message templates on the wire: the list and get queries, the sync request and the answers
(docs/campaigns.md, "Message templates"). Statuses, categories and quality scores are Meta's own values
(upper case), as Meta's template API and webhooks write them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from mkt_whatsapp.models import ApiModel, PageQuery, WireModel
from mkt_whatsapp.models.accounts import ShopId

TemplateStatus = Literal[
    "APPROVED",
    "PENDING",
    "REJECTED",
    "PAUSED",
    "DISABLED",
    "IN_APPEAL",
    "PENDING_DELETION",
    "DELETED",
    "ARCHIVED",
    "LIMIT_EXCEEDED",
]
TemplateCategory = Literal["MARKETING", "UTILITY", "AUTHENTICATION"]
# A template's name as Meta allows it, and a language code as a send names it (``vi``, ``en_US``).
TemplateName = Annotated[str, Field(min_length=1, max_length=512, pattern=r"^[a-z0-9_]+$", examples=["order_update"])]
TemplateLanguage = Annotated[str, Field(min_length=2, max_length=15, examples=["vi"])]


class ListTemplatesQuery(PageQuery):
    """``GET /templates?shopId=&status=&category=``."""

    shop_id: ShopId
    status: TemplateStatus | None = None
    category: TemplateCategory | None = None


class TemplateQuery(WireModel):
    """``GET /templates/{name}?shopId=&language=``: a template is one name in one language."""

    shop_id: ShopId
    language: TemplateLanguage


class SyncTemplatesRequest(WireModel):
    """``POST /templates/sync``: the shop whose templates are read again from Meta."""

    shop_id: ShopId


class TemplateView(ApiModel):
    """A template as Meta last told us (a sync or a webhook). ``components`` are Meta's definition (empty for
    a template a webhook named before any sync); ``qualityScore`` is Meta's (``GREEN``, ``YELLOW``, ``RED``,
    ``UNKNOWN``), null until Meta rates it."""

    name: str
    language: str
    category: str | None = None
    status: str | None = None
    components: list[dict[str, Any]] = Field(default_factory=list)
    quality_score: str | None = None
    parameter_format: str | None = None
    meta_template_id: str | None = None
    rejected_reason: str | None = None
    synced_at: datetime | None = None
    updated_at: datetime | None = None


class TemplatePage(ApiModel):
    templates: list[TemplateView]
    total_count: int


class TemplateSync(ApiModel):
    """``POST /templates/sync``'s answer: how many templates Meta lists for the shop's WhatsApp Business
    Account, and what changed here. ``complete`` false: the request's time ran out before Meta's last page;
    what was read is stored, nothing was marked deleted; sync again."""

    shop_id: str
    waba_id: str
    templates: int
    created: int
    changed: int
    deleted: int
    complete: bool
    synced_at: datetime
