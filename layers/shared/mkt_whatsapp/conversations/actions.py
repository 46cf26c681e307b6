"""Acting on a conversation: assigning it to a human agent (automation stops on it) and closing it (the
customer's next message opens a new conversation). Whoever acts — an agent, a flow, an AI agent,
``system`` — is recorded (``assignedBy``, ``closedBy``)."""

from __future__ import annotations

from typing import Any

from mkt_whatsapp.conversations.reading import load
from mkt_whatsapp.core.clock import now_iso
from mkt_whatsapp.core.errors import BusinessRuleViolation, Conflict, NotFound
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


def open_for(shop_id: str, customer: Item, conversation_id: str, *, actor: str) -> Item:
    """The customer's open conversation, or one the business opens now for a template (a campaign's, to a
    customer whose last conversation was closed): ``conversation_id`` is the caller's, so a retry finds the
    one it opened. The customer's next message joins it, as it joins any open conversation. Opening it and
    making it the customer's active one is one transaction, guarded by the customer's ``version``: a
    customer's message opening one at the same moment wins, and that one is used."""
    table = get_table()
    customer_key = customer_store.key_of(customer)
    for _attempt in range(4):
        active = customer.get("activeConversation") or {}
        if active.get("id"):
            found = conversation_store.get(table, str(active["id"]))
            if found is not None:
                return found
        opened = conversation_store.get(table, conversation_id)
        if opened is not None:
            return opened
        at = now_iso()
        item: Item = {
            "id": conversation_id,
            "shopId": shop_id,
            "customerKey": customer_key,
            "customerWaId": customer.get("waId") or customer.get("bsuid"),
            "customerName": customer.get("name"),
            "status": conversation_store.OPEN,
            "createdAt": at,
            "lastMessageAt": at,
            "windowExpiresAt": at,  # no customer-service window: templates only, until the customer writes
            "messageCount": 0,
            "tags": [],
            "openedBy": actor,
        }
        summary = {"id": conversation_id, "lastMessageAt": at, "windowExpiresAt": at}
        try:
            table.transact_write(
                [
                    conversation_store.new_conversation_op(table, item),
                    customer_store.update_customer_op(
                        table,
                        shop_id,
                        customer_key,
                        int(customer.get("version", 0)),
                        {"activeConversation": summary},
                        adds={"conversationCount": 1},
                    ),
                ]
            )
            return item
        except (customer_store.CustomerChanged, conversation_store.ConversationExists):
            customer = customer_store.find(table, shop_id, [customer_key]) or customer
    raise Conflict("The customer is being changed; retry", code="CONCURRENT_UPDATE")
