"""Conversations: one item each (``PK = CONV#<id>``), listed per shop newest ``lastMessageAt`` first
through GSI1 (``SHOP#<shop>#CONVERSATIONS`` / ``<lastMessageAt>#<id>``).

The stored ``status`` is ``open`` or ``closed``; ``active`` and ``expired`` are an open conversation
before and after its customer-service window (``windowExpiresAt``; not the table's TTL attribute).

What the conversation metrics count (docs/analytics.md, "Conversations") is kept on the item, in the same
writes as the facts: ``awaitingSince`` (a customer message waiting for the shop's answer, set by the
inbound write when absent), ``lastResponse`` (``{at, seconds, by}``: the shop's answer that ended the
wait, set by the send's write, which removes ``awaitingSince``), ``humanTouched`` (an agent sent a
message) and ``aiReplied`` (an AI agent sent one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mkt_whatsapp.core.clock import parse_iso
from mkt_whatsapp.store import keys
from mkt_whatsapp.store.table import ConditionFailed, Item, Table, Write


class ConversationExists(ConditionFailed):
    """A conversation with this id exists already."""


class ConversationNotOpen(ConditionFailed):
    """The conversation is closed (or gone): it takes no inbound message, assignment or close."""


class ConversationGone(ConditionFailed):
    """The conversation does not exist."""


class WaitChanged(ConditionFailed):
    """The conversation's wait for the shop (``awaitingSince``) is not as read (or the conversation is gone)."""


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
    awaiting_since: str | None = None,
) -> Write:
    """Count an inbound message on an open conversation and move its window. ``awaiting_since`` (the
    message's time, when it asks for an answer) opens a wait for the shop unless one is open."""
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
    if awaiting_since:
        sets += ", awaitingSince = if_not_exists(awaitingSince, :awaiting)"
        values[":awaiting"] = awaiting_since
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
    """Close an open conversation (the customer's next inbound message opens a new one); a wait for the
    shop ends with it, unanswered."""
    return table.update_op(
        keys.conversation_pk(conversation_id),
        keys.CONVERSATION_SK,
        "SET #status = :closed, closedAt = :at, closedBy = :actor REMOVE awaitingSince",
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


RESPONDERS = ("human", "flow", "ai")


def responder_of(actor: str) -> str | None:
    """Who a sender is for the conversation metrics: ``flow:<id>`` a flow, ``ai:<id>`` an AI agent, a
    campaign or ``system`` nobody (their messages answer no one), anything else a human agent."""
    if actor.startswith("flow:"):
        return "flow"
    if actor.startswith("ai:"):
        return "ai"
    if actor.startswith("campaign:") or actor == "system":
        return None
    return "human"


def outbound_message_op(
    table: Table,
    conversation_id: str,
    at: str,
    *,
    responder: str | None = None,
    awaiting_since: str | None = None,
) -> Write:
    """Count an outbound message on a conversation (open or closed: templates may reach closed ones).

    A message of a ``responder`` (human, flow, ai) ends the conversation's wait for the shop:
    ``awaiting_since`` is the wait as read (None: none) and the write holds only if it still is
    (:class:`WaitChanged` otherwise: read again and retry); a wait ended records ``lastResponse``. A
    human's message sets ``humanTouched``, an AI agent's ``aiReplied``."""
    sets = ["lastMessageAt = :at", "GSI1SK = :sort"]
    values: dict[str, Any] = {":at": at, ":sort": keys.conversation_gsi1sk(at, conversation_id), ":one": 1}
    condition = "attribute_exists(PK)"
    removes = ""
    fails_with: type[ConditionFailed] = ConversationGone
    if responder is not None:
        fails_with = WaitChanged
        if responder == "human":
            sets.append("humanTouched = :true")
            values[":true"] = True
        elif responder == "ai":
            sets.append("aiReplied = :true")
            values[":true"] = True
        if awaiting_since is None:
            condition += " AND attribute_not_exists(awaitingSince)"
        else:
            seconds = max(0, int((parse_iso(at) - parse_iso(awaiting_since)).total_seconds()))
            sets.append("lastResponse = :response")
            values[":response"] = {"at": at, "seconds": seconds, "by": responder, "since": awaiting_since}
            values[":since"] = awaiting_since
            condition += " AND awaitingSince = :since"
            removes = " REMOVE awaitingSince"
    return table.update_op(
        keys.conversation_pk(conversation_id),
        keys.CONVERSATION_SK,
        f"SET {', '.join(sets)}{removes} ADD messageCount :one",
        values,
        condition=condition,
        fails_with=fails_with,
    )
