"""Customers of a shop, their identity pointers and consent history.

A customer item lives in its shop's partition (``SK = CUSTOMER#<customerKey>``); the key is the first
identifier the shop saw for the person (the BSUID when Meta sent one, else the phone number). Every
identifier (phone and BSUID) also gets a pointer item (``CUSTID#<identifier>`` → key), so a message that
names the person either way finds the same customer. ``version`` guards concurrent updates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mkt_whatsapp.store import keys
from mkt_whatsapp.store.table import ConditionFailed, Item, Table, Write


class CustomerExists(ConditionFailed):
    """A customer with this key exists already (another message created them first)."""


class CustomerChanged(ConditionFailed):
    """The customer's ``version`` moved since it was read: read again."""


class CustomerMovedOn(ConditionFailed):
    """The customer's active conversation is another one now."""


def find(table: Table, shop_id: str, identifiers: Iterable[str]) -> Item | None:
    """The customer any of ``identifiers`` names, read consistently (usually one BatchGetItem)."""
    wanted = [identifier for identifier in dict.fromkeys(identifiers) if identifier]
    if not wanted:
        return None
    pk = keys.shop_pk(shop_id)
    sort_keys = [keys.customer_sk(i) for i in wanted] + [keys.customer_identity_sk(i) for i in wanted]
    found = {item["SK"]: item for item in table.batch_get([(pk, sk) for sk in sort_keys], consistent=True)}
    for identifier in wanted:
        if keys.customer_sk(identifier) in found:
            return found[keys.customer_sk(identifier)]
    for identifier in wanted:
        pointer = found.get(keys.customer_identity_sk(identifier))
        if pointer:
            return table.get(pk, keys.customer_sk(str(pointer["customerKey"])), consistent=True)
    return None


def get(table: Table, shop_id: str, customer_key: str) -> Item | None:
    return table.get(keys.shop_pk(shop_id), keys.customer_sk(customer_key))


def new_customer_op(table: Table, shop_id: str, item: Mapping[str, Any]) -> Write:
    """Create a customer (``item`` without keys); fails if the key is taken."""
    full = dict(item)
    full.update(
        PK=keys.shop_pk(shop_id),
        SK=keys.customer_sk(str(item["customerKey"])),
        entity="customer",
        GSI2PK=keys.shop_customers_gsi2pk(shop_id),
        GSI2SK=keys.customer_gsi2sk(str(item["createdAt"]), str(item["customerKey"])),
    )
    return table.put_op(full, condition="attribute_not_exists(PK)", fails_with=CustomerExists)


def update_customer_op(
    table: Table,
    shop_id: str,
    customer_key: str,
    version: int,
    sets: Mapping[str, Any],
    adds: Mapping[str, int] | None = None,
) -> Write:
    """SET ``sets`` and ADD ``adds`` on a customer whose ``version`` is still ``version`` (bumped)."""
    names: dict[str, str] = {"#version": "version"}
    values: dict[str, Any] = {":expected": version, ":next": version + 1}
    assignments = ["#version = :next"]
    for index, (name, value) in enumerate(sets.items()):
        names[f"#s{index}"] = name
        values[f":s{index}"] = value
        assignments.append(f"#s{index} = :s{index}")
    expression = "SET " + ", ".join(assignments)
    if adds:
        increments = []
        for index, (name, amount) in enumerate(adds.items()):
            names[f"#a{index}"] = name
            values[f":a{index}"] = amount
            increments.append(f"#a{index} :a{index}")
        expression += " ADD " + ", ".join(increments)
    return table.update_op(
        keys.shop_pk(shop_id),
        keys.customer_sk(customer_key),
        expression,
        values,
        condition="#version = :expected",
        names=names,
        fails_with=CustomerChanged,
    )


# A customer's message this long after a campaign message's delivery is still a reply to it (analytics/campaigns.py).
CAMPAIGN_REPLY_WINDOW_HOURS = 72


def note_campaign_delivery(table: Table, shop_id: str, customer_key: str, campaign_id: str, delivered_at: str) -> bool:
    """Remember the customer's latest delivered campaign message (``lastCampaign``), so their next message
    within the reply window is attributed to it (analytics/campaigns.py). A later delivery replaces an
    earlier one, never the reverse, and a campaign's delivery is noted once (its ``read`` after its
    ``delivered`` changes nothing); the version moves, so an inbound write that read the customer before
    retries with it. False if nothing changed."""
    return (
        table.update_if(
            keys.shop_pk(shop_id),
            keys.customer_sk(customer_key),
            "SET lastCampaign = :campaign ADD #version :one",
            {
                ":campaign": {"id": campaign_id, "deliveredAt": delivered_at},
                ":one": 1,
                ":at": delivered_at,
                ":id": campaign_id,
            },
            names={"#version": "version"},
            condition="attribute_exists(PK) AND (attribute_not_exists(lastCampaign)"
            " OR (lastCampaign.id <> :id AND lastCampaign.deliveredAt < :at))",
        )
        is not None
    )


def release_conversation_op(table: Table, shop_id: str, customer_key: str, conversation_id: str) -> Write:
    """Forget the customer's active conversation if it is still ``conversation_id``."""
    return table.update_op(
        keys.shop_pk(shop_id),
        keys.customer_sk(customer_key),
        "REMOVE activeConversation ADD #version :one",
        {":one": 1, ":id": conversation_id},
        condition="activeConversation.id = :id",
        names={"#version": "version"},
        fails_with=CustomerMovedOn,
    )


def identity_op(table: Table, shop_id: str, identifier: str, customer_key: str) -> Write:
    return table.put_op(
        {
            "PK": keys.shop_pk(shop_id),
            "SK": keys.customer_identity_sk(identifier),
            "entity": "customerIdentity",
            "customerKey": customer_key,
        }
    )


def consent_event_op(table: Table, shop_id: str, customer_key: str, event: Mapping[str, Any], reference: str) -> Write:
    """One entry of the customer's consent audit trail."""
    item = dict(event)
    item.update(
        PK=keys.shop_pk(shop_id),
        SK=keys.consent_event_sk(customer_key, str(event["timestamp"]), reference),
        entity="consentEvent",
        customerKey=customer_key,
    )
    return table.put_op(item)


def consent_history(table: Table, shop_id: str, customer_key: str) -> list[Item]:
    """The customer's consent changes, oldest first."""
    return table.query_prefix(keys.shop_pk(shop_id), f"CONSENT#{customer_key}#")


def search_index(
    table: Table, shop_id: str, filter_expression: str | None, values: Mapping[str, Any], names: Mapping[str, str]
) -> list[Item]:
    """Every customer of the shop matching the filter, newest first, as GSI2 entries (keys and the
    search attributes only). Reads the shop's whole customer index: see docs/data-model.md for the cost."""
    return table.query_index(
        "GSI2",
        "GSI2PK",
        keys.shop_customers_gsi2pk(shop_id),
        newest_first=True,
        filter_expression=filter_expression,
        values=values,
        names=names,
    )


def index_page(
    table: Table,
    shop_id: str,
    *,
    start: Mapping[str, Any] | None,
    limit: int,
    filter_expression: str | None,
    values: Mapping[str, Any],
) -> tuple[list[Item], dict[str, Any] | None]:
    """The next ``limit`` customers of the shop's index after ``start``, oldest first (customers who arrive
    later come last), as GSI2 entries matching the filter; and where the next page starts (None: done)."""
    return table.query_page(
        "GSI2",
        "GSI2PK",
        keys.shop_customers_gsi2pk(shop_id),
        limit=limit,
        start=start,
        filter_expression=filter_expression,
        values=values,
    )


def index_position_of_shop(position: Mapping[str, Any], shop_id: str) -> bool:
    """Whether ``position`` (a page's start, as :func:`index_page` gave it) is one in the shop's index."""
    return position.get("GSI2PK") == keys.shop_customers_gsi2pk(shop_id) and str(position.get("PK")) == keys.shop_pk(
        shop_id
    )


def find_many(table: Table, shop_id: str, identifiers: Iterable[str]) -> dict[str, Item]:
    """The customers some of ``identifiers`` (phone numbers, BSUIDs) name, by identifier: one BatchGetItem of
    the customers and pointers they may be (100 keys a call), then one of the customers the pointers name."""
    wanted = [identifier for identifier in dict.fromkeys(identifiers) if identifier]
    pk = keys.shop_pk(shop_id)
    found = {
        item["SK"]: item
        for item in table.batch_get(
            [(pk, keys.customer_sk(i)) for i in wanted] + [(pk, keys.customer_identity_sk(i)) for i in wanted]
        )
    }
    named: dict[str, Item] = {}
    pointed: dict[str, str] = {}
    for identifier in wanted:
        if keys.customer_sk(identifier) in found:
            named[identifier] = found[keys.customer_sk(identifier)]
        elif keys.customer_identity_sk(identifier) in found:
            pointed[identifier] = str(found[keys.customer_identity_sk(identifier)]["customerKey"])
    by_key = {key_of(item): item for item in get_many(table, shop_id, list(dict.fromkeys(pointed.values())))}
    for identifier, customer_key in pointed.items():
        if customer_key in by_key:
            named[identifier] = by_key[customer_key]
    return named


def get_many(table: Table, shop_id: str, customer_keys: list[str]) -> list[Item]:
    """Customers by key, in the order asked."""
    pk = keys.shop_pk(shop_id)
    found = {item["SK"]: item for item in table.batch_get([(pk, keys.customer_sk(k)) for k in customer_keys])}
    return [found[keys.customer_sk(k)] for k in customer_keys if keys.customer_sk(k) in found]


def key_of(item: Mapping[str, Any]) -> str:
    return str(item["SK"]).removeprefix(keys.CUSTOMER_PREFIX)
