"""Agents acting on a conversation: assigning it (automation stops) and closing it (the customer's next
message opens a new conversation)."""

from __future__ import annotations

from typing import Any

from mkt_whatsapp.clock import now_iso
from mkt_whatsapp.conversations import load
from mkt_whatsapp.errors import BusinessRuleViolation
from mkt_whatsapp.models.conversations import AssignRequest
from mkt_whatsapp.store import conversations as conversation_store
from mkt_whatsapp.store import customers as customer_store
from mkt_whatsapp.store import get_table
from mkt_whatsapp.store.table import TransactionCancelled


def _closed(conversation_id: str) -> BusinessRuleViolation:
    return BusinessRuleViolation("The conversation is closed", code="CONVERSATION_CLOSED", field="conversationId")


def assign(conversation_id: str, request: AssignRequest) -> dict[str, Any]:
    conversation = load(conversation_id)
    if conversation.get("status") == conversation_store.CLOSED:
        raise _closed(conversation_id)
    at = now_iso()
    table = get_table()
    try:
        table.transact_write([conversation_store.assign_op(table, conversation_id, request.agent_id, at)])
    except TransactionCancelled as cancelled:
        raise _closed(conversation_id) from cancelled
    return {"conversationId": conversation_id, "assignedAgentId": request.agent_id, "assignedAt": at}


def close(conversation_id: str) -> dict[str, Any]:
    """Close the conversation; closing a closed conversation answers with when it was closed."""
    conversation = load(conversation_id)
    if conversation.get("status") == conversation_store.CLOSED:
        return {"conversationId": conversation_id, "status": "closed", "closedAt": conversation.get("closedAt")}
    at = now_iso()
    table = get_table()
    shop_id, customer_key = str(conversation["shopId"]), str(conversation["customerKey"])
    try:
        table.transact_write(
            [
                conversation_store.close_op(table, conversation_id, at),
                customer_store.release_conversation_op(table, shop_id, customer_key, conversation_id),
            ]
        )
    except TransactionCancelled as cancelled:
        if cancelled.reasons and cancelled.reasons[0] == "ConditionalCheckFailed":
            return close(conversation_id)  # closed concurrently: answer with that close
        # The customer already moved on to another conversation: close this one alone.
        table.transact_write([conversation_store.close_op(table, conversation_id, at)])
    return {"conversationId": conversation_id, "status": "closed", "closedAt": at}
