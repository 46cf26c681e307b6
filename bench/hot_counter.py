"""One shop at 1,000 messages a second (docs/analytics.md, "One shop at 1,000 messages a second: no hot
counter"): how often the shop's hottest counter item is written when its changes reach the counters the way
the table's stream delivers them, counted by the real ``analytics.counting.count_records`` on moto.

- Traffic: ``RATE`` messages a second of one shop for ``SECONDS`` simulated seconds, evenly spaced, every
  message with the changes the stats function receives for it (bench/analytics.py measures them on a real
  message: an inbound one is 3 — its insert, the dispatcher settling its ``automation``, its conversation's
  update; a sent one here is 5 — local/stream_events.py's insert ``queued`` then ``sent``, ``delivered``,
  ``read``, and its conversation's update). Only the insert (inbound) and the move to ``sent`` count.
- The stream, with template.yaml's event source settings (:func:`stream_settings`): a change goes to a
  shard by its item's partition key. DynamoDB Streams keeps about one shard per table partition, and a
  shop's messages are spread over all of them by their own keys (``MSG#<id>``), so ``shards`` is the
  number of the table's partitions. Each shard feeds ``ParallelizationFactor`` invocations at a time
  (changes of one key always to the same one), each a batch of up to ``BatchSize`` changes: sent when it is
  full or when ``MaximumBatchingWindowInSeconds`` has passed since its first change, and not before the
  previous invocation is done (``INVOCATION_SECONDS``, modelled: a longer one only makes fuller batches).
  Simulated time, no sleeping.
- A few batches are delivered again (a Lambda retry after the function failed past its write, taking
  the shard's next ``INVOCATION_SECONDS``): their transactions are cancelled by the batch's marker, and the
  counters must come out exactly the messages counted (:class:`CountsWrong` otherwise).
- Metered per simulated second (by the start of the invocation that writes): the TransactWriteItems
  touching each counter item (the hottest: the shop's day item, every batch writes it, and the current
  hour's), the write units of the counter writes by bench/dynamo_cost.py, and — from the same traffic —
  what a counter in each message's own write would take: one more transaction item per counter item per
  message, all on the same item.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import dynamo_cost
from local import stream_events
from local import template as tpl

RATE = 1_000  # messages a second, one shop
SECONDS = 20  # simulated; 60 s gives the same per-second figures (a steady cadence) in 3x the time
START = datetime(2026, 10, 1, 10, tzinfo=UTC)  # the run stays within one UTC hour
SHARDS = (1, 4)
INVOCATION_SECONDS = 0.2  # a batch's deserialising and its one transaction (longer: fewer, fuller batches)
TRANSACTION_SECONDS = 0.03  # a TransactWriteItems in flight: another one on its items meanwhile conflicts
REDELIVER_EVERY = 20  # shard 0's 2nd, 22nd, 42nd... batch is delivered twice (shard 1's 5th, 25th...)
CUSTOMERS = 5_000  # the shop's conversations the messages belong to
INBOUND_SHOP, SENT_SHOP = "bench-hot-inbound", "bench-hot-sent"
PARTITION_WRITE_UNITS_PER_SECOND = 1_000  # DynamoDB's limit for one partition, so for one item


class CountsWrong(AssertionError):
    """The counters are not exactly the messages counted: counting is not exactly once."""


@dataclass(frozen=True)
class StreamSettings:
    batch_size: int
    window_seconds: float
    parallelization_factor: int


def stream_settings() -> StreamSettings:
    """The stats function's event source on the table's stream, as template.yaml declares it."""
    events = tpl.functions()["StatsFunction"].events
    [properties] = [event["Properties"] for event in events.values() if event["Type"] == "DynamoDB"]
    return StreamSettings(
        batch_size=int(properties["BatchSize"]),
        window_seconds=float(properties.get("MaximumBatchingWindowInSeconds", 0)),
        parallelization_factor=int(properties.get("ParallelizationFactor", 1)),
    )


@dataclass(frozen=True)
class Change:
    at: float  # simulated seconds since START
    record: dict[str, Any]
    counted: bool = False  # the change the message is counted on (its insert; a sent one's move to sent)

    @property
    def partition_key(self) -> str:
        return str(self.record["dynamodb"]["Keys"]["PK"]["S"])


@dataclass
class Delivery:
    at: float
    lane: tuple[int, int]  # (shard, invocation of the shard)
    records: list[dict[str, Any]]
    again: bool = False  # a redelivery of the batch before it


# --- traffic -------------------------------------------------------------------------------------------


def _iso(seconds: float) -> str:
    return (START + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _image(record: dict[str, Any]) -> dict[str, Any]:
    return dynamo_cost.plain(record["dynamodb"]["NewImage"])


def _conversation_update(shop: str, n: int, at: float) -> dict[str, Any]:
    """The customer's conversation moving on with a message (counts nothing: no open, answer or close)."""
    conversation = f"hot-{n % CUSTOMERS}"
    old = {
        "PK": f"CONV#{conversation}",
        "SK": "CONVERSATION",
        "shopId": shop,
        "status": "open",
        "createdAt": _iso(0),
        "lastMessageAt": _iso(max(0.0, at - 1)),
    }
    return stream_events.change("MODIFY", {**old, "lastMessageAt": _iso(at)}, old)


def inbound_traffic(shop: str, messages: int, rate: int = RATE) -> list[Change]:
    """Stored at t (with its conversation's update), its automation settled at t + 0.05 s."""
    changes: list[Change] = []
    for n in range(messages):
        at = n / rate
        stored = stream_events.inbound(shop, _iso(at))
        pending = {**_image(stored), "automation": "pending"}
        settled = stream_events.change("MODIFY", {**pending, "automation": "none"}, pending)
        changes += [
            Change(at, stored, counted=True),
            Change(at, _conversation_update(shop, n, at)),
            Change(at + 0.05, settled),
        ]
    return sorted(changes, key=lambda change: change.at)


def sent_traffic(shop: str, messages: int, rate: int = RATE) -> list[Change]:
    """Queued at t, accepted by Meta (``sent``) at t + 0.5 s, delivered at t + 2 s, read at t + 10 s."""
    offsets = (0.0, 0.5, 2.0, 10.0)
    changes: list[Change] = []
    for n in range(messages):
        at = n / rate
        moves = [("sent", _iso(at + 0.5)), ("delivered", _iso(at + 2)), ("read", _iso(at + 10))]
        records = stream_events.outbound(shop, _iso(at), moves)
        changes += [Change(at + o, r, counted=i == 1) for i, (o, r) in enumerate(zip(offsets, records, strict=True))]
        changes.append(Change(at, _conversation_update(shop, n, at)))
    return sorted(changes, key=lambda change: change.at)


# --- the stream ------------------------------------------------------------------------------------------


def _key_hash(partition_key: str) -> int:
    return int.from_bytes(hashlib.md5(partition_key.encode()).digest()[:8], "big")


def deliveries(
    changes: list[Change], shards: int, settings: StreamSettings, invocation_seconds: float = INVOCATION_SECONDS
) -> list[Delivery]:
    """The invocations the event source makes of ``changes`` (in order of time): see the module."""
    lanes: dict[tuple[int, int], list[Change]] = defaultdict(list)
    for change in changes:
        digest = _key_hash(change.partition_key)
        lanes[(digest % shards, digest // shards % settings.parallelization_factor)].append(change)
    found: list[Delivery] = []
    for lane, queue in lanes.items():
        free_at, start, index = 0.0, 0, 0
        while start < len(queue):
            last = start + settings.batch_size - 1
            full_at = queue[last].at if last < len(queue) else math.inf
            closes = min(full_at, queue[start].at + settings.window_seconds)
            at = max(closes, free_at)
            end = start
            while end < len(queue) and end - start < settings.batch_size and queue[end].at <= at:
                end += 1
            records = [change.record for change in queue[start:end]]
            found.append(Delivery(at, lane, records))
            free_at = at + invocation_seconds
            if (index - 3 * lane[0]) % REDELIVER_EVERY == 1:  # a few, not in the same second on every shard
                found.append(Delivery(free_at, lane, records, again=True))
                free_at += invocation_seconds
            start, index = end, index + 1
    return sorted(found, key=lambda delivery: (delivery.at, delivery.lane, delivery.again))


# --- metering -----------------------------------------------------------------------------------------------


@contextmanager
def transaction_meter() -> Iterator[list[dict[str, Any]]]:
    """The TransactWriteItems requests the service makes in the block (their parameters), on its own client."""
    from mkt_whatsapp.core import aws

    requests: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        requests.append(json.loads(json.dumps(params, default=str)))

    events = aws.dynamodb().meta.events
    events.register("before-parameter-build.dynamodb.TransactWriteItems", record, unique_id="bench-hot-counter")
    try:
        yield requests
    finally:
        events.unregister("before-parameter-build.dynamodb.TransactWriteItems", unique_id="bench-hot-counter")


def _keys_of(request: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for entry in request["TransactItems"]:
        [(kind, body)] = entry.items()
        key = dynamo_cost.plain(body["Item"] if kind == "Put" else body["Key"])
        found.append((str(key["PK"]), str(key["SK"])))
    return found


@dataclass
class Written:
    at: float
    lane: tuple[int, int]
    request: dict[str, Any]
    again: bool
    counters: list[tuple[str, str]] = field(default_factory=list)


def _per_second(times: list[float], traffic_seconds: float) -> dict[str, float]:
    """The busiest simulated second's writes, and the mean from the traffic's start to the end of its
    traffic or of the last second written in (the last batches close up to the batching window later)."""
    by_second = Counter(int(at) for at in times)
    seconds = max(traffic_seconds, max(by_second, default=0) + 1)
    return {"max": max(by_second.values(), default=0), "mean": round(len(times) / seconds, 2)}


def _concurrent(written: list[Written], item: tuple[str, str]) -> int:
    """Transactions on ``item`` started while another lane's could still be in flight (a conflict risk)."""
    on_item = sorted((w.at, w.lane) for w in written if item in w.counters)
    return sum(
        1
        for (at, lane), (previous_at, previous_lane) in zip(on_item[1:], on_item, strict=False)
        if lane != previous_lane and at - previous_at < TRANSACTION_SECONDS
    )


def run(changes: list[Change], counter: str, shop: str, shards: int, rate: int = RATE) -> dict[str, Any]:
    """One shop's ``changes`` (its messages at ``rate`` a second) through ``shards`` shards into the real
    counting: the counter ``counter`` must grow by exactly the messages on the hour's and the day's item."""
    from mkt_whatsapp.analytics import counting
    from mkt_whatsapp.store import get_table, keys

    settings = stream_settings()
    messages = sum(change.counted for change in changes)
    traffic_seconds = messages / rate
    plan = deliveries(changes, shards, settings)
    table = get_table().name
    before = dynamo_cost.snapshot(table)
    written: list[Written] = []
    redelivered_skipped = 0
    with transaction_meter() as requests:
        for delivery in plan:
            already = len(requests)
            outcome = counting.count_records(delivery.records)
            if outcome["skipped"] != (outcome["chunks"] if delivery.again else 0):
                raise CountsWrong(f"a batch delivered {'again' if delivery.again else 'once'}: {outcome}")
            redelivered_skipped += outcome["skipped"]
            for request in requests[already:]:
                counters = [key for key in _keys_of(request) if key[0] == keys.stats_pk(shop)]
                written.append(Written(delivery.at, delivery.lane, request, delivery.again, counters))
    after = dynamo_cost.snapshot(table)

    # Exactly the messages counted, on the hour and on the day (the run stays within one hour).
    hour, day = keys.stats_hour_sk(_iso(0)[:13]), keys.stats_day_sk(_iso(0)[:10])
    grew: dict[str, int] = {}
    for label, sk in (("hour", hour), ("day", day)):
        key = (keys.stats_pk(shop), sk)
        grew[label] = int(after.get(key, {}).get(counter, 0)) - int(before.get(key, {}).get(counter, 0))
        if grew[label] != messages:
            raise CountsWrong(f"{sk} {counter} grew by {grew[label]}, not {messages}, in {len(plan)} deliveries")

    by_item = Counter(item for w in written for item in w.counters)
    hottest = max(by_item, key=lambda item: (by_item[item], item[1].startswith("D#")))
    hottest_times = [w.at for w in written if hottest in w.counters]
    applied = [("TransactWriteItems", w.request) for w in written if not w.again]
    wru = dynamo_cost.write_units_of(applied, before, after)
    item_wru = dynamo_cost.write_units(after[hottest], after[hottest], transactional=True)["table"]
    counted_times = [change.at for change in changes if change.counted]
    own_write = _per_second(counted_times, traffic_seconds)
    own_write_wru = sum(
        dynamo_cost.write_units(after[key], after[key], transactional=True)["table"]
        for key in ((keys.stats_pk(shop), hour), (keys.stats_pk(shop), day))
    )
    per_second = _per_second(hottest_times, traffic_seconds)
    first_deliveries = [d for d in plan if not d.again]
    return {
        "messages": messages,
        "rate_per_second": rate,
        "simulated_seconds": round(traffic_seconds, 3),
        "stream_changes": len(changes),
        "stream_changes_per_message": round(len(changes) / messages, 2),
        "shards": shards,
        "parallelization_factor": settings.parallelization_factor,
        "batches": len(first_deliveries),
        "largest_batch": max(len(d.records) for d in first_deliveries),
        "mean_batch": round(len(changes) / len(first_deliveries), 1),
        "batches_delivered_again": len(plan) - len(first_deliveries),
        "redelivered_transactions_cancelled": redelivered_skipped,
        "counter_transactions": sum(1 for w in written if w.counters and not w.again),
        "counter_items_written": by_item.total(),
        "hottest_item": hottest[1],
        "hottest_item_writes_per_second": per_second,
        "hottest_item_write_units_per_second_max": per_second["max"] * item_wru,
        "hottest_item_transactions_overlapping_another_shards": _concurrent(written, hottest),
        "write_units": wru["total"],
        "write_units_per_message": round(wru["total"] / messages, 4),
        "counters_grew_by": grew,
        "counter_in_each_messages_own_write": {
            "hottest_item_writes_per_second": own_write,
            "hottest_item_write_units_per_second_max": own_write["max"] * item_wru,
            "write_units_per_message": own_write_wru,
            "partition_limit_write_units_per_second": PARTITION_WRITE_UNITS_PER_SECOND,
        },
    }


def measure(messages: int = RATE * SECONDS, shards: tuple[int, ...] = SHARDS, sent: bool = True) -> dict[str, Any]:
    """One shop's inbound messages through each shard count (the same changes each time: its counters
    grow by exactly the messages each run) and, with ``sent``, another shop's sent messages through the
    first, counted into the table ``TABLE_NAME`` names (the bench's stack, or a test's)."""
    settings = stream_settings()
    runs: dict[str, Any] = {}
    inbound = inbound_traffic(INBOUND_SHOP, messages)
    for count in shards:
        runs[f"inbound_{_shards(count)}"] = run(inbound, "inbound", INBOUND_SHOP, count)
    if sent:
        runs[f"sent_{_shards(shards[0])}"] = run(sent_traffic(SENT_SHOP, messages), "outbound", SENT_SHOP, shards[0])
    return {
        "stream_settings": vars(settings),
        "invocation_seconds_modelled": INVOCATION_SECONDS,
        "transaction_seconds_modelled": TRANSACTION_SECONDS,
        "runs": runs,
    }


def _shards(count: int) -> str:
    return f"{count}_shard" + ("s" if count > 1 else "")


def measure_apart() -> dict[str, Any]:
    """:func:`measure` on a stack of its own (moto in-process, template.yaml's table)."""
    from bench.stack import bench_stack

    # bench_stack installs local/moto_seams: moto's own transactions copy the whole table with its stream
    # records each time (quadratic over a run of thousands of them); the seams copy only the items a
    # transaction touches, as the tests do.
    with bench_stack("bench-hot-counter"):
        return measure()


def report(figures: dict[str, Any]) -> None:
    s = figures["stream_settings"]
    print(
        f"\nOne shop at {RATE:,} messages a second (bench/hot_counter.py): the stream as template.yaml sets it"
        f" (BatchSize {s['batch_size']}, window {s['window_seconds']:g} s, ParallelizationFactor"
        f" {s['parallelization_factor']}), invocations of {figures['invocation_seconds_modelled']} s"
    )
    for label, f in figures["runs"].items():
        hot, own = f["hottest_item_writes_per_second"], f["counter_in_each_messages_own_write"]
        print(
            f"  {label:16} {f['messages']:,} messages ({f['stream_changes']:,} changes) in {f['batches']} batches"
            f" (mean {f['mean_batch']}), {f['counter_transactions']} counter transactions;"
            f" hottest item {f['hottest_item']}: max {hot['max']}/s, mean {hot['mean']}/s"
            f" ({f['hottest_item_write_units_per_second_max']} WRU/s);"
            f" {f['write_units_per_message']} WRU per message"
        )
        print(
            f"  {'':16} {f['batches_delivered_again']} batches delivered again, all cancelled; counters grew by"
            f" exactly {f['counters_grew_by']['day']:,}; {f['hottest_item_transactions_overlapping_another_shards']}"
            f" within {figures['transaction_seconds_modelled']} s of another shard's on the item"
        )
        print(
            f"  {'':16} a counter in each message's own write instead:"
            f" {own['hottest_item_writes_per_second']['max']} writes/s on one item"
            f" ({own['hottest_item_write_units_per_second_max']:,} WRU/s; a partition's limit"
            f" {own['partition_limit_write_units_per_second']:,}), {own['write_units_per_message']} WRU per message"
        )


if __name__ == "__main__":
    report(measure_apart())
