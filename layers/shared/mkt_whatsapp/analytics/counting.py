"""Counting what happened, from the table's own changes (its DynamoDB stream), exactly once.

The stats function receives the table's changes in batches (functions/stats, fed by the stream through
an event-source mapping that never skips a batch and keeps a shard's batches in order). Each change is
turned into counts (:func:`counts_of`), the counts of the batch are summed per shop and UTC hour (and
rolled up per UTC day, the message counters with each hour's share: store/stats.py), and written in
**one transaction together with a marker of the batch**: the marker is put only if it is not there, so a
batch delivered again — a Lambda retry, a timeout after the write — cancels its own transaction and
changes nothing. A batch touching more counter items than a transaction holds is written in chunks, each
with its own marker (``<batch>#<chunk>``), chunked the same way every time (the same records, sorted),
so a retry after some chunks skips exactly those.

Why not a counter in each message's own write: one shop at 1,000 messages a second would then update one
hour's item 1,000 times a second (a hot item: DynamoDB's 1,000 writes a second per partition, and every
concurrent transaction on it conflicting), and each message would pay two more item writes (≈ 4 write
units). Here a batch of up to 1,000 changes pays one write per (shop, hour) it touches plus its marker.

What counts (the facts, as the table records them):
- ``inbound``: a message item inserted with ``direction: inbound`` (a redelivered webhook inserts nothing:
  the message id is the wamid's), on the hour of Meta's timestamp.
- ``outbound``: an outbound message reaching ``sent`` or beyond (accepted by Meta) for the first time —
  its status rank crossing ``sent`` (statuses only move forward, so once), on the hour it was sent.
- ``failed``: an outbound message becoming ``failed`` (once: failed is final), on the hour it failed. A
  message Meta accepted and then failed to deliver is in both.
- AI turns (``AIREPLY#`` items, ai/responder.py), when a turn settles — its status moving from unsettled
  (``claimed``) to ``answered`` or ``handed_off``; a settled turn is never settled again into a counted
  status, and a re-settle from one settled status to another counts nothing — on the hour of its
  ``settledAt``: ``aiReplies`` (answered), ``aiHandoffs`` and ``aiHandoffs#<reason>`` (handed off), and
  from the provider's completion kept on the turn (if it was asked: a keyword handoff never is)
  ``aiPromptTokens``, ``aiCompletionTokens`` and ``aiCostMicros`` (the estimated cost in millionths of a
  USD, rounded: counters are exact integers). Each also per agent, as ``agent#<agentId>#<counter>``.
- a campaign's funnel (``queued``, ``sent``, ``delivered``, ``read``, ``failed``, ``replied``…) on its own
  item, from the changes of the messages that name it (analytics/campaigns.py).
- ``conv…``: a conversation item's changes — opened, handed off, answered, resolved — with the seconds
  they took (analytics/conversations.py, docs/analytics.md "Conversations").
"""

from __future__ import annotations

import hashlib
import random
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from mkt_whatsapp.analytics import campaigns, conversations
from mkt_whatsapp.core.clock import now_iso, parse_iso, utc_hour
from mkt_whatsapp.store import get_table, keys
from mkt_whatsapp.store import stats as stats_store
from mkt_whatsapp.store.messages import STATUS_RANK
from mkt_whatsapp.store.table import TransactionConflict

_deserializer = TypeDeserializer()
# Items one transaction may hold (DynamoDB: 100), the batch's marker being one of them.
CHUNK = 99
# Tries of a chunk whose transaction another shard's cancelled (TransactionConflict).
CONFLICT_ATTEMPTS = 5
_JITTER = random.SystemRandom()

Counts = dict[tuple[str, str], dict[str, int]]  # (shop, UTC hour yyyy-mm-ddTHH) -> counter -> n
Count = tuple[str, str, str, int]  # (shop, UTC hour, counter, amount)

AI_SETTLED = ("answered", "handed_off")


def _image(record: Mapping[str, Any], name: str) -> dict[str, Any]:
    raw = (record.get("dynamodb") or {}).get(name) or {}
    return {key: _deserializer.deserialize(value) for key, value in raw.items()}


def counts_of(record: Mapping[str, Any]) -> list[Count]:
    """What one change of the table counts: ``(shop, hour, counter, amount)`` (usually none)."""
    event = record.get("eventName")
    if event not in ("INSERT", "MODIFY"):
        return []
    new = _image(record, "NewImage")
    if not new.get("shopId"):
        return []
    old = _image(record, "OldImage") if event == "MODIFY" else {}
    if str(new.get("PK", "")).startswith("AIREPLY#"):
        return _ai_counts(str(new["shopId"]), new, old)
    if not str(new.get("PK", "")).startswith("MSG#"):
        return []
    return [(shop, hour, counter, 1) for shop, hour, counter in _message_counts(event, str(new["shopId"]), new, old)]


def _message_counts(event: str, shop: str, new: dict[str, Any], old: dict[str, Any]) -> list[tuple[str, str, str]]:
    found: list[tuple[str, str, str]] = []
    if new.get("direction") == "inbound":
        hour = utc_hour(new.get("timestamp"))
        if event == "INSERT" and hour:
            found.append((shop, hour, "inbound"))
        return found
    if new.get("direction") != "outbound":
        return found
    stamps = new.get("statusTimestamps") or {}
    sent = STATUS_RANK["sent"]
    new_rank, old_rank = int(new.get("statusRank", 0)), int(old.get("statusRank", -1)) if old else -1
    if new.get("status") != "failed" and new_rank >= sent and (event == "INSERT" or old_rank < sent):
        hour = utc_hour(stamps.get("sent") or new.get("statusUpdatedAt") or new.get("timestamp"))
        if hour:
            found.append((shop, hour, "outbound"))
    if new.get("status") == "failed" and old.get("status") != "failed":
        hour = utc_hour(stamps.get("failed") or new.get("statusUpdatedAt") or new.get("timestamp"))
        if hour:
            found.append((shop, hour, "failed"))
    return found


def _micros(cost: Any) -> int:
    if cost is None:
        return 0
    try:
        return int((Decimal(str(cost)) * 1_000_000).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    except (InvalidOperation, ValueError):
        return 0


def _ai_counts(shop: str, new: dict[str, Any], old: dict[str, Any]) -> list[Count]:
    """An AI turn settling (see the module): counted on the change that moves it into a settled status."""
    status = new.get("status")
    if status not in AI_SETTLED or old.get("status") in AI_SETTLED:
        return []
    hour = utc_hour(new.get("settledAt") or new.get("claimedAt"))
    if not hour:
        return []
    counters: dict[str, int] = {}
    if status == "answered":
        counters["aiReplies"] = 1
    else:
        reason = str((new.get("outcome") or {}).get("reason") or "unknown")
        counters["aiHandoffs"] = 1
        counters[f"aiHandoffs#{reason}"] = 1
    completion = new.get("completion") or {}
    if completion:
        counters["aiPromptTokens"] = int(completion.get("promptTokens") or 0)
        counters["aiCompletionTokens"] = int(completion.get("completionTokens") or 0)
        counters["aiCostMicros"] = _micros(completion.get("estimatedCost"))
    agent = new.get("agentId")
    found = [(shop, hour, name, amount) for name, amount in counters.items()]
    if agent:
        found += [(shop, hour, f"agent#{agent}#{name}", amount) for name, amount in counters.items()]
    return found


def tally(records: Sequence[Mapping[str, Any]]) -> Counts:
    return _tally(records)[0]


def _tally(records: Sequence[Mapping[str, Any]]) -> tuple[Counts, Counts, int]:
    """The batch's counts per (shop, hour) and per (campaign, ""), and how many of its changes counted
    something (the facts, for logs)."""
    counts: Counts = defaultdict(lambda: defaultdict(int))
    funnels: Counts = defaultdict(lambda: defaultdict(int))
    facts = 0
    for record in records:
        found = counts_of(record)
        for_campaigns: list[campaigns.CampaignCount] = []
        if record.get("eventName") in ("INSERT", "MODIFY"):
            new, old = _image(record, "NewImage"), _image(record, "OldImage")
            found += conversations.counts_of(str(record["eventName"]), new, old)
            if str(new.get("PK", "")).startswith("MSG#"):
                for_campaigns = campaigns.counts_of(str(record["eventName"]), new, old)
        facts += bool(found or for_campaigns)
        for shop, hour, counter, amount in found:
            counts[(shop, hour)][counter] += amount
        for campaign, counter, amount in for_campaigns:
            funnels[(campaign, "")][counter] += amount
    return counts, funnels, facts


def batch_id(records: Sequence[Mapping[str, Any]]) -> str:
    """The same id for the same batch, whenever it is delivered (its records' event ids)."""
    digest = hashlib.sha256()
    for record in records:
        digest.update(str(record.get("eventID", "")).encode())
        digest.update(b"\0")
    return digest.hexdigest()[:40]


def count_records(records: list[dict[str, Any]]) -> dict[str, int]:
    """Count a batch of the table's changes, once (see the module). Returns what was counted (for logs)."""
    counts, funnels, facts = _tally(records)
    if not counts and not funnels:
        return {"records": len(records), "counted": 0, "chunks": 0, "skipped": 0}
    table = get_table()
    # (pk, sk) -> counter -> amount
    writes_by_item: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (campaign, _), counters in funnels.items():
        writes_by_item[(keys.campaign_stats_pk(campaign), keys.CAMPAIGN_STATS_SK)].update(counters)
    for (shop, hour), counters in sorted(counts.items()):
        shop_pk = keys.stats_pk(shop)
        for name, value in counters.items():
            writes_by_item[(shop_pk, keys.stats_hour_sk(hour))][name] += value
            day = writes_by_item[(shop_pk, keys.stats_day_sk(hour[:10]))]
            day[name] += value
            if name in stats_store.HOURLY_IN_DAY:  # the hour's share, kept on the day item (store/stats.py)
                day[stats_store.hour_counter(name, hour[11:13])] += value
    items = sorted(writes_by_item.items())
    batch = batch_id(records)
    expires = int(parse_iso(now_iso()).timestamp()) + stats_store.MARKER_SECONDS
    skipped = 0
    chunks = [items[start : start + CHUNK] for start in range(0, len(items), CHUNK)]
    for index, chunk in enumerate(chunks):
        writes = [stats_store.marker_op(table, f"{batch}#{index}", expires, len(records))]
        writes += [stats_store.add_op(table, pk, sk, counters) for (pk, sk), counters in chunk]
        if not _write_chunk(table, writes):
            skipped += 1  # this chunk was counted by an earlier delivery of the batch
    return {"records": len(records), "counted": facts, "chunks": len(chunks), "skipped": skipped}


def _write_chunk(table: Any, writes: list[Any]) -> bool:
    """Write one chunk with its marker; False if an earlier delivery counted it. Two shards' batches may
    update a shop's day item at the same moment (one shard per table partition, each with its own
    invocation): DynamoDB cancels one of the two transactions, which is retried here after a short,
    random pause rather than failing the whole batch (the marker keeps the retry exact either way)."""
    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
        try:
            table.transact_write(writes)
            return True
        except stats_store.AlreadyCounted:
            return False
        except TransactionConflict:
            if attempt == CONFLICT_ATTEMPTS:
                raise
            time.sleep(_JITTER.uniform(0.02, 0.1) * attempt)
    raise AssertionError("unreachable")
