"""Reading conversations: the shop's list (filters, newest first, exact totals), one conversation as
stored (for any caller that acts on it) and one conversation with its most recent messages."""

from __future__ import annotations

from typing import Any

from mkt_whatsapp.core.clock import now_iso
from mkt_whatsapp.core.errors import NotFound
from mkt_whatsapp.models.conversations import (
    ConversationCustomer,
    ConversationDetail,
    ConversationStatus,
    ConversationSummary,
    MessageView,
)
from mkt_whatsapp.store import conversations as conversation_store
from mkt_whatsapp.store import customers as customer_store
from mkt_whatsapp.store import get_table
from mkt_whatsapp.store import messages as message_store
from mkt_whatsapp.store.table import Item

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
        needs_human=bool(item.get("needsHuman")),
        last_message_at=item["lastMessageAt"],
        message_count=int(item.get("messageCount", 0)),
        tags=list(item.get("tags", [])),
        created_at=item["createdAt"],
        expires_at=item["windowExpiresAt"],
    )


def list_conversations(
    shop_id: str,
    status: ConversationStatus | None,
    assigned_agent_id: str | None,
    *,
    skip: int,
    take: int,
    needs_human: bool | None = None,
) -> tuple[dict[str, Any], int]:
    """The shop's conversations ``skip``..``skip + take``, newest message first, and how many match."""
    now = now_iso()
    clauses: list[str] = []
    values: dict[str, Any] = {}
    names: dict[str, str] = {}
    if status:
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
    if needs_human is True:
        clauses.append("needsHuman = :true")
        values[":true"] = True
    elif needs_human is False:
        clauses.append("(attribute_not_exists(needsHuman) OR needsHuman = :false)")
        values[":false"] = False
    items = conversation_store.list_for_shop(get_table(), shop_id, " AND ".join(clauses) or None, values, names)
    window = items[skip : skip + take]
    data = {"conversations": [summary(item, now).to_wire() for item in window], "totalCount": len(items)}
    return data, len(items)


def load(conversation_id: str, shop_id: str | None = None) -> Item:
    """The conversation as stored; 404 when there is none (or, given ``shop_id``, none of that shop's).
    An API handler loads it without a shop and then authorises the caller for the shop it names."""
    item = conversation_store.get(get_table(), conversation_id)
    if item is None or (shop_id is not None and item.get("shopId") != shop_id):
        raise not_found()
    return item


def not_found() -> NotFound:
    return NotFound("Conversation not found", code="CONVERSATION_NOT_FOUND", field="conversationId")


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
        sent_by=item.get("sentBy"),
        ai=item.get("ai"),
    )


def detail(item: Item, before: str | None) -> ConversationDetail:
    """The conversation ``item`` with its messages older than the ``before`` cursor (the newest without)."""
    table = get_table()
    recent = message_store.recent_in_conversation(table, str(item["id"]), MESSAGES_PER_PAGE + 1, before)
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
        needs_human=bool(item.get("needsHuman")),
        handoff=item.get("handoff"),
        ai_stopped=bool(item.get("aiStopped")),
        messages=[message_view(message) for message in reversed(recent)],
        message_count=int(item.get("messageCount", 0)),
        older_messages_cursor=str(recent[-1]["GSI1SK"]) if has_older and recent else None,
        last_message_at=item["lastMessageAt"],
        created_at=item["createdAt"],
        expires_at=item["windowExpiresAt"],
        closed_at=item.get("closedAt"),
    )
