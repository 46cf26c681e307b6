"""Reading customers: the shop's list (search by name or phone, tag filters, exact totals) and one
customer's profile. ``{waId}`` in a path is a phone number or a business-scoped user id."""

from __future__ import annotations

import re
from typing import Any

from mkt_whatsapp import text
from mkt_whatsapp.consent import set_consent
from mkt_whatsapp.errors import BadRequest, BusinessRuleViolation, Conflict, NotFound
from mkt_whatsapp.models.customers import (
    Consent,
    CustomerProfile,
    CustomerStats,
    CustomerSummary,
    OptInRequest,
    UpdateTagsRequest,
)
from mkt_whatsapp.pagination import PageRequest, Pagination
from mkt_whatsapp.store import customers as customer_store
from mkt_whatsapp.store import get_table
from mkt_whatsapp.store.table import Item, TransactionCancelled

_NOT_TAG = re.compile(r"[^a-z0-9]+")
MAX_TAG_FILTERS = 10
MAX_TAGS_PER_CUSTOMER = 50
MAX_ATTEMPTS = 5


def normalise_tag(tag: str) -> str:
    """Tags are lowercase ASCII kebab-case: ``" VIP Buyer "`` → ``vip-buyer``, ``"Khách_mới"`` → ``khach-moi``."""
    return _NOT_TAG.sub("-", text.fold(tag)).strip("-")


def format_duration(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h"] if hours else []
    if minutes:
        parts.append(f"{minutes}m")
    if secs and not hours:
        parts.append(f"{secs}s")
    return " ".join(parts) or "0s"


def summary(item: Item) -> CustomerSummary:
    return CustomerSummary(
        id=item["id"],
        wa_id=item.get("waId"),
        bsuid=item.get("bsuid"),
        name=item.get("name"),
        tags=list(item.get("tags", [])),
        opt_in_status=(item.get("consent") or {}).get("status", "unknown"),
        conversation_count=int(item.get("conversationCount", 0)),
        last_contacted_at=item.get("lastContactedAt"),
        created_at=item["createdAt"],
    )


def list_customers(
    shop_id: str, search: str | None, tags: str | None, page: PageRequest
) -> tuple[dict[str, Any], Pagination]:
    clauses: list[str] = []
    values: dict[str, Any] = {}
    if search and search.strip():
        folded, phone_digits = text.fold(search), text.digits(search)
        name_match = "contains(searchName, :name)" if folded else None
        phone_match = "contains(phoneDigits, :digits)" if phone_digits else None
        if folded:
            values[":name"] = folded
        if phone_digits:
            values[":digits"] = phone_digits
        either = " OR ".join(match for match in (name_match, phone_match) if match)
        clauses.append(f"({either})")
    wanted = [normalise_tag(tag) for tag in (tags or "").split(",") if tag.strip()]
    if len(wanted) > MAX_TAG_FILTERS:
        raise BadRequest(f"Validation failed: at most {MAX_TAG_FILTERS} tags", code="TOO_LONG", field="tags")
    for index, tag in enumerate(dict.fromkeys(wanted)):
        clauses.append(f"contains(tags, :tag{index})")
        values[f":tag{index}"] = tag
    table = get_table()
    matches = customer_store.search_index(table, shop_id, " AND ".join(clauses) or None, values, {})
    window = [customer_store.key_of(entry) for entry in matches[page.skip : page.skip + page.take]]
    customers = [summary(item).to_wire() for item in customer_store.get_many(table, shop_id, window)]
    return {"customers": customers, "totalCount": len(matches)}, page.page_of(len(matches))


def find(shop_id: str, wa_id: str) -> Item:
    item = customer_store.find(get_table(), shop_id, [wa_id])
    if item is None:
        raise NotFound("Customer not found", code="CUSTOMER_NOT_FOUND", field="waId")
    return item


def profile(shop_id: str, wa_id: str) -> CustomerProfile:
    item = find(shop_id, wa_id)
    consent = item.get("consent") or {"status": "unknown"}
    responses = int(item.get("responseCount", 0))
    average = float(item.get("responseTimeTotalSeconds", 0)) / responses if responses else None
    return CustomerProfile(
        id=item["id"],
        wa_id=item.get("waId"),
        bsuid=item.get("bsuid"),
        shop_id=shop_id,
        name=item.get("name"),
        username=item.get("username"),
        profile_picture_url=item.get("profilePictureUrl"),
        consent=Consent(
            status=consent.get("status", "unknown"), timestamp=consent.get("timestamp"), source=consent.get("source")
        ),
        tags=list(item.get("tags", [])),
        custom_fields=dict(item.get("customFields", {})),
        stats=CustomerStats(
            conversation_count=int(item.get("conversationCount", 0)),
            average_response_time=format_duration(average),
            last_purchase_date=item.get("lastPurchaseDate"),
        ),
        created_at=item["createdAt"],
        last_contacted_at=item.get("lastContactedAt"),
        consent_history=[Consent.model_validate(event) for event in consent_trail(shop_id, item)],
    )


def _normalised(tags: list[str], field: str) -> list[str]:
    result = []
    for index, tag in enumerate(tags):
        name = normalise_tag(tag)
        if not name:
            raise BadRequest(
                f"Validation failed: {field}[{index}] is not a usable tag",
                code="INVALID_VALUE",
                field=f"{field}[{index}]",
            )
        result.append(name)
    return result


def update_tags(shop_id: str, wa_id: str, request: UpdateTagsRequest) -> dict[str, Any]:
    """Add and remove tags in one atomic step (lowercase kebab-case, at most 50 per customer)."""
    add = _normalised(request.add_tags, "addTags")
    remove = set(_normalised(request.remove_tags, "removeTags"))
    table = get_table()
    for _attempt in range(MAX_ATTEMPTS):
        item = find(shop_id, wa_id)
        tags = [tag for tag in dict.fromkeys([*item.get("tags", []), *add]) if tag not in remove]
        if len(tags) > MAX_TAGS_PER_CUSTOMER:
            raise BusinessRuleViolation(
                f"A customer may have at most {MAX_TAGS_PER_CUSTOMER} tags", code="TAG_LIMIT_EXCEEDED", field="addTags"
            )
        try:
            table.transact_write(
                [
                    customer_store.update_customer_op(
                        table, shop_id, customer_store.key_of(item), int(item.get("version", 0)), {"tags": tags}
                    )
                ]
            )
        except TransactionCancelled:
            continue  # changed under us: read again
        return {"waId": item.get("waId") or wa_id, "tags": tags}
    raise Conflict("The customer is being changed concurrently; retry", code="CONCURRENT_UPDATE")


def update_consent(shop_id: str, wa_id: str, request: OptInRequest) -> dict[str, Any]:
    """Set the customer's consent and append the change to their consent trail."""
    item = find(shop_id, wa_id)
    item, consent = set_consent(shop_id, customer_store.key_of(item), request.status, request.source, customer=item)
    return {"waId": item.get("waId") or wa_id, "consent": consent}


def consent_trail(shop_id: str, item: Item) -> list[dict[str, Any]]:
    events = customer_store.consent_history(get_table(), shop_id, customer_store.key_of(item))
    return [{"status": e["status"], "timestamp": e["timestamp"], "source": e.get("source")} for e in events]
