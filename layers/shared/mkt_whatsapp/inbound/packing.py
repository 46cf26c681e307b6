"""How webhook changes travel on the inbound queue: the receiver packs them, the processor unpacks them.

A *unit* is what the processor applies in one go: one ``entry[].changes[]`` of a signed delivery
(``{"entryId": …, "field": "messages", "value": {…}}``), a piece of one (below), or a pointer to one kept
in S3 (``{"entryId", "field", "overflowKey"}``, :mod:`mkt_whatsapp.inbound.overflow`). A queue message is
a JSON array of units.

**Several units a message.** One SQS message per change made a delivery of 500 changes 500 messages and
50 SendMessageBatch calls before the 200 (3.6 s on moto in process; 50 round trips on AWS, where Meta
allows 5 s and asks for a median of 250 ms). Packed, it is 20 messages in 2 calls. The calls stay bounded
by the delivery's size: a message holds at most MAX_EVENTS_PER_MESSAGE events and MAX_MESSAGE_BYTES, a
call ten messages and 1 MiB (``core.queues``), so Meta's largest delivery (3 MB) of N events takes at most
about 3 + N / 250 calls.

**At most 25 events a message, so a huge change is split.** Lambda hands the processor up to ten messages
(the template's BatchSize) and applies them one after another in one invocation of at most 30 s. A new
customer's message costs about four DynamoDB calls (~40 ms on AWS), so 10 × 25 events stay near 10 s. A
change of 1,000 messages as one unit would take ~40 s in one invocation — past its timeout, so retried
for ever and then dead-lettered whole. The receiver therefore cuts a change of more than 25 events into
pieces of 25 (messages, then statuses, in Meta's order). Each piece keeps the change's other fields and
the ``contacts`` entries its messages are matched with (``ChangeValue.contact_for``'s rule, applied to the
raw entries, so every message finds the contact it would have found in the whole change); Meta's
change-level ``errors`` go with the first piece only, so they are logged once. A piece still larger than
a queue message is halved again, down to one event; one event larger than that goes to S3.

**Exactly once, several units a message.** Every effect of a unit is idempotent (a message's put is
conditional on its wamid-derived id; a status only moves forward), so a unit applied twice changes
nothing. When a unit of a message fails and others succeed, the processor queues the failed unit again
as a message of its own and reports the message done: the others are not redone and the failed one is
retried — failing again alone, it takes the queue's way (retried, then the dead-letter queue), never
dropped. Only if that requeue fails does the whole message fail; its retry then applies the other units
again, harmlessly. When every unit of a message fails (the table throttled, say), the message fails as it
is, rather than fanning out into a message per unit.

**Deploys.** The previous version queued one unit per message, as a JSON object; :func:`unpack` reads such
a message as a message of one unit, so what is in flight during a deploy is processed as before. A message
in the new shape is an array, not an object, on purpose: a processor of the previous version still running
during the deploy cannot read it as a change (``unit.get`` fails on a list), so the record fails and stays
on the queue for a new processor to take after the visibility timeout, instead of being skipped as "not a
WhatsApp messages value".
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

MAX_EVENTS_PER_MESSAGE = 25
MAX_MESSAGE_BYTES = 1_000_000  # under SQS's 1 MiB for a message and for a batch (core.queues.MAX_BATCH_BYTES)
MAX_UNIT_BYTES = MAX_MESSAGE_BYTES - 2  # a unit alone in a message: "[" + unit + "]"

Unit = dict[str, Any]
_EVENT_LISTS = ("messages", "statuses")


def encode(unit: Mapping[str, Any]) -> str:
    """A unit as JSON text. ASCII only (non-ASCII escaped, as Meta sends it): SQS refuses some characters
    a webhook may carry (U+FFFE, unpaired surrogates), and a character's bytes are then its length."""
    return json.dumps(unit, ensure_ascii=True, separators=(",", ":"))


def event_count(unit: Mapping[str, Any]) -> int:
    """The messages and statuses a unit carries (at least 1: a unit with neither still costs a call)."""
    value = unit.get("value")
    if not isinstance(value, Mapping):
        return 1
    return max(1, sum(len(value[name]) for name in _EVENT_LISTS if isinstance(value.get(name), list)))


def pieces(unit: Unit, size: int = MAX_EVENTS_PER_MESSAGE) -> list[Unit]:
    """The unit cut into pieces of at most ``size`` events (the unit itself when it has no more)."""
    value = unit.get("value")
    if not isinstance(value, Mapping):
        return [unit]
    events = [(name, event) for name in _EVENT_LISTS if isinstance(value.get(name), list) for event in value[name]]
    if len(events) <= size:
        return [unit]
    contacts = value.get("contacts")
    index = ContactIndex(contacts) if isinstance(contacts, list) else None
    starts = range(0, len(events), size)
    return [_piece(unit, value, events[start : start + size], index, first=start == 0) for start in starts]


def _piece(
    unit: Unit, value: Mapping[str, Any], events: list[tuple[str, Any]], index: ContactIndex | None, *, first: bool
) -> Unit:
    piece = {name: field for name, field in value.items() if name not in ("contacts", "errors", *_EVENT_LISTS)}
    messages = [event for name, event in events if name == "messages"]
    statuses = [event for name, event in events if name == "statuses"]
    if messages:
        piece["messages"] = messages
        if index is not None:
            piece["contacts"] = index.contacts_for(messages)
    if statuses:
        piece["statuses"] = statuses
    if first and "errors" in value:
        piece["errors"] = value["errors"]
    return {**unit, "value": piece}


class ContactIndex:
    """A change's ``contacts`` entries by phone number and by user id, to match its messages with them the
    way ``ChangeValue.contact_for`` does (the first entry naming the sender's phone or user id) without
    scanning every entry for every message (a change of 1,000 messages names 1,000 contacts)."""

    def __init__(self, contacts: list[Any]) -> None:
        self.contacts = contacts
        self._by_phone: dict[Any, int] = {}
        self._by_user_id: dict[Any, int] = {}
        for position, contact in enumerate(contacts):
            if isinstance(contact, Mapping):
                self._by_phone.setdefault(contact.get("wa_id"), position)
                self._by_user_id.setdefault(contact.get("user_id"), position)

    def position_for(self, message: Any) -> int | None:
        if not isinstance(message, Mapping):
            return None
        phone, user_id = message.get("from"), message.get("from_user_id")
        found = [
            position
            for position in (
                self._by_phone.get(phone) if phone else None,
                self._by_user_id.get(user_id) if user_id else None,
            )
            if position is not None
        ]
        return min(found, default=None)

    def contacts_for(self, messages: list[Any]) -> list[Any]:
        """The entries ``contact_for`` gives ``messages`` in the whole change, in their order, such that it
        gives each message the same entry (or none) in a piece holding only these."""
        if len(self.contacts) <= 1:
            return self.contacts  # the one entry is every message's
        kept: set[int] = set()
        unmatched = False
        for message in messages:
            position = self.position_for(message)
            if position is None:
                unmatched = True
            else:
                kept.add(position)
        if unmatched and len(kept) == 1:
            # a lone entry would be given to every message; one more keeps "none" for the unmatched ones
            kept.add(next(position for position in range(len(self.contacts)) if position not in kept))
        return [self.contacts[position] for position in sorted(kept)]


def encoded_pieces(unit: Unit) -> list[tuple[Unit, str]]:
    """The unit in pieces of at most MAX_EVENTS_PER_MESSAGE events and MAX_UNIT_BYTES each, with their
    JSON; a piece of one event may still be larger (the caller keeps it elsewhere)."""
    return [fitted for piece in pieces(unit) for fitted in _fit(piece)]


def _fit(piece: Unit) -> list[tuple[Unit, str]]:
    body = encode(piece)
    events = event_count(piece)
    if len(body) <= MAX_UNIT_BYTES or events <= 1:
        return [(piece, body)]
    return [fitted for half in pieces(piece, (events + 1) // 2) for fitted in _fit(half)]


def pack(units: Sequence[tuple[str, int]]) -> list[str]:
    """Queue message bodies for encoded units (``(json, events)``, each at most MAX_UNIT_BYTES), in
    order: as many units a message as MAX_EVENTS_PER_MESSAGE and MAX_MESSAGE_BYTES allow."""
    messages: list[list[str]] = []
    events = size = 0
    for body, count in units:
        if len(body) > MAX_UNIT_BYTES:
            raise ValueError("a unit larger than a queue message is kept in S3, not queued")
        if not messages or events + count > MAX_EVENTS_PER_MESSAGE or size + len(body) + 1 > MAX_MESSAGE_BYTES:
            messages.append([])
            events, size = 0, 1  # the brackets, and a comma per unit but the last
        messages[-1].append(body)
        events += count
        size += len(body) + 1
    return ["[" + ",".join(message) + "]" for message in messages]


def alone(unit: Mapping[str, Any]) -> str:
    """A queue message of this one unit (a unit the processor queues again after it failed)."""
    return "[" + encode(unit) + "]"


def unpack(body: Any) -> list[Unit]:
    """The units of a queue message: an array of units, or one unit (the shape the previous version
    queued, one change per message)."""
    units = body if isinstance(body, list) else [body]
    if not all(isinstance(unit, dict) for unit in units):
        raise ValueError("an inbound queue message holds objects (changes) only")
    return units
