"""Reading conversations: the shop's list (filters, newest first, exact totals) and one conversation
with its most recent messages."""

from __future__ import annotations

from typing import Any

from mkt_whatsapp.api import current_request
from mkt_whatsapp.clock import now_iso
from mkt_whatsapp.errors import BadRequest, NotFound
from mkt_whatsapp.models.conversations import (
    ConversationCustomer,
    ConversationDetail,
    ConversationStatus,
    ConversationSummary,
    MessageView,
)
from mkt_whatsapp.pagination import PageRequest, Pagination
from mkt_whatsapp.store import conversations as conversation_store
from mkt_whatsapp.store import customers as customer_store
from mkt_whatsapp.store import get_table
from mkt_whatsapp.store import messages as message_store
from mkt_whatsapp.store.table import Item

STATUSES = ("active", "expired", "closed")
MESSAGES_PER_PAGE = 100


def display_status(item: Item, now: str) -> ConversationStatus:
    if item.get("status") == conversation_store.CLOSED:
        return "closed"
    return "expired" if str(item.get("windowExpiresAt", "")) <= now else "active"


def summary(item: Item, now: str) -> ConversationSummary:
    return ConversationSummary(
        id=item["id"],
        shop_id=item["shopId"],
        customer_wa_id=item.get("customerWaId"),
        customer_name=item.get("customerName"),
        status=display_status(item, now),
        assigned_agent_id=item.get("assignedAgentId"),
        last_message_at=item["lastMessageAt"],
        message_count=int(item.get("messageCount", 0)),
        tags=list(item.get("tags", [])),
        created_at=item["createdAt"],
        expires_at=item["windowExpiresAt"],
    )


def list_conversations(
    shop_id: str, status: str | None, assigned_agent_id: str | None, page: PageRequest
) -> tuple[dict[str, Any], Pagination]:
    now = now_iso()
    clauses: list[str] = []
    values: dict[str, Any] = {}
    names: dict[str, str] = {}
    if status:
        if status not in STATUSES:
            raise BadRequest(
                f"Validation failed: status must be one of {', '.join(STATUSES)}", code="INVALID_VALUE", field="status"
            )
        names["#status"] = "status"
        if status == "closed":
            clauses.append("#status = :closed")
            values[":closed"] = conversation_store.CLOSED
        else:
            comparison = ">" if status == "active" else "<="
            clauses.append(f"#status = :open AND windowExpiresAt {comparison} :now")
            values.update({":open": conversation_store.OPEN, ":now": now})
    if assigned_agent_id:
        clauses.append("assignedAgentId = :agent")
        values[":agent"] = assigned_agent_id
    items = conversation_store.list_for_shop(get_table(), shop_id, " AND ".join(clauses) or None, values, names)
    window = items[page.skip : page.skip + page.take]
    data = {"conversations": [summary(item, now).to_wire() for item in window], "totalCount": len(items)}
    return data, page.page_of(len(items))


def load(conversation_id: str) -> Item:
    """The conversation, once the caller is known to hold its shop (404 before 403 only for ids that
    do not exist at all)."""
    item = conversation_store.get(get_table(), conversation_id)
    if item is None:
        raise NotFound("Conversation not found", code="CONVERSATION_NOT_FOUND", field="conversationId")
    current_request().authorise_shop(str(item["shopId"]))
    return item


def message_view(item: Item) -> MessageView:
    return MessageView(
        id=item["id"],
        whats_app_message_id=item.get("whatsAppMessageId"),
        direction=item["direction"],
        content=item.get("content", {}),
        status=item.get("status", "unknown"),
        timestamp=item["timestamp"],
        context=item.get("context"),
        referral=item.get("referral"),
        errors=item.get("errors"),
    )


def get_conversation(conversation_id: str, before: str | None) -> ConversationDetail:
    item = load(conversation_id)
    table = get_table()
    recent = message_store.recent_in_conversation(table, conversation_id, MESSAGES_PER_PAGE + 1, before)
    has_older = len(recent) > MESSAGES_PER_PAGE
    recent = recent[:MESSAGES_PER_PAGE]
    customer = customer_store.get(table, str(item["shopId"]), str(item["customerKey"])) or {}
    return ConversationDetail(
        id=item["id"],
        shop_id=item["shopId"],
        customer=ConversationCustomer(
            id=customer.get("id"),
            wa_id=customer.get("waId"),
            bsuid=customer.get("bsuid"),
            name=customer.get("name", item.get("customerName")),
            tags=list(customer.get("tags", [])),
        ),
        status=display_status(item, now_iso()),
        assigned_agent_id=item.get("assignedAgentId"),
        messages=[message_view(message) for message in reversed(recent)],
        message_count=int(item.get("messageCount", 0)),
        older_messages_cursor=str(recent[-1]["GSI1SK"]) if has_older and recent else None,
        last_message_at=item["lastMessageAt"],
        created_at=item["createdAt"],
        expires_at=item["windowExpiresAt"],
        closed_at=item.get("closedAt"),
    )
