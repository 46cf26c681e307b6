"""Messages: one item each (``PK = MSG#<messageId>``), listed per conversation through GSI1
(``CONV#<id>#MESSAGES`` / ``<timestamp>#<messageId>``).

An inbound message's id is derived from its wamid, so the conditional put that stores it is also what
makes a redelivered webhook a no-op. An outbound message gets a pointer item from its wamid
(``WAMID#<wamid>``) once Meta has accepted it, so status webhooks find it with one read.

Delivery statuses only move forward: each has a rank and an update applies only over a lower rank.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mkt_whatsapp.store import keys
from mkt_whatsapp.store.table import ConditionFailed, Item, Table, Write


class MessageExists(ConditionFailed):
    """A message with this id is stored already: for an inbound message, a redelivery of its webhook."""


STATUS_RANK = {"queued": 0, "sent": 1, "delivered": 2, "read": 3, "played": 4, "failed": 9}
RECEIVED_RANK = 10  # inbound messages: no delivery status applies


def _with_keys(item: Mapping[str, Any]) -> Item:
    full = dict(item)
    full.update(
        PK=keys.message_pk(str(item["id"])),
        SK=keys.MESSAGE_SK,
        entity="message",
        GSI1PK=keys.conversation_messages_gsi1pk(str(item["conversationId"])),
        GSI1SK=keys.message_gsi1sk(str(item["timestamp"]), str(item["id"])),
    )
    return full


def new_message_op(table: Table, item: Mapping[str, Any]) -> Write:
    """Store a message once: a second put of the same id cancels the transaction."""
    return table.put_op(_with_keys(item), condition="attribute_not_exists(PK)", fails_with=MessageExists)


def link_wamid(table: Table, message_id: str, shop_id: str, whatsapp_message_id: str) -> None:
    """Point a wamid at its outbound message, so its statuses find it."""
    table.put(
        {
            "PK": keys.wamid_pk(whatsapp_message_id),
            "SK": keys.WAMID_SK,
            "entity": "wamid",
            "messageId": message_id,
            "shopId": shop_id,
        }
    )


def message_for_wamid(table: Table, whatsapp_message_id: str) -> Item | None:
    return table.get(keys.wamid_pk(whatsapp_message_id), keys.WAMID_SK)


def apply_status(
    table: Table, message_id: str, shop_id: str, status: str, timestamp: str, details: Mapping[str, Any]
) -> Item | None:
    """Move a message to ``status`` if that is forward; returns None if that changed nothing, else the
    message as stored now (its readers act on a failure, a campaign message's delivery)."""
    rank = STATUS_RANK[status]
    sets = ["#status = :status", "statusRank = :rank", "statusUpdatedAt = :at", "statusTimestamps.#name = :at"]
    values: dict[str, Any] = {":status": status, ":rank": rank, ":at": timestamp, ":shop": shop_id}
    names = {"#status": "status", "#name": status}
    for index, (name, value) in enumerate(details.items()):
        names[f"#d{index}"] = name
        values[f":d{index}"] = value
        sets.append(f"#d{index} = :d{index}")
    # failed only over queued/sent; every other status only over a lower rank
    values[":ceiling"] = STATUS_RANK["sent"] if status == "failed" else rank - 1
    applied = table.update_if(
        keys.message_pk(message_id),
        keys.MESSAGE_SK,
        "SET " + ", ".join(sets),
        values,
        names=names,
        condition="attribute_exists(PK) AND shopId = :shop AND statusRank <= :ceiling",
        return_values="ALL_NEW",  # costs no read unit
    )
    return applied


def get(table: Table, message_id: str) -> Item | None:
    return table.get(keys.message_pk(message_id), keys.MESSAGE_SK)


def recent_in_conversation(table: Table, conversation_id: str, limit: int, before: str | None) -> list[Item]:
    """Up to ``limit`` messages of a conversation, newest first, older than the ``before`` sort key."""
    return table.query_index(
        "GSI1",
        "GSI1PK",
        keys.conversation_messages_gsi1pk(conversation_id),
        newest_first=True,
        limit=limit,
        sort_key_below=before,
    )


def claim_for_sending(table: Table, message_id: str, at: str, stale_before: str) -> Item | None:
    """Move a queued message to ``sending`` (one sender at a time), or take over a ``sending`` claim last
    touched before ``stale_before`` (its sender stopped). Returns the message as it was before the claim
    (``status`` tells which case), or None if it is neither queued nor stale."""
    return table.update_if(
        keys.message_pk(message_id),
        keys.MESSAGE_SK,
        "SET #status = :sending, sendAttempts = if_not_exists(sendAttempts, :zero) + :one, lastAttemptAt = :at",
        {":sending": "sending", ":queued": "queued", ":zero": 0, ":one": 1, ":at": at, ":stale": stale_before},
        names={"#status": "status"},
        condition="#status = :queued OR (#status = :sending AND lastAttemptAt < :stale)",
        return_values="ALL_OLD",
    )


def mark_sent(table: Table, message_id: str, shop_id: str, whatsapp_message_id: str, at: str) -> None:
    """Record Meta's acceptance: the pointer statuses use, then the wamid and status ``sent``. Two plain
    writes, each idempotent, in the order that never leaves a status webhook without its message."""
    link_wamid(table, message_id, shop_id, whatsapp_message_id)
    sent = table.update_if(
        keys.message_pk(message_id),
        keys.MESSAGE_SK,
        "SET whatsAppMessageId = :wamid, #status = :sent, statusRank = :rank, statusTimestamps.#sent = :at, "
        "statusUpdatedAt = :at",
        {":wamid": whatsapp_message_id, ":sent": "sent", ":rank": STATUS_RANK["sent"], ":at": at},
        names={"#status": "status", "#sent": "sent"},
        condition="statusRank < :rank",
    )
    if sent is None:
        # A status webhook got here first (delivered, read…): keep its status, record the wamid.
        table.update(
            keys.message_pk(message_id),
            keys.MESSAGE_SK,
            "SET whatsAppMessageId = :wamid",
            {":wamid": whatsapp_message_id},
        )


def mark_failed(table: Table, message_id: str, at: str, errors: list[dict[str, Any]]) -> Item:
    """The message failed for good; returns it as stored now."""
    return table.update(
        keys.message_pk(message_id),
        keys.MESSAGE_SK,
        "SET #status = :failed, statusRank = :rank, statusTimestamps.#failed = :at, statusUpdatedAt = :at, "
        "errors = :errors",
        {":failed": "failed", ":rank": STATUS_RANK["failed"], ":at": at, ":errors": errors},
        names={"#status": "status", "#failed": "failed"},
        return_values="ALL_NEW",
    )


def requeue(table: Table, message_id: str) -> None:
    """Back to ``queued`` after a transient failure, for the outbound sender to retry."""
    table.update(
        keys.message_pk(message_id),
        keys.MESSAGE_SK,
        "SET #status = :queued",
        {":queued": "queued", ":sending": "sending"},
        names={"#status": "status"},
        condition="#status = :sending",
    )


def settle_automation(table: Table, message_id: str, outcome: str) -> None:
    """Record who answered an inbound message (the dispatcher's outcome), once: only over ``pending``."""
    table.update_if(
        keys.message_pk(message_id),
        keys.MESSAGE_SK,
        "SET automation = :outcome",
        {":outcome": outcome, ":pending": "pending"},
        condition="automation = :pending",
    )
