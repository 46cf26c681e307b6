"""Acting on a conversation: assigning it to a human agent (automation stops on it) and closing it (the
customer's next message opens a new conversation). Whoever acts — an agent, a flow, an AI agent,
``system`` — is recorded (``assignedBy``, ``closedBy``)."""

from __future__ import annotations

from typing import Any

from mkt_whatsapp.conversations.reading import load
from mkt_whatsapp.core.clock import now_iso
from mkt_whatsapp.core.errors import BusinessRuleViolation, NotFound
from mkt_whatsapp.store import conversations as conversation_store
from mkt_whatsapp.store import customers as customer_store
from mkt_whatsapp.store import get_table
from mkt_whatsapp.store.table import Item


def _closed() -> BusinessRuleViolation:
    return BusinessRuleViolation("The conversation is closed", code="CONVERSATION_CLOSED", field="conversationId")


def _require_shop(shop_id: str, conversation: Item) -> None:
    if conversation.get("shopId") != shop_id:
        raise NotFound("Conversation not found", code="CONVERSATION_NOT_FOUND", field="conversationId")


def assign(shop_id: str, conversation: Item, agent_id: str, *, actor: str) -> dict[str, Any]:
    """Assign ``conversation`` (as read) of ``shop_id`` to the human agent ``agent_id``."""
    _require_shop(shop_id, conversation)
    conversation_id = str(conversation["id"])
    if conversation.get("status") == conversation_store.CLOSED:
        raise _closed()
    at = now_iso()
    table = get_table()
    try:
        table.transact_write([conversation_store.assign_op(table, conversation_id, agent_id, at, actor)])
    except conversation_store.ConversationNotOpen as closed:
        raise _closed() from closed
    return {"conversationId": conversation_id, "assignedAgentId": agent_id, "assignedAt": at}


def close(shop_id: str, conversation: Item, *, actor: str) -> dict[str, Any]:
    """Close ``conversation`` (as read) of ``shop_id``; closing a closed conversation answers with when it
    was closed."""
    _require_shop(shop_id, conversation)
    conversation_id = str(conversation["id"])
    if conversation.get("status") == conversation_store.CLOSED:
        return {"conversationId": conversation_id, "status": "closed", "closedAt": conversation.get("closedAt")}
    at = now_iso()
    table = get_table()
    customer_key = str(conversation["customerKey"])
    try:
        table.transact_write(
            [
                conversation_store.close_op(table, conversation_id, at, actor),
                customer_store.release_conversation_op(table, shop_id, customer_key, conversation_id),
            ]
        )
    except conversation_store.ConversationNotOpen:
        return close(shop_id, load(conversation_id, shop_id), actor=actor)  # closed concurrently: that close
    except customer_store.CustomerMovedOn:
        # The customer already moved on to another conversation: close this one alone.
        table.transact_write([conversation_store.close_op(table, conversation_id, at, actor)])
    return {"conversationId": conversation_id, "status": "closed", "closedAt": at}
