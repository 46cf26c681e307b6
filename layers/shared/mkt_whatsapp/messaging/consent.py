"""Changing a customer's consent: the customer item and its consent trail, in one transaction.

Kept free of the API models so the sender can record Meta's 131050 ("user stopped marketing messages")
as an opt-out without loading them."""

from __future__ import annotations

import time
import uuid
from typing import Any

from mkt_whatsapp.core.clock import now_iso
from mkt_whatsapp.core.errors import Conflict
from mkt_whatsapp.core.retry import optimistically
from mkt_whatsapp.store import customers as customer_store
from mkt_whatsapp.store import get_table
from mkt_whatsapp.store.table import Item, TransactionConflict

MAX_ATTEMPTS = 5
# Meta's error: the user stopped marketing messages from this business.
USER_STOPPED_MARKETING = 131050


class UnknownCustomer(LookupError):
    """No customer of the shop has this key."""


def concurrent_update() -> Conflict:
    return Conflict("The customer is being changed concurrently; retry", code="CONCURRENT_UPDATE")


def set_consent(
    shop_id: str, customer_key: str, status: str, source: str, *, actor: str, customer: Item | None = None
) -> tuple[Item, dict[str, Any]]:
    """Set consent on behalf of ``actor``; returns the customer as read and the new consent. ``customer``:
    the customer as the caller read it (saves a read). Raises :class:`UnknownCustomer` and, if the
    customer keeps changing under us, :class:`Conflict`."""
    table = get_table()
    consent = {"status": status, "timestamp": now_iso(), "source": source}
    # Orders changes made within the same second, and keeps concurrent ones apart.
    reference = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
    given = iter([customer])  # the first attempt may use the caller's read; a retry reads again

    def attempt() -> Item:
        item = next(given, None) or customer_store.get(table, shop_id, customer_key)
        if item is None:
            raise UnknownCustomer(customer_key)
        table.transact_write(
            [
                customer_store.update_customer_op(
                    table, shop_id, customer_key, int(item.get("version", 0)), {"consent": consent}
                ),
                customer_store.consent_event_op(
                    table, shop_id, customer_key, {**consent, "actor": actor}, reference=reference
                ),
            ]
        )
        return item

    item = optimistically(
        attempt,
        attempts=MAX_ATTEMPTS,
        retry_on=(customer_store.CustomerChanged, TransactionConflict),
        exhausted=concurrent_update,
    )
    return item, consent


def record_meta_opt_out(shop_id: str, customer_key: str) -> None:
    """Meta refused a marketing message because the user stopped them (131050): keep that as consent."""
    set_consent(shop_id, customer_key, "opted_out", "whatsapp", actor="system")
