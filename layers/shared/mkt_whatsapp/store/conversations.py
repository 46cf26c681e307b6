"""Conversations: one item each (``PK = CONV#<id>``), listed per shop newest ``lastMessageAt`` first
through GSI1 (``SHOP#<shop>#CONVERSATIONS`` / ``<lastMessageAt>#<id>``).

The stored ``status`` is ``open`` or ``closed``; ``active`` and ``expired`` are an open conversation
before and after its customer-service window (``windowExpiresAt``; not the table's TTL attribute).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mkt_whatsapp.store import keys
from mkt_whatsapp.store.table import ConditionFailed, Item, Table, Write


class ConversationExists(ConditionFailed):
    """A conversation with this id exists already."""


class ConversationNotOpen(ConditionFailed):
    """The conversation is closed (or gone): it takes no inbound message, assignment or close."""


class ConversationGone(ConditionFailed):
    """The conversation does not exist."""


OPEN = "open"
CLOSED = "closed"


def new_conversation_op(table: Table, item: Mapping[str, Any]) -> Write:
    full = dict(item)
    full.update(
        PK=keys.conversation_pk(str(item["id"])),
        SK=keys.CONVERSATION_SK,
        entity="conversation",
        GSI1PK=keys.shop_conversations_gsi1pk(str(item["shopId"])),
        GSI1SK=keys.conversation_gsi1sk(str(item["lastMessageAt"]), str(item["id"])),
    )
    return table.put_op(full, condition="attribute_not_exists(PK)", fails_with=ConversationExists)


def inbound_message_op(
    table: Table,
    conversation_id: str,
    *,
    last_message_at: str,
    last_inbound_at: str,
    window_expires_at: str,
    customer_name: str | None,
) -> Write:
    """Count an inbound message on an open conversation and move its window."""
    sets = "lastMessageAt = :last, lastInboundAt = :inbound, windowExpiresAt = :window, GSI1SK = :sort"
    values: dict[str, Any] = {
        ":last": last_message_at,
        ":inbound": last_inbound_at,
        ":window": window_expires_at,
        ":sort": keys.conversation_gsi1sk(last_message_at, conversation_id),
        ":one": 1,
        ":open": OPEN,
    }
    if customer_name:
        sets += ", customerName = :name"
        values[":name"] = customer_name
    return table.update_op(
        keys.conversation_pk(conversation_id),
        keys.CONVERSATION_SK,
        f"SET {sets} ADD messageCount :one",
        values,
        condition="attribute_exists(PK) AND #status = :open",
        names={"#status": "status"},
        fails_with=ConversationNotOpen,
    )


def get(table: Table, conversation_id: str) -> Item | None:
    return table.get(keys.conversation_pk(conversation_id), keys.CONVERSATION_SK)


def list_for_shop(
    table: Table, shop_id: str, filter_expression: str | None, values: Mapping[str, Any], names: Mapping[str, str]
) -> list[Item]:
    """Every conversation of the shop matching the filter, newest ``lastMessageAt`` first."""
    return table.query_index(
        "GSI1",
        "GSI1PK",
        keys.shop_conversations_gsi1pk(shop_id),
        newest_first=True,
        filter_expression=filter_expression,
        values=values,
        names=names,
    )


def close_op(table: Table, conversation_id: str, at: str, actor: str) -> Write:
    """Close an open conversation (the customer's next inbound message opens a new one)."""
    return table.update_op(
        keys.conversation_pk(conversation_id),
        keys.CONVERSATION_SK,
        "SET #status = :closed, closedAt = :at, closedBy = :actor",
        {":closed": CLOSED, ":at": at, ":open": OPEN, ":actor": actor},
        condition="attribute_exists(PK) AND #status = :open",
        names={"#status": "status"},
        fails_with=ConversationNotOpen,
    )


def assign_op(table: Table, conversation_id: str, agent_id: str, at: str, actor: str) -> Write:
    """Assign an open conversation to a human agent; automation stops on it."""
    return table.update_op(
        keys.conversation_pk(conversation_id),
        keys.CONVERSATION_SK,
        "SET assignedAgentId = :agent, assignedAt = :at, assignedBy = :actor, automationStopped = :true",
        {":agent": agent_id, ":at": at, ":actor": actor, ":true": True, ":open": OPEN},
        condition="attribute_exists(PK) AND #status = :open",
        names={"#status": "status"},
        fails_with=ConversationNotOpen,
    )


def outbound_message_op(table: Table, conversation_id: str, at: str) -> Write:
    """Count an outbound message on a conversation (open or closed: templates may reach closed ones)."""
    return table.update_op(
        keys.conversation_pk(conversation_id),
        keys.CONVERSATION_SK,
        "SET lastMessageAt = :at, GSI1SK = :sort ADD messageCount :one",
        {":at": at, ":sort": keys.conversation_gsi1sk(at, conversation_id), ":one": 1},
        condition="attribute_exists(PK)",
        fails_with=ConversationGone,
    )
