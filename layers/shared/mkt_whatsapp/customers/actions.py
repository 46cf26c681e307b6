"""Changing a customer: tags (added and removed in one atomic step) and consent (with its trail). Who
changes them — an agent, a flow, an AI agent, ``system`` — is recorded (``tagsUpdatedBy``, the consent
trail's ``actor``)."""

from __future__ import annotations

from typing import Any

from mkt_whatsapp.core.errors import BadRequest, BusinessRuleViolation
from mkt_whatsapp.core.retry import optimistically
from mkt_whatsapp.customers.reading import find, normalise_tag
from mkt_whatsapp.messaging import consent
from mkt_whatsapp.store import customers as customer_store
from mkt_whatsapp.store import get_table
from mkt_whatsapp.store.table import TransactionConflict

MAX_TAGS_PER_CUSTOMER = 50
MAX_ATTEMPTS = 5


def normalised_tags(tags: list[str], field: str) -> list[str]:
    """Tags as they are kept (lowercase kebab-case); 400 naming the first that keeps nothing (``field[i]``)."""
    result = []
    for index, tag in enumerate(tags):
        name = normalise_tag(tag)
        if not name:
            raise BadRequest(
                f"Validation failed: {field}[{index}] is not a usable tag",
                code="INVALID_VALUE",
                field=f"{field}[{index}]",
            )
        result.append(name)
    return result


def update_tags(shop_id: str, wa_id: str, add_tags: list[str], remove_tags: list[str], *, actor: str) -> dict[str, Any]:
    """Add and remove tags in one atomic step (lowercase kebab-case, at most 50 per customer)."""
    add = normalised_tags(add_tags, "addTags")
    remove = set(normalised_tags(remove_tags, "removeTags"))
    table = get_table()

    def attempt() -> dict[str, Any]:
        item = find(shop_id, wa_id)
        tags = [tag for tag in dict.fromkeys([*item.get("tags", []), *add]) if tag not in remove]
        if len(tags) > MAX_TAGS_PER_CUSTOMER:
            raise BusinessRuleViolation(
                f"A customer may have at most {MAX_TAGS_PER_CUSTOMER} tags", code="TAG_LIMIT_EXCEEDED", field="addTags"
            )
        changes = {"tags": tags, "tagsUpdatedBy": actor}
        version = int(item.get("version", 0))
        table.transact_write(
            [customer_store.update_customer_op(table, shop_id, customer_store.key_of(item), version, changes)]
        )
        return {"waId": item.get("waId") or wa_id, "tags": tags}

    return optimistically(
        attempt,
        attempts=MAX_ATTEMPTS,
        retry_on=(customer_store.CustomerChanged, TransactionConflict),
        exhausted=consent.concurrent_update,
    )


def update_consent(shop_id: str, wa_id: str, status: str, source: str, *, actor: str) -> dict[str, Any]:
    """Set the customer's consent and append the change to their consent trail."""
    item = find(shop_id, wa_id)
    item, changed = consent.set_consent(
        shop_id, customer_store.key_of(item), status, source, actor=actor, customer=item
    )
    return {"waId": item.get("waId") or wa_id, "consent": changed}
