"""The automation dispatcher: what answers a customer's message once it is stored.

Every inbound message is offered, once, to the responders in order; the first that claims it answers it
and the rest are not asked. The order is the automation guide's: a flow waiting on this conversation,
then flow triggers (button reply, keyword, new customer, any message), then the shop's active AI agent.
Today no responder is registered (those features land next), so nothing answers and nothing is paid.

Exactly once under redelivery: while responders exist, a message is stored with ``automation: pending``
and the outcome (the claiming responder's name, or ``none``) is written once the dispatch is done. A
redelivered webhook finds the message stored; it is offered again only if its dispatch never finished
(the processor stopped in between), so a responder must hand its work on idempotently, keyed by the
message id (a queue message deduplicated on it, a state machine execution named after it). A responder
that raises fails the queue record, and the retry dispatches the still-pending message again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

PENDING = "pending"
NOBODY = "none"


@dataclass(frozen=True, slots=True)
class StoredInbound:
    """An inbound message as stored, with what a responder needs to decide whether to answer it."""

    shop_id: str
    message_id: str
    whatsapp_message_id: str
    conversation_id: str
    customer_key: str
    content: Mapping[str, Any]
    new_customer: bool
    new_conversation: bool
    referral: Mapping[str, Any] | None = None


# A responder answers (and returns True) or leaves the message to the next one (False).
Responder = Callable[[StoredInbound], bool]

_responders: list[tuple[str, Responder]] = []


def register(name: str, responder: Responder) -> None:
    """Add a responder after those registered before it (the features register in the guide's order)."""
    if any(existing == name for existing, _ in _responders):
        raise ValueError(f"responder {name} is registered already")
    _responders.append((name, responder))


def unregister(name: str) -> None:
    _responders[:] = [(existing, responder) for existing, responder in _responders if existing != name]


def has_responders() -> bool:
    return bool(_responders)


def dispatch(message: StoredInbound) -> str:
    """Offer ``message`` to the responders in order; returns who answered it, or ``"none"``."""
    for name, responder in list(_responders):
        if responder(message):
            return name
    return NOBODY
