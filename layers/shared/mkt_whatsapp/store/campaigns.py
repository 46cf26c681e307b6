"""Campaigns in the single table (docs/data-model.md, "Campaigns"). Everything of a campaign lives in its own
partition, ``CAMPAIGN#<campaignId>``:

- ``CAMPAIGN``: the campaign — name, template, audience (without its explicit list), schedule, quiet hours,
  ``status``, ``revision`` (optimistic updates), ``generation`` (which state machine execution drives it) and
  ``fanOut`` (``cursor`` of the audience's enumeration, ``pages``, ``done``). Listed per shop through GSI1
  (``SHOP#<shop>#CAMPAIGNS`` / ``<createdAt>#<id>``).
- ``AUDIENCE``: the explicit list of waIds, zlib-compressed JSON (up to 10,000 ids: kept off the campaign, so
  a listing does not read them).
- ``COUNTS#<nn>``: 16 counter shards, recipients by state (``queued``, ``sent``…, ``skipped#<reason>``). Every
  change of a recipient's state moves one shard **in the same transaction** as the recipient, so the counts
  are exact whatever is retried; a read sums the shards (one Query); a send at 1,000 a second writes each
  shard about 60 times a second.
- ``RECIPIENT#<customerKey>``: what the campaign does with one customer, once: ``messageId`` (a UUIDv5 of
  the campaign and the customer), ``status`` (:data:`STATES`), ``reason`` (a skip's or a failure's),
  ``position`` (where the enumeration met the customer: a retried page knows its own recipients from a
  duplicate), the rendered ``components``; ``updatedAt`` (its last move), ``attempts`` (times it was handed to
  the sender again after its record was lost: campaigns/fanout.py), ``messageQueued`` (it waits with its
  message stored). Put with ``attribute_not_exists``: once per (campaign, customer). A recipient that waits
  (:data:`PARKED`) is in GSI1 (``CAMPAIGN#<id>#PARKED#<state>`` / ``<wakeAt>#<customerKey>``), a sparse index:
  waking them reads only them. A ``queued`` one is in no index: only a recovery looks for them
  (:func:`queued_page`).
"""

from __future__ import annotations

import json
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mkt_whatsapp.store import keys
from mkt_whatsapp.store.table import ConditionFailed, Item, Table, Write

GSI1 = "GSI1"
SHARDS = 16
CHUNK = 99  # recipients per transaction: DynamoDB takes 100 items, one of them the counter shard

QUEUED, PAUSED, WAITING_TIER, WAITING_QUIET = "queued", "paused", "waiting_tier", "waiting_quiet"
SENT, FAILED, CANCELLED, SKIPPED = "sent", "failed", "cancelled", "skipped"
STATES = (QUEUED, PAUSED, WAITING_TIER, WAITING_QUIET, SENT, FAILED, CANCELLED, SKIPPED)
PARKED = (PAUSED, WAITING_TIER, WAITING_QUIET)
SETTLED = (SENT, FAILED, CANCELLED, SKIPPED)


class CampaignChanged(ConditionFailed):
    """The campaign is not as read any more (another request changed it, or its status forbids this)."""


class RecipientExists(ConditionFailed):
    """The campaign already has a recipient for this customer."""


class RecipientMoved(ConditionFailed):
    """The recipient is not in the state it was read in any more."""


def counter(state: str, reason: str | None = None) -> str:
    """The counter a recipient in ``state`` counts in (a skip per reason)."""
    return f"{SKIPPED}#{reason}" if state == SKIPPED else state


def shard_of(customer_key: str) -> int:
    return zlib.crc32(customer_key.encode()) % SHARDS


def _counter_op(table: Table, campaign_id: str, shard: int, deltas: Mapping[str, int]) -> Write:
    names = {f"#c{index}": name for index, name in enumerate(deltas)}
    values = {f":c{index}": amount for index, amount in enumerate(deltas.values())}
    additions = ", ".join(f"#c{index} :c{index}" for index in range(len(deltas)))
    return table.update_op(
        keys.campaign_pk(campaign_id), keys.campaign_counts_sk(shard), f"ADD {additions}", values, names=names
    )


# --- the campaign ---------------------------------------------------------------------------------------


def _encode(ids: Sequence[str]) -> bytes:
    return zlib.compress(json.dumps(list(ids), separators=(",", ":")).encode(), 6)


def _audience_put(table: Table, campaign_id: str, wa_ids: Sequence[str]) -> Write:
    return table.put_op(
        {
            "PK": keys.campaign_pk(campaign_id),
            "SK": keys.CAMPAIGN_AUDIENCE_SK,
            "entity": "campaignAudience",
            "waIds": _encode(wa_ids),
            "count": len(wa_ids),
        }
    )


def create(table: Table, campaign: Mapping[str, Any], wa_ids: Sequence[str] | None) -> None:
    """Store a new campaign (and its explicit list of waIds, if it has one) at once."""
    campaign_id, shop_id = str(campaign["campaignId"]), str(campaign["shopId"])
    item = {
        **campaign,
        "PK": keys.campaign_pk(campaign_id),
        "SK": keys.CAMPAIGN_SK,
        "entity": "campaign",
        "GSI1PK": keys.shop_campaigns_gsi1pk(shop_id),
        "GSI1SK": keys.campaign_gsi1sk(str(campaign["createdAt"]), campaign_id),
    }
    writes = [table.put_op(item, condition="attribute_not_exists(PK)", fails_with=CampaignChanged)]
    if wa_ids is not None:
        writes.append(_audience_put(table, campaign_id, wa_ids))
    table.transact_write(writes)


def public(item: Mapping[str, Any]) -> Item:
    """The campaign without its keys."""
    return {k: v for k, v in item.items() if k not in ("PK", "SK", "entity", "GSI1PK", "GSI1SK")}


def get(table: Table, campaign_id: str, *, consistent: bool = False) -> Item | None:
    item = table.get(keys.campaign_pk(campaign_id), keys.CAMPAIGN_SK, consistent=consistent)
    return public(item) if item else None


def audience_ids(table: Table, campaign_id: str) -> list[str]:
    """The campaign's explicit list of waIds (empty: it has none)."""
    item = table.get(keys.campaign_pk(campaign_id), keys.CAMPAIGN_AUDIENCE_SK, consistent=True)
    if not item:
        return []
    ids: list[str] = json.loads(zlib.decompress(bytes(item["waIds"])))
    return ids


def list_for_shop(table: Table, shop_id: str, status: str | None = None) -> list[Item]:
    """The shop's campaigns, newest first (``status`` filtered by DynamoDB)."""
    items = table.query_index(
        GSI1,
        "GSI1PK",
        keys.shop_campaigns_gsi1pk(shop_id),
        newest_first=True,
        filter_expression="#status = :status" if status else None,
        values={":status": status} if status else None,
        names={"#status": "status"} if status else None,
    )
    return [public(item) for item in items]


def _update_parts(sets: Mapping[str, Any], removes: Iterable[str] = ()) -> tuple[str, dict[str, str], dict[str, Any]]:
    names: dict[str, str] = {"#status": "status"}
    values: dict[str, Any] = {}
    assignments = []
    for index, (name, value) in enumerate(sets.items()):
        names[f"#s{index}"] = name
        values[f":s{index}"] = value
        assignments.append(f"#s{index} = :s{index}")
    expression = "SET " + ", ".join(assignments) if assignments else ""
    dropped = []
    for index, name in enumerate(removes):
        names[f"#r{index}"] = name
        dropped.append(f"#r{index}")
    if dropped:
        expression += " REMOVE " + ", ".join(dropped)
    return expression.strip(), names, values


def update(
    table: Table,
    campaign_id: str,
    *,
    revision: int,
    statuses: Sequence[str],
    sets: Mapping[str, Any],
    removes: Iterable[str] = (),
    wa_ids: Sequence[str] | None = None,
    drop_wa_ids: bool = False,
) -> None:
    """Change a campaign still at ``revision`` and in one of ``statuses`` (its ``revision`` moves on), and
    its explicit list with it (``wa_ids``: the new list; ``drop_wa_ids``: it has none any more);
    :class:`CampaignChanged` otherwise."""
    expression, names, values = _update_parts({**sets, "revision": revision + 1}, removes)
    values[":revision"] = revision
    status_values = {f":st{index}": status for index, status in enumerate(statuses)}
    values.update(status_values)
    names["#revision"] = "revision"
    writes = [
        table.update_op(
            keys.campaign_pk(campaign_id),
            keys.CAMPAIGN_SK,
            expression,
            values,
            condition=f"#revision = :revision AND #status IN ({', '.join(status_values)})",
            names=names,
            fails_with=CampaignChanged,
        )
    ]
    if wa_ids is not None:
        writes.append(_audience_put(table, campaign_id, wa_ids))
    elif drop_wa_ids:
        writes.append(table.delete_op(keys.campaign_pk(campaign_id), keys.CAMPAIGN_AUDIENCE_SK))
    table.transact_write(writes)


def transition(
    table: Table,
    campaign_id: str,
    *,
    statuses: Sequence[str],
    sets: Mapping[str, Any],
    removes: Iterable[str] = (),
    generation: int | None = None,
) -> Item | None:
    """Change a campaign in one of ``statuses`` (and, if given, still driven by ``generation``): the campaign
    as it is now, or None when it is not in such a state (nothing written)."""
    expression, names, values = _update_parts(sets, removes)
    status_values = {f":st{index}": status for index, status in enumerate(statuses)}
    values.update(status_values)
    condition = f"attribute_exists(PK) AND #status IN ({', '.join(status_values)})"
    if generation is not None:
        names["#generation"] = "generation"
        values[":generation"] = generation
        condition += " AND #generation = :generation"
    changed = table.update_if(
        keys.campaign_pk(campaign_id),
        keys.CAMPAIGN_SK,
        expression,
        values,
        names=names,
        condition=condition,
        return_values="ALL_NEW",
    )
    return public(changed) if changed else None


def delete(table: Table, campaign_id: str, *, statuses: Sequence[str]) -> None:
    """Delete a campaign in one of ``statuses`` and its explicit list; :class:`CampaignChanged` otherwise."""
    status_values = {f":st{index}": status for index, status in enumerate(statuses)}
    table.transact_write(
        [
            table.delete_op(
                keys.campaign_pk(campaign_id),
                keys.CAMPAIGN_SK,
                condition=f"#status IN ({', '.join(status_values)})",
                values=status_values,
                names={"#status": "status"},
                fails_with=CampaignChanged,
            ),
            table.delete_op(keys.campaign_pk(campaign_id), keys.CAMPAIGN_AUDIENCE_SK),
        ]
    )


def counts(table: Table, campaign_id: str) -> dict[str, int]:
    """The campaign's counters, its shards summed (one Query of 16 small items)."""
    total: Counter[str] = Counter()
    for item in table.query_prefix(keys.campaign_pk(campaign_id), keys.CAMPAIGN_COUNTS_PREFIX, consistent=True):
        for name, value in item.items():
            if name not in ("PK", "SK") and isinstance(value, int):
                total[name] += value
    return dict(total)


def commit_page(
    table: Table,
    campaign_id: str,
    *,
    generation: int,
    cursor: str,
    next_cursor: str | None,
    page_counts: Mapping[str, int],
    shard: int,
) -> bool:
    """Move the enumeration from ``cursor`` (the page just handled) to ``next_cursor`` (None: it is done),
    adding what the page counted beside its recipients (duplicates, non-customers) — once: only while the
    campaign's cursor is still ``cursor``. False when a previous attempt of the page committed it."""
    sets = "fanOut.#cursor = :next, fanOut.#done = :done, fanOut.#pages = fanOut.#pages + :one"
    writes = [
        table.update_op(
            keys.campaign_pk(campaign_id),
            keys.CAMPAIGN_SK,
            f"SET {sets}",
            {
                ":next": next_cursor or "",
                ":done": next_cursor is None,
                ":one": 1,
                ":cursor": cursor,
                ":false": False,
                ":generation": generation,
            },
            condition="#generation = :generation AND fanOut.#done = :false AND fanOut.#cursor = :cursor",
            names={"#generation": "generation", "#cursor": "cursor", "#done": "done", "#pages": "pages"},
            fails_with=CampaignChanged,
        )
    ]
    counted = {name: amount for name, amount in page_counts.items() if amount}
    if counted:
        writes.append(_counter_op(table, campaign_id, shard, counted))
    try:
        table.transact_write(writes)
    except CampaignChanged:
        return False
    return True


def pause_running(
    table: Table, shop_id: str, reason: Mapping[str, Any], *, at: str, template: tuple[str, str] | None = None
) -> list[str]:
    """Pause the shop's running campaigns (only those sending ``template``, a (name, language), if given),
    saying why (``statusReason``: ``code``, ``message``); returns the ids paused. Their executions end at their
    next step; ``POST /campaigns/{id}/resume`` goes on."""
    paused = []
    for campaign in list_for_shop(table, shop_id, status="running"):
        named = campaign.get("template") or {}
        if template is not None and (named.get("name"), named.get("language")) != template:
            continue
        changed = transition(
            table,
            str(campaign["campaignId"]),
            statuses=("running",),
            sets={"status": "paused", "statusReason": {**reason, "at": at}, "pausedAt": at, "pausedBy": "system"},
        )
        if changed is not None:
            paused.append(str(campaign["campaignId"]))
    return paused


# --- recipients -----------------------------------------------------------------------------------------


def _parking(campaign_id: str, state: str, customer_key: str, wake_at: str) -> dict[str, str]:
    return {
        "GSI1PK": keys.parked_recipients_gsi1pk(campaign_id, state),
        "GSI1SK": keys.parked_recipient_gsi1sk(wake_at, customer_key),
    }


def recipient_item(campaign_id: str, recipient: Mapping[str, Any], *, wake_at: str = "") -> Item:
    """A recipient as stored (``recipient`` holds ``customerKey``, ``status`` and the rest)."""
    customer_key = str(recipient["customerKey"])
    item: Item = {
        **recipient,
        "PK": keys.campaign_pk(campaign_id),
        "SK": keys.campaign_recipient_sk(customer_key),
        "entity": "campaignRecipient",
        "campaignId": campaign_id,
    }
    if recipient["status"] in PARKED:
        item.update(_parking(campaign_id, str(recipient["status"]), customer_key, wake_at))
    return item


def recipients(table: Table, campaign_id: str, customer_keys: Iterable[str]) -> dict[str, Item]:
    """The campaign's recipients for these customers that exist, by customer key (read consistently)."""
    pk = keys.campaign_pk(campaign_id)
    found = table.batch_get([(pk, keys.campaign_recipient_sk(key)) for key in customer_keys], consistent=True)
    return {str(item["customerKey"]): item for item in found}


def first_recipients(table: Table, campaign_id: str, status: str | None, count: int) -> list[Item]:
    """The campaign's first ``count`` recipients (in customer-key order), of ``status`` if given: reads
    no further than that many (a page deep in a large campaign reads the pages before it)."""
    return table.query_prefix(
        keys.campaign_pk(campaign_id),
        keys.RECIPIENT_PREFIX,
        filter_expression="#status = :status" if status else None,
        values={":status": status} if status else None,
        names={"#status": "status"} if status else None,
        limit=count,
    )


def get_recipient(table: Table, campaign_id: str, customer_key: str) -> Item | None:
    return table.get(keys.campaign_pk(campaign_id), keys.campaign_recipient_sk(customer_key), consistent=True)


def add_recipients(table: Table, campaign_id: str, items: Sequence[Item], *, shard: int) -> None:
    """Put new recipients (:func:`recipient_item`), counted, 99 to a transaction: each is put only if the
    campaign has none for its customer (:class:`RecipientExists` cancels its chunk)."""
    for start in range(0, len(items), CHUNK):
        chunk = items[start : start + CHUNK]
        writes = [
            table.put_op(item, condition="attribute_not_exists(PK)", fails_with=RecipientExists) for item in chunk
        ]
        tally = Counter(counter(str(item["status"]), item.get("reason")) for item in chunk)
        writes.append(_counter_op(table, campaign_id, shard, tally))
        table.transact_write(writes)


def _move_op(
    table: Table,
    campaign_id: str,
    recipient: Mapping[str, Any],
    to_state: str,
    *,
    at: str,
    wake_at: str = "",
    reason: str | None = None,
    message_queued: bool = False,
) -> Write:
    customer_key = str(recipient["customerKey"])
    names = {"#status": "status"}
    values: dict[str, Any] = {":to": to_state, ":from": recipient["status"], ":at": at}
    sets = ["#status = :to", "updatedAt = :at"]
    removes = []
    if reason is not None:
        sets.append("reason = :reason")
        values[":reason"] = reason
    if message_queued:
        sets.append("messageQueued = :queued")
        values[":queued"] = True
    if to_state in PARKED:
        parking = _parking(campaign_id, to_state, customer_key, wake_at)
        sets += ["GSI1PK = :gsi1pk", "GSI1SK = :gsi1sk"]
        values.update({":gsi1pk": parking["GSI1PK"], ":gsi1sk": parking["GSI1SK"]})
    else:
        removes += ["GSI1PK", "GSI1SK"]
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    return table.update_op(
        keys.campaign_pk(campaign_id),
        keys.campaign_recipient_sk(customer_key),
        expression,
        values,
        condition="#status = :from",
        names=names,
        fails_with=RecipientMoved,
    )


def move_recipients(
    table: Table,
    campaign_id: str,
    moving: Sequence[Mapping[str, Any]],
    to_state: str,
    *,
    at: str,
    wake_at: str = "",
    reason: str | None = None,
    message_queued: bool = False,
) -> list[Item]:
    """Move recipients (as read) to ``to_state``, counted, 99 to a transaction; a chunk one of whose
    recipients moved meanwhile is done one by one. Returns those moved. ``message_queued``: their message is
    stored, ``queued`` and nobody is sending it (it waits with them; a cancellation withdraws it)."""
    moved: list[Item] = []
    options: dict[str, Any] = {"at": at, "wake_at": wake_at, "reason": reason, "message_queued": message_queued}
    for start in range(0, len(moving), CHUNK):
        chunk = moving[start : start + CHUNK]
        try:
            _move(table, campaign_id, chunk, to_state, **options)
            moved += [dict(recipient) for recipient in chunk]
        except RecipientMoved:
            for recipient in chunk:
                try:
                    _move(table, campaign_id, [recipient], to_state, **options)
                    moved.append(dict(recipient))
                except RecipientMoved:
                    continue
    return moved


def _move(
    table: Table,
    campaign_id: str,
    chunk: Sequence[Mapping[str, Any]],
    to_state: str,
    *,
    at: str,
    wake_at: str,
    reason: str | None,
    message_queued: bool,
) -> None:
    deltas: Counter[str] = Counter()
    for recipient in chunk:
        deltas[counter(str(recipient["status"]), recipient.get("reason"))] -= 1
        deltas[counter(to_state, reason)] += 1
    writes = [
        _move_op(table, campaign_id, r, to_state, at=at, wake_at=wake_at, reason=reason, message_queued=message_queued)
        for r in chunk
    ]
    changed = {name: amount for name, amount in deltas.items() if amount}
    if changed:  # a recipient staying in its state (a new wake time) counts nothing
        writes.append(_counter_op(table, campaign_id, shard_of(str(chunk[0]["customerKey"])), changed))
    table.transact_write(writes)


def settle_recipient(
    table: Table, campaign_id: str, customer_key: str, outcome: str, *, at: str, reason: str | None = None
) -> bool:
    """The campaign's message to the customer ended ``sent`` or ``failed``: its recipient says so, counted
    once (a recipient settled already is left as it is). Whoever learns the outcome may call it: the send,
    the sender's retry, a redelivery."""
    for _attempt in range(3):
        recipient = get_recipient(table, campaign_id, customer_key)
        if recipient is None or recipient.get("status") in SETTLED:
            return False
        if move_recipients(table, campaign_id, [recipient], outcome, at=at, reason=reason):
            return True
    return False


def queued_page(
    table: Table, campaign_id: str, *, start: Mapping[str, Any] | None, limit: int
) -> tuple[list[Item], dict[str, Any] | None]:
    """The campaign's recipients still ``queued`` among its next ``limit`` recipients after ``start`` (None: from
    the first), in customer-key order, and where the next page starts (None: none left). One Query that reads
    every recipient of the page, whatever its state: for finding records the queue lost, not for every day."""
    return table.query_page(
        None,
        "PK",
        keys.campaign_pk(campaign_id),
        sk_prefix=keys.RECIPIENT_PREFIX,
        limit=limit,
        start=start,
        filter_expression="#status = :queued",
        values={":queued": QUEUED},
        names={"#status": "status"},
    )


def count_attempt(table: Table, campaign_id: str, queued: Sequence[Mapping[str, Any]], *, at: str) -> list[Item]:
    """One more attempt on each recipient still ``queued`` (``attempts``; ``updatedAt``: handed to the sender
    again at ``at``); returns those counted (one that moved meanwhile is left out). One write each: only
    recipients whose records were lost are ever counted."""
    counted: list[Item] = []
    for recipient in queued:
        changed = table.update_if(
            keys.campaign_pk(campaign_id),
            keys.campaign_recipient_sk(str(recipient["customerKey"])),
            "SET attempts = if_not_exists(attempts, :zero) + :one, updatedAt = :at",
            {":zero": 0, ":one": 1, ":at": at, ":queued": QUEUED},
            names={"#status": "status"},
            condition="#status = :queued",
            return_values="ALL_NEW",
        )
        if changed is not None:
            counted.append(changed)
    return counted


def parked(table: Table, campaign_id: str, state: str, *, due_by: str | None, limit: int) -> list[Item]:
    """Up to ``limit`` of the campaign's recipients waiting in ``state``, soonest first; ``due_by`` (ISO
    UTC): only those whose wake time has come (None: all)."""
    return table.query_index(
        GSI1,
        "GSI1PK",
        keys.parked_recipients_gsi1pk(campaign_id, state),
        limit=limit,
        sort_key_below=None if due_by is None else due_by + "$",  # "<wakeAt>#<key>" <= due_by, "#" < "$"
    )
