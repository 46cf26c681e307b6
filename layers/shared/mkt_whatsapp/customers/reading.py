"""Reading customers: the shop's list (search by name or phone, tag filters, exact totals) and one
customer's profile. A customer is named by a phone number or a business-scoped user id (``{waId}``)."""

from __future__ import annotations

import re
from typing import Any

from mkt_whatsapp.core import text
from mkt_whatsapp.core.errors import NotFound
from mkt_whatsapp.models.customers import (
    Consent,
    CustomerProfile,
    CustomerStats,
    CustomerSummary,
)
from mkt_whatsapp.store import customers as customer_store
from mkt_whatsapp.store import get_table
from mkt_whatsapp.store.table import Item

_NOT_TAG = re.compile(r"[^a-z0-9]+")


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
    shop_id: str, search: str | None, tags: list[str], *, skip: int, take: int
) -> tuple[dict[str, Any], int]:
    """The shop's customers ``skip``..``skip + take``, newest first, matching ``search`` (name or phone
    digits) and carrying every tag of ``tags``; and how many match."""
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
    wanted = [normalise_tag(tag) for tag in tags]
    for index, tag in enumerate(dict.fromkeys(wanted)):
        clauses.append(f"contains(tags, :tag{index})")
        values[f":tag{index}"] = tag
    table = get_table()
    matches = customer_store.search_index(table, shop_id, " AND ".join(clauses) or None, values, {})
    window = [customer_store.key_of(entry) for entry in matches[skip : skip + take]]
    customers = [summary(item).to_wire() for item in customer_store.get_many(table, shop_id, window)]
    return {"customers": customers, "totalCount": len(matches)}, len(matches)


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


def consent_trail(shop_id: str, item: Item) -> list[dict[str, Any]]:
    events = customer_store.consent_history(get_table(), shop_id, customer_store.key_of(item))
    return [{"status": e["status"], "timestamp": e["timestamp"], "source": e.get("source")} for e in events]
