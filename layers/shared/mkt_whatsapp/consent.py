"""Changing a customer's consent: the customer item and its consent trail, in one transaction.

Kept free of the API models so the sender can record Meta's 131050 ("user stopped marketing messages")
as an opt-out without loading them."""

from __future__ import annotations

import time
import uuid
from typing import Any

from mkt_whatsapp.clock import now_iso
from mkt_whatsapp.errors import Conflict
from mkt_whatsapp.store import customers as customer_store
from mkt_whatsapp.store import get_table
from mkt_whatsapp.store.table import Item, TransactionCancelled

MAX_ATTEMPTS = 5
# Meta's error: the user stopped marketing messages from this business.
USER_STOPPED_MARKETING = 131050


def set_consent(
    shop_id: str, customer_key: str, status: str, source: str, customer: Item | None = None
) -> tuple[Item, dict[str, Any]]:
    """Set consent; returns the customer as read and the new consent. Raises ``LookupError`` for an
    unknown customer and :class:`Conflict` if the customer keeps changing under us."""
    table = get_table()
    consent = {"status": status, "timestamp": now_iso(), "source": source}
    # Orders changes made within the same second, and keeps concurrent ones apart.
    reference = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
    for _attempt in range(MAX_ATTEMPTS):
        item = customer if customer is not None else customer_store.get(table, shop_id, customer_key)
        customer = None  # a retry reads again
        if item is None:
            raise LookupError(customer_key)
        try:
            table.transact_write(
                [
                    customer_store.update_customer_op(
                        table, shop_id, customer_key, int(item.get("version", 0)), {"consent": consent}
                    ),
                    customer_store.consent_event_op(table, shop_id, customer_key, consent, reference=reference),
                ]
            )
        except TransactionCancelled:
            continue
        return item, consent
    raise Conflict("The customer is being changed concurrently; retry", code="CONCURRENT_UPDATE")


def record_meta_opt_out(shop_id: str, customer_key: str) -> None:
    """Meta refused a marketing message because the user stopped them (131050): keep that as consent."""
    set_consent(shop_id, customer_key, "opted_out", "whatsapp")
