"""Who a campaign reaches: its audience enumerated a page at a time, and each customer judged.

**Enumeration, never a Scan.** Without an explicit list, the shop's customer index (GSI2, oldest first, so
customers who arrive during the campaign come last) is read one Query page at a time, the tag filters applied
by DynamoDB (``tags``: any or all; ``excludeTags``: none of them); the page's customers are then read (one
BatchGetItem per 100) for what the index does not hold: consent, last contact, name and custom fields. With
``waIds``, the list is read a page of positions at a time, each id found as a customer (or through its
identity pointer: phone or BSUID). A page's position is an opaque cursor: ``K`` and the index's last key,
or ``L`` and the list's next position; ``""`` is the start.

**Judging** (:func:`judge`, no I/O), in this order, the first that applies:

| reason | when |
|---|---|
| ``not_a_customer`` | the list names no customer of the shop |
| ``duplicate`` | the list names a customer again (by another id, or the same) |
| ``excluded`` | the list names a customer its filters leave out (tags, excluded tags, last contact) |
| ``opted_out`` | a marketing template, and the customer opted out |
| ``no_consent`` | a marketing template, and the customer has not opted in (marketing goes only to ``opted_in``) |
| ``invalid_parameters`` | a placeholder has no value for the customer and no fallback |

Without a list, customers the last-contact filters leave out are not in the audience at all (as those the
tag filters leave out, which the index never returns). Utility and authentication templates go to every
customer of the audience (send.py refuses marketing only).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mkt_whatsapp.campaigns import placeholders
from mkt_whatsapp.customers.reading import normalise_tag
from mkt_whatsapp.store import customers as customer_store
from mkt_whatsapp.store.table import Item, Table

REASONS = ("opted_out", "no_consent", "invalid_parameters", "duplicate", "not_a_customer", "excluded")


@dataclass(frozen=True)
class Candidate:
    """One customer of the audience as the enumeration met them (``customer`` None: the list's id names
    none), at ``position``: the customer's key, or the list's index."""

    position: str
    customer: Item | None


@dataclass(frozen=True)
class Verdict:
    position: str
    customer_key: str | None
    reason: str | None  # None: the campaign sends to them
    components: list[dict[str, Any]] | None = None
    wa_id: str | None = None


class BadCursor(ValueError):
    """A cursor this campaign's enumeration did not give."""


def uses_list(campaign: Mapping[str, Any]) -> bool:
    return (campaign.get("audience") or {}).get("waIdCount") is not None


def _index_filter(audience: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
    clauses: list[str] = []
    values: dict[str, Any] = {}
    tags = [normalise_tag(tag) for tag in audience.get("tags") or []]
    if tags:
        names = []
        for index, tag in enumerate(dict.fromkeys(tags)):
            values[f":tag{index}"] = tag
            names.append(f"contains(tags, :tag{index})")
        joiner = " AND " if audience.get("match") == "all" else " OR "
        clauses.append("(" + joiner.join(names) + ")")
    for index, tag in enumerate(dict.fromkeys(normalise_tag(t) for t in audience.get("excludeTags") or [])):
        values[f":not{index}"] = tag
        clauses.append(f"NOT contains(tags, :not{index})")
    return (" AND ".join(clauses) or None), values


def _encode(start: Mapping[str, Any]) -> str:
    return "K" + base64.urlsafe_b64encode(json.dumps(dict(start), separators=(",", ":")).encode()).decode()


def _decode_index(cursor: str, shop_id: str) -> dict[str, Any] | None:
    if cursor == "":
        return None
    try:
        start = json.loads(base64.urlsafe_b64decode(cursor[1:].encode()))
    except (ValueError, UnicodeDecodeError) as error:
        raise BadCursor("not a cursor of this campaign") from error
    if (
        not cursor.startswith("K")
        or not isinstance(start, dict)
        or set(start) != {"PK", "SK", "GSI2PK", "GSI2SK"}
        or not all(isinstance(value, str) and value for value in start.values())
        or not customer_store.index_position_of_shop(start, shop_id)
    ):
        raise BadCursor("not a cursor of this campaign")
    return start


def _decode_list(cursor: str, length: int) -> int:
    if cursor == "":
        return 0
    if not cursor.startswith("L") or not cursor[1:].isdigit() or not 0 < int(cursor[1:]) < length:
        raise BadCursor("not a cursor of this campaign")
    return int(cursor[1:])


def check_cursor(campaign: Mapping[str, Any], cursor: str) -> None:
    """:class:`BadCursor` unless ``cursor`` is a page position of this campaign's enumeration."""
    if uses_list(campaign):
        _decode_list(cursor, int((campaign.get("audience") or {}).get("waIdCount") or 0))
    else:
        _decode_index(cursor, str(campaign["shopId"]))


def page(
    table: Table, campaign: Mapping[str, Any], cursor: str, *, limit: int, wa_ids: Sequence[str] = ()
) -> tuple[list[Candidate], str | None]:
    """The candidates of one page from ``cursor``, and the next page's cursor (None: the last page).
    ``wa_ids``: the campaign's explicit list (read by the caller once), if it has one."""
    shop_id = str(campaign["shopId"])
    audience = campaign.get("audience") or {}
    if uses_list(campaign):
        first = _decode_list(cursor, len(wa_ids))
        window = list(wa_ids[first : first + limit])
        found = customer_store.find_many(table, shop_id, window)
        candidates = [Candidate(f"{first + offset:05d}", found.get(wa_id)) for offset, wa_id in enumerate(window)]
        end = first + len(window)
        return candidates, (f"L{end}" if end < len(wa_ids) else None)
    filter_expression, values = _index_filter(audience)
    entries, last = customer_store.index_page(
        table,
        shop_id,
        start=_decode_index(cursor, shop_id),
        limit=limit,
        filter_expression=filter_expression,
        values=values,
    )
    customers = customer_store.get_many(table, shop_id, [customer_store.key_of(entry) for entry in entries])
    candidates = [
        Candidate(customer_store.key_of(customer), customer)
        for customer in customers
        if _contacted_within(audience, customer)
    ]
    return candidates, (_encode(last) if last else None)


def _contacted_within(audience: Mapping[str, Any], customer: Mapping[str, Any]) -> bool:
    last = str(customer.get("lastContactedAt") or "")
    before, after = audience.get("lastContactedBefore"), audience.get("lastContactedAfter")
    if before and not (last and last < str(before)):
        return False
    return not (after and not (last and last > str(after)))


def _in_audience(audience: Mapping[str, Any], customer: Mapping[str, Any]) -> bool:
    """The filters, for a customer the explicit list names (the index applies the tag filters itself)."""
    tags = set(customer.get("tags") or [])
    wanted = {normalise_tag(tag) for tag in audience.get("tags") or []}
    if wanted and not (wanted <= tags if audience.get("match") == "all" else wanted & tags):
        return False
    if {normalise_tag(tag) for tag in audience.get("excludeTags") or []} & tags:
        return False
    return _contacted_within(audience, customer)


def judge(campaign: Mapping[str, Any], category: str, candidates: Sequence[Candidate], seen: set[str]) -> list[Verdict]:
    """What the campaign does with each candidate (see the module). ``seen``: the customers met earlier in
    this run (a duplicate is a customer met again), updated."""
    audience = campaign.get("audience") or {}
    components = list((campaign.get("template") or {}).get("components") or [])
    listed = uses_list(campaign)
    verdicts = []
    for candidate in candidates:
        customer = candidate.customer
        if customer is None:
            verdicts.append(Verdict(candidate.position, None, "not_a_customer"))
            continue
        key = customer_store.key_of(customer)
        if key in seen:
            verdicts.append(Verdict(candidate.position, key, "duplicate"))
            continue
        seen.add(key)
        wa_id = str(customer.get("waId") or customer.get("bsuid") or "") or None
        reason = None
        if listed and not _in_audience(audience, customer):
            reason = "excluded"
        elif category == "marketing":
            consent = (customer.get("consent") or {}).get("status")
            if consent == "opted_out":
                reason = "opted_out"
            elif consent != "opted_in":
                reason = "no_consent"
        rendered = None
        if reason is None:
            rendered = placeholders.render(components, customer)
            if rendered is None:
                reason = "invalid_parameters"
        verdicts.append(Verdict(candidate.position, key, reason, rendered, wa_id))
    return verdicts
