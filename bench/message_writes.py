"""What each write unit of an inbound message buys, and what other designs of the same storage would write.

Issue 13: "≤ $4 per million inbound messages with the analytics counters included … Where the
exactly-once design and the target conflict, measure the cheapest design that keeps exactly-once and show
what each write unit buys." Everything here is computed by bench/dynamo_cost.py from the item images of
one real processor run (bench/inbound.py: a known customer's text into its open conversation, matching no
flow, the dispatcher's responders registered as functions/inbound registers them): the **breakdown**
splits the measured write units by item and by target (the base table, the transaction's doubling, each
index) and names what each buys; the **designs** bill the same images written another way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bench import dynamo_cost
from bench.dynamo_cost import ATTRIBUTES_CHANGED, KEY_CHANGE, NEW_ENTRY, ItemWrite

MESSAGE, CONVERSATION, CUSTOMER, OUTCOME = "message", "conversation", "customer", "automation outcome"
ROLES = (MESSAGE, CONVERSATION, CUSTOMER, OUTCOME)
TABLE, TRANSACTION = "table", "transaction ×2"
ATOMIC = "atomicity: no half-stored message after a crash"

# What a write unit buys: (item, target, what the write does to the index entry, if an index).
PURPOSES: dict[tuple[str, str, str | None], str] = {
    (MESSAGE, TABLE, None): "exactly-once storage of the message (put conditional on its id)",
    (MESSAGE, TRANSACTION, None): ATOMIC,
    (MESSAGE, "GSI1", NEW_ENTRY): "message in the conversation's list (GSI1)",
    (CONVERSATION, TABLE, None): "conversation's messageCount, lastMessageAt, 24-hour window",
    (CONVERSATION, TRANSACTION, None): ATOMIC,
    (CONVERSATION, "GSI1", KEY_CHANGE): (
        "conversation moves to the top of the shop's list (GSI1 key change: delete+put)"
    ),
    (CONVERSATION, "GSI1", ATTRIBUTES_CHANGED): "conversation's entry in the shop's list (GSI1 projects ALL)",
    (CUSTOMER, TABLE, None): "customer's lastContactedAt, activeConversation; version serialises its messages",
    (CUSTOMER, TRANSACTION, None): ATOMIC,
    (OUTCOME, TABLE, None): "who answered, over pending: exactly-once dispatch",
    (OUTCOME, "GSI1", ATTRIBUTES_CHANGED): "the outcome in the conversation's message list (GSI1 projects ALL)",
}

# What a stored message carries only so that a redelivery can dispatch it again (inbound/processor.py).
DISPATCH_FIELDS = frozenset({"automation", "newCustomer", "newConversation"})
# Powertools' idempotency record (DynamoDBPersistenceLayer, default attribute names, a table of its own
# with no index), keyed by the function's name and the MD5 of the payload (here the wamid).
IDEMPOTENCY_KEY_PREFIX = "mkt-whatsapp-service-InboundProcessorFunction-1A2B3C4D5E6F.receive_message"
IDEMPOTENCY_EXPIRY_SECONDS = 3600
IN_PROGRESS_MS = 60_000


class UnexplainedWrite(AssertionError):
    """The processor wrote something the breakdown cannot name the purpose of: say what it buys here."""


def role_of(write: ItemWrite) -> str:
    from mkt_whatsapp.store import keys

    sk = write.key[1]
    if sk == keys.MESSAGE_SK:
        if write.kind == "Put":
            return MESSAGE
        if write.kind == "Update" and not write.transactional:
            return OUTCOME
    if sk == keys.CONVERSATION_SK and write.kind == "Update":
        return CONVERSATION
    if sk.startswith(keys.CUSTOMER_PREFIX) and write.kind == "Update":
        return CUSTOMER
    raise UnexplainedWrite(
        f"{write.operation} {write.kind} of {write.key}: not a write of a message into its conversation"
    )


def by_role(written: Iterable[ItemWrite]) -> dict[str, ItemWrite]:
    found: dict[str, ItemWrite] = {}
    for write in written:
        role = role_of(write)
        if role in found:
            raise UnexplainedWrite(f"{role} written twice")
        found[role] = write
    missing = [role for role in ROLES if role not in found]
    if missing:
        raise UnexplainedWrite(f"no write of the {', '.join(missing)} (responders registered? see bench/inbound.py)")
    return found


def breakdown(written: list[ItemWrite]) -> list[dict[str, Any]]:
    """One row per item and target, in the order written: its write units and what they buy."""
    roles = by_role(written)
    rows = []
    for role in ROLES:
        write = roles[role]
        units = write.units
        request = f"{write.operation} {write.kind}" if write.transactional else write.operation
        base = units[TABLE] // 2 if write.transactional else units[TABLE]
        targets: list[tuple[str, int, str | None]] = [(TABLE, base, None)]
        if write.transactional:
            targets.append((TRANSACTION, units[TABLE] - base, None))
        targets += [
            (index, units[index], dynamo_cost.index_change(write.before, write.after, index))
            for index in dynamo_cost.INDEXES
            if index in units
        ]
        for target, wru, change in targets:
            buys = PURPOSES.get((role, target, change))
            if buys is None:
                raise UnexplainedWrite(f"{role}: {wru} WRU on {target} ({change}) buys nothing named in PURPOSES")
            rows.append({"item": role, "request": request, "target": target, "write_units": wru, "buys": buys})
    return rows


@dataclass(frozen=True)
class Design:
    key: str
    statement: str
    exactly_once: bool
    why: str
    # (what is written, before, after, transactional), one per item write
    writes: list[tuple[str, dict[str, Any] | None, dict[str, Any] | None, bool]]
    write_calls: int

    def figures(self) -> dict[str, Any]:
        by_item = {
            label: dynamo_cost.write_units(before, after, transactional)
            for label, before, after, transactional in self.writes
        }
        return {
            "design": self.key,
            "statement": self.statement,
            "write_units": sum(sum(units.values()) for units in by_item.values()),
            "by_item": by_item,
            "write_calls": self.write_calls,
            "exactly_once": self.exactly_once,
            "why": self.why,
        }


def idempotency_records(write: ItemWrite) -> tuple[dict[str, Any], dict[str, Any]]:
    """Powertools' record for the message, as it puts it (INPROGRESS) and as it updates it (COMPLETED)."""
    message = write.after or {}
    at = int(datetime.fromisoformat(str(message["timestamp"])).timestamp())
    digest = hashlib.md5(str(message.get("whatsAppMessageId", "")).encode(), usedforsecurity=False).hexdigest()
    in_progress = {
        "id": f"{IDEMPOTENCY_KEY_PREFIX}#{digest}",
        "expiration": at + IDEMPOTENCY_EXPIRY_SECONDS,
        "in_progress_expiration": at * 1000 + IN_PROGRESS_MS,
        "status": "INPROGRESS",
    }
    return in_progress, {**in_progress, "status": "COMPLETED", "data": "null"}


def designs(written: list[ItemWrite]) -> list[dict[str, Any]]:
    """The same message, conversation and customer images written by each design, billed alike."""
    roles = by_role(written)
    message, conversation, customer, outcome = (roles[role] for role in ROLES)
    pending = message.after
    bare = {name: value for name, value in (pending or {}).items() if name not in DISPATCH_FIELDS}
    conversation_images = (conversation.before, conversation.after)
    customer_images = (customer.before, customer.after)
    settled = ("automation outcome", pending, outcome.after, False)
    in_progress, completed = idempotency_records(message)
    plain_items: list[tuple[str, dict[str, Any] | None, dict[str, Any] | None, bool]] = [
        ("message put", None, bare, False),
        ("conversation update", *conversation_images, False),
        ("customer update", *customer_images, False),
    ]
    return [
        Design(
            "a",
            "today's: one transaction (message put conditional on its id, conversation update, customer update "
            "with its version), then the automation outcome over pending",
            True,
            "a redelivery cancels on the message's condition; a crash leaves nothing half-applied; the "
            "customer's version serialises its concurrent messages",
            [
                ("message put (transaction)", None, pending, True),
                ("conversation update (transaction)", *conversation_images, True),
                ("customer update (transaction)", *customer_images, True),
                settled,
            ],
            2,
        ).figures(),
        Design(
            "b",
            "the customer left out of the transaction unless something about it changes (a new conversation, "
            "name, number, consent, order): here a transaction of the message and the conversation, then the "
            "outcome",
            True,
            "message and conversation still all or none; loses the customer's lastContactedAt and "
            "activeConversation times (they stay at the conversation's opening; the conversation has them) and "
            "the per-customer serialisation (concurrent messages of one customer could leave the conversation's "
            "lastMessageAt at the older one unless its update is made conditional on it)",
            [
                ("message put (transaction)", None, pending, True),
                ("conversation update (transaction)", *conversation_images, True),
                settled,
            ],
            2,
        ).figures(),
        Design(
            "b2",
            "as (b), and the customer refreshed by a plain update after the transaction (no version)",
            True,
            "message and conversation all or none; the customer's refresh is not: a crash between leaves its "
            "lastContactedAt a message behind; no per-customer serialisation",
            [
                ("message put (transaction)", None, pending, True),
                ("conversation update (transaction)", *conversation_images, True),
                ("customer update", *customer_images, False),
                settled,
            ],
            3,
        ).figures(),
        Design(
            "c",
            "no transaction: the message's conditional put, then plain conversation and customer updates, then "
            "the outcome",
            False,
            "NOT exactly-once: a crash after the put and before the updates, and the redelivery finds the message "
            "stored and stops, so the conversation never counts it nor moves (redone instead, ADD messageCount "
            "counts it twice)",
            [
                ("message put (conditional)", None, pending, False),
                ("conversation update", *conversation_images, False),
                ("customer update", *customer_images, False),
                settled,
            ],
            4,
        ).figures(),
        Design(
            "d",
            "Powertools idempotency (a record keyed by the wamid, its own table) around storing and dispatching "
            "the message: record put INPROGRESS, plain message put, conversation and customer updates, record "
            "update COMPLETED (the record replaces pending and the outcome)",
            False,
            "NOT exactly-once under a crash: the record stays INPROGRESS, and once it expires the retry redoes "
            "every write (messageCount counted twice) and the dispatch; it dedupes redeliveries of finished "
            "messages only",
            [
                ("idempotency record put", None, in_progress, False),
                *plain_items,
                ("idempotency record update", in_progress, completed, False),
            ],
            5,
        ).figures(),
        Design(
            "floor",
            "the floor: the writes the API's data needs with no exactly-once machinery (plain message put, "
            "conversation update, customer update; no condition, no transaction, no outcome)",
            False,
            "NOT exactly-once: a redelivery overwrites the message, counts it again and dispatches it again",
            plain_items,
            3,
        ).figures(),
    ]


def measure(
    writes: list[tuple[str, dict[str, Any]]],
    before: dict[tuple[str, str], dict[str, Any]],
    after: dict[tuple[str, str], dict[str, Any]],
) -> dict[str, Any]:
    """The breakdown and the designs of one processed message (its writes and the table around them)."""
    written = dynamo_cost.item_writes(writes, before, after)
    rows = breakdown(written)
    measured = dynamo_cost.write_units_of(writes, before, after)["total"]
    total = sum(row["write_units"] for row in rows)
    if total != measured:
        raise UnexplainedWrite(f"the breakdown sums to {total} WRU, the writes measured {measured}")
    return {"write_units_breakdown": {"total": total, "rows": rows}, "designs": designs(written)}
