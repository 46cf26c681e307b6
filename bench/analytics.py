"""Analytics counters (issue 13, "Benchmark"): what ``GET /analytics/messages`` reads for 90 days grouped by
day, for a shop with 1,000 messages and one with 1,000,000 (their counters written directly, not counted
from a million stream records), and the write units the counters add per inbound and per sent message.

- Reads: the request goes through the real handler (AnalyticsFunction, an HTTP API v2 event, moto
  in-process). botocore hooks on the service's DynamoDB client count each BatchGetItem's keys and the
  items it returned. Read units are computed by DynamoDB's rules (moto does not meter them: asked for
  ``ReturnConsumedCapacity``, it answers one unit per key requested whatever the item's size or the read's
  consistency — reported beside, as moto's figure): an eventually consistent read is 0.5 RRU per started
  4 KB of each item, and a key with no item costs the minimum, 0.5.
- Writes: ``analytics.counting.count_records`` fed batches of synthetic stream changes (the shapes the
  table's stream carries, up to 1,000 changes a batch as the event source delivers them), its
  transactions' write units computed by bench/dynamo_cost.py (2 WRU per started KB of each item written in
  a transaction).
- Stream changes per real message: a real inbound message (webhook -> inbound processor) and a real sent
  message (an agent's reply sent within the request, then Meta's ``delivered`` and ``read`` statuses),
  with the table's changes read from moto's stream and filtered as the stats function's event source
  filters them (``MSG#``, ``CONV#``, ``AIREPLY#``): the stats function's invocations per 1,000 messages.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3

from bench import dynamo_cost
from local import stream_events

DAYS = 90
START = date(2026, 8, 1)  # 90 days: 2026-08-01 .. 2026-10-29
SHOPS = {"1000_messages": 1_000, "1000000_messages": 1_000_000}
TIMEZONES = ("UTC", "Asia/Ho_Chi_Minh")
BATCH = 1_000  # the stats function's event source: BatchSize 1000
TARGET_DAY_READS = DAYS + 1
STREAM_PREFIXES = ("MSG#", "CONV#", "AIREPLY#")  # template.yaml's FilterCriteria on StatsFunction

# A Vietnamese shop's day (UTC+7): quiet at night, busy at lunch and in the evening (by local hour).
_LOCAL_HOUR_WEIGHTS = [1, 1, 1, 1, 1, 2, 4, 6, 8, 9, 10, 12, 14, 12, 10, 9, 9, 10, 12, 16, 18, 16, 10, 4]


# --- counters written directly ------------------------------------------------------------------------


def hourly_counts(total: int, days: int = DAYS, start: date = START, seed: int = 13) -> dict[str, dict[str, int]]:
    """``total`` messages over ``days`` UTC days as per-hour counters (``yyyy-mm-ddTHH`` -> counter -> n):
    a day-of-week and hour-of-day shape with some noise, whole messages by largest remainder; 55 % inbound,
    the rest outbound (accepted by Meta), 1 % of those also failed later."""
    rng = random.Random(seed)
    hours = [datetime.combine(start, datetime.min.time(), UTC) + timedelta(hours=n) for n in range(days * 24)]
    weights = [
        _LOCAL_HOUR_WEIGHTS[(at.hour + 7) % 24] * (1.3 if at.weekday() >= 5 else 1.0) * rng.uniform(0.7, 1.3)
        for at in hours
    ]
    scale = total / sum(weights)
    exact = [w * scale for w in weights]
    whole = [math.floor(x) for x in exact]
    for index in sorted(range(len(exact)), key=lambda i: exact[i] - whole[i], reverse=True)[: total - sum(whole)]:
        whole[index] += 1
    counts: dict[str, dict[str, int]] = {}
    for at, n in zip(hours, whole, strict=True):
        if n:
            inbound = round(n * 0.55)
            outbound = n - inbound
            counts[at.strftime("%Y-%m-%dT%H")] = {"inbound": inbound, "outbound": outbound, "failed": outbound // 100}
    return counts


def write_counters(table: str, shop: str, hours: dict[str, dict[str, int]]) -> int:
    """Put the shop's hour items and their day roll-ups (store/stats.py's items) with a client of the
    bench's own (not counted); returns how many items were written."""
    from mkt_whatsapp.store import keys
    from mkt_whatsapp.store import stats as stats_store
    from mkt_whatsapp.store.table import serialize

    days: dict[str, Counter[str]] = {}
    items = []
    for hour, counters in sorted(hours.items()):
        items.append({"PK": keys.stats_pk(shop), "SK": keys.stats_hour_sk(hour), **counters})
        day = days.setdefault(hour[:10], Counter())
        day.update(counters)
        day.update({stats_store.hour_counter(name, hour[11:13]): n for name, n in counters.items() if n})
    items += [{"PK": keys.stats_pk(shop), "SK": keys.stats_day_sk(day), **dict(c)} for day, c in sorted(days.items())]
    client = boto3.client("dynamodb", region_name="us-east-1")
    for start in range(0, len(items), 25):
        request = {table: [{"PutRequest": {"Item": serialize(item)}} for item in items[start : start + 25]]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
    return len(items)


@contextmanager
def read_meter() -> Iterator[dict[str, Any]]:
    """Count the service's BatchGetItem / GetItem / Query reads on its DynamoDB client, with
    ``ReturnConsumedCapacity=TOTAL`` added to each BatchGetItem, and the read units by DynamoDB's rules."""
    from mkt_whatsapp.core import aws

    meter: dict[str, Any] = {"requests": 0, "keys": 0, "items": 0, "rru": 0.0, "moto_consumed_capacity": 0.0}
    events = aws.dynamodb().meta.events

    def before(params: dict[str, Any], **_: Any) -> None:
        params["ReturnConsumedCapacity"] = "TOTAL"
        meter["requests"] += 1
        meter["keys"] += sum(len(request["Keys"]) for request in params["RequestItems"].values())

    def after(parsed: dict[str, Any], **_: Any) -> None:
        found = [item for items in parsed.get("Responses", {}).values() for item in items]
        meter["items"] += len(found)
        # found items by their size (0.5 RRU per started 4 KB); keys with no item: the minimum, 0.5
        sizes = [dynamo_cost.item_size(dynamo_cost.plain(item)) for item in found]
        unprocessed = sum(len(r["Keys"]) for r in (parsed.get("UnprocessedKeys") or {}).values())
        meter["_answered"] = meter.get("_answered", 0) + len(found)
        meter["rru"] += sum(0.5 * max(1, math.ceil(size / 4096)) for size in sizes)
        meter["_unprocessed"] = meter.get("_unprocessed", 0) + unprocessed
        meter["max_item_bytes"] = max([meter.get("max_item_bytes", 0), *sizes])
        meter["moto_consumed_capacity"] += sum(c.get("CapacityUnits", 0) for c in parsed.get("ConsumedCapacity", []))

    events.register("before-parameter-build.dynamodb.BatchGetItem", before, unique_id="bench-analytics-before")
    events.register("after-call.dynamodb.BatchGetItem", after, unique_id="bench-analytics-after")
    try:
        yield meter
    finally:
        events.unregister("before-parameter-build.dynamodb.BatchGetItem", unique_id="bench-analytics-before")
        events.unregister("after-call.dynamodb.BatchGetItem", unique_id="bench-analytics-after")
        processed = meter["keys"] - meter.pop("_unprocessed", 0)
        meter["rru"] += 0.5 * (processed - meter.pop("_answered", 0))  # keys with no item


def token(shops: list[str]) -> str:
    import jwt

    claims = {"sub": "bench", "shop_ids": shops, "exp": 4102444800}
    return jwt.encode(claims, os.environ["JWT_SECRET"], algorithm="HS256")


def ask(lambdas: Any, shop: str, timezone: str, start: date = START, days: int = DAYS) -> dict[str, Any]:
    from local.make_events import http_event

    query = {
        "shopId": shop,
        "startDate": start.isoformat(),
        "endDate": (start + timedelta(days=days - 1)).isoformat(),
        "groupBy": "day",
        "timezone": timezone,
    }
    headers = {"authorization": f"Bearer {token([shop])}"}
    answer = lambdas.invoke(
        "AnalyticsFunction",
        http_event("GET", "/analytics/messages", "/analytics/messages", query=query, headers=headers),
    )
    assert answer["statusCode"] == 200, answer
    data: dict[str, Any] = json.loads(answer["body"])["data"]
    return data


def measure_reads(stack: Any, shops: dict[str, int] = SHOPS) -> dict[str, Any]:
    """Counters written directly for each shop, then GET /analytics/messages for 90 days by day, in UTC
    and in Asia/Ho_Chi_Minh, through the real handler: reads per request."""
    table = stack.physical["Table"]
    results: dict[str, Any] = {}
    for label, total in shops.items():
        shop = f"bench-analytics-{label}"
        hours = hourly_counts(total)
        written = write_counters(table, shop, hours)
        ask(stack.lambdas, shop, "UTC", START - timedelta(days=DAYS), DAYS)  # warm: the clients, the settings
        figures: dict[str, Any] = {"messages": total, "counter_items_written": written}
        for timezone in TIMEZONES:
            stack.calls.clear()
            with read_meter() as meter:
                data = ask(stack.lambdas, shop, timezone)
            summary = data["summary"]
            assert len(data["metrics"]) == DAYS
            if timezone == "UTC":  # the whole range's counters, every one of them read back
                assert summary["totalInbound"] + summary["totalOutbound"] == total, summary
            assert meter["keys"] <= TARGET_DAY_READS, (label, timezone, meter)
            figures[timezone] = {
                "batch_get_requests": meter["requests"],
                "keys_requested": meter["keys"],
                "items_read": meter["items"],
                "read_units": meter["rru"],
                "largest_item_bytes": meter.get("max_item_bytes", 0),
                "moto_consumed_capacity": meter["moto_consumed_capacity"],
                "dynamodb_calls": dict(sorted(stack.calls.items())),
                "messages_in_answer": summary["totalInbound"] + summary["totalOutbound"],
            }
        results[label] = figures
    return results


# --- write units of the counters ---------------------------------------------------------------------


def inbound_changes(shop: str, at: str) -> list[dict[str, Any]]:
    return [stream_events.inbound(shop, at)]


def sent_changes(shop: str, at: str) -> list[dict[str, Any]]:
    """An outbound message's changes: inserted ``queued``, then ``sent``, ``delivered``, ``read``."""
    return stream_events.outbound(shop, at, [("sent", at), ("delivered", at), ("read", at)])


def _at(hour: int, second: int) -> str:
    return (datetime(2026, 10, 1, 8, tzinfo=UTC) + timedelta(hours=hour, seconds=second)).strftime("%Y-%m-%dT%H:%M:%SZ")


def scenarios(scale: int = 1_000) -> dict[str, tuple[int, int, list[dict[str, Any]]]]:
    """label -> (inbound messages, sent messages, their changes in stream order)."""
    inbound = [r for n in range(scale) for r in inbound_changes("bench-w-1", _at(0, n % 3600))]
    sent = [r for n in range(scale) for r in sent_changes("bench-w-2", _at(0, n % 3600))]
    rng = random.Random(13)
    mixed: list[tuple[str, list[dict[str, Any]]]] = []
    mixed_in = mixed_out = 0
    for n in range(3 * scale):  # 10 shops, 3 hours, 60 % inbound
        shop, at = f"bench-w-mix-{rng.randrange(10)}", _at(n * 3 // (3 * scale), rng.randrange(3600))
        if rng.random() < 0.6:
            mixed.append((at, inbound_changes(shop, at)))
            mixed_in += 1
        else:
            mixed.append((at, sent_changes(shop, at)))
            mixed_out += 1
    mixed.sort(key=lambda pair: pair[0])
    return {
        f"{scale}_inbound_one_shop_one_hour": (scale, 0, inbound),
        f"{scale}_sent_one_shop_one_hour": (0, scale, sent),
        f"{3 * scale}_mixed_10_shops_3_hours": (mixed_in, mixed_out, [r for _, rs in mixed for r in rs]),
    }


def measure_writes(stack: Any, scale: int = 1_000) -> dict[str, Any]:
    from mkt_whatsapp.analytics import counting

    table = stack.physical["Table"]
    results: dict[str, Any] = {}
    for label, (inbound, sent, records) in scenarios(scale).items():
        batches = [records[start : start + BATCH] for start in range(0, len(records), BATCH)]
        before = dynamo_cost.snapshot(table)
        stack.writes.clear()
        stack.calls.clear()
        outcomes = [counting.count_records(batch) for batch in batches]
        wru = dynamo_cost.write_units_of(stack.writes, before, dynamo_cost.snapshot(table))
        messages = inbound + sent
        results[label] = {
            "inbound_messages": inbound,
            "sent_messages": sent,
            "stream_changes": len(records),
            "batches_of_up_to_1000": len(batches),
            "transactions": stack.calls["dynamodb:TransactWriteItems"],
            "items_written": wru["items_written"],
            "write_units": wru["total"],
            "write_units_per_message": round(wru["total"] / messages, 4),
            "counted": sum(o["counted"] for o in outcomes),
        }
    return results


# --- stream changes per real message -----------------------------------------------------------------


def _stream_keys(session: Any, table: str) -> list[str]:
    """Every change on the table's stream so far (its PKs, in shard order), read from moto's stream."""
    dynamodb, streams = session.client("dynamodb"), session.client("dynamodbstreams")
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    found = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            found += [record["dynamodb"]["Keys"]["PK"]["S"] for record in page["Records"]]
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return found


def measure_stream_changes(stack: Any) -> dict[str, Any]:
    """The table's changes one real inbound message and one real sent message make, and the share the
    stats function's filter passes."""
    from bench.inbound import text_delivery
    from bench.stack import delivery
    from local.make_events import http_event, sqs_event
    from mkt_whatsapp.whatsapp.signature import sign

    table, lambdas = stack.physical["Table"], stack.lambdas
    sqs = stack.session.client("sqs")
    queue = stack.physical["InboundQueue"]
    stack.connect_account()

    def webhook(raw: bytes) -> None:
        headers = {"content-type": "application/json", "x-hub-signature-256": sign(raw, os.environ["META_APP_SECRET"])}
        assert (
            lambdas.invoke("WebhooksFunction", http_event("POST", "/webhooks", "/webhooks", body=raw, headers=headers))[
                "statusCode"
            ]
            == 200
        )
        bodies = []
        while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages"):
            bodies += [m["Body"] for m in messages]
            for m in messages:
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
        lambdas.invoke("InboundProcessorFunction", sqs_event(bodies))

    def changes(step: Any) -> dict[str, Any]:
        before = len(_stream_keys(stack.session, table))
        step()
        new = _stream_keys(stack.session, table)[before:]
        counted = [pk for pk in new if pk.startswith(STREAM_PREFIXES)]
        return {
            "table_changes": len(new),
            "changes_to_stats_function": len(counted),
            "by_item": dict(Counter(pk.split("#")[0] + "#" for pk in counted)),
        }

    webhook(text_delivery(1))  # the customer and the conversation exist from now on
    inbound = changes(lambda: webhook(text_delivery(2)))
    reply = stack.reply_event("Dạ còn ạ")
    sent_answer: dict[str, Any] = {}

    def send() -> None:
        sent_answer.update(lambdas.invoke("ConversationsFunction", reply))

    sent = changes(send)
    assert sent_answer["statusCode"] == 201, sent_answer
    wamid = json.loads(sent_answer["body"])["data"]["whatsAppMessageId"]

    def statuses() -> None:
        for status in ("delivered", "read"):
            value = {
                "statuses": [
                    {"id": wamid, "status": status, "timestamp": str(int(time.time())), "recipient_id": "84900000000"}
                ]
            }
            webhook(delivery(value))

    after_send = changes(statuses)
    return {"inbound_message": inbound, "sent_message_send": sent, "sent_message_delivered_and_read": after_send}


def measure() -> dict[str, Any]:
    from bench.stack import bench_stack

    os.environ["ANALYTICS_RATE_LIMIT_PER_MINUTE"] = "100000"
    with bench_stack("bench-analytics") as stack:
        writes = measure_writes(stack)  # first: each measure scans the table, small before the reads' counters
        stream = measure_stream_changes(stack)
        reads = measure_reads(stack)
    per_in = writes["1000_inbound_one_shop_one_hour"]
    per_sent = writes["1000_sent_one_shop_one_hour"]
    changes_in = stream["inbound_message"]["changes_to_stats_function"]
    changes_sent = (
        stream["sent_message_send"]["changes_to_stats_function"]
        + stream["sent_message_delivered_and_read"]["changes_to_stats_function"]
    )
    return {
        "reads_90_days_by_day": reads,
        "target_items_utc": TARGET_DAY_READS,
        "counter_writes": writes,
        "stream_changes_per_real_message": stream,
        "stats_invocations_per_1000_messages": {
            "inbound": round(1000 * changes_in / BATCH, 2),
            "sent_delivered_read": round(1000 * changes_sent / BATCH, 2),
            "note": "full batches of 1,000 filtered changes; the 5 s batching window sends smaller ones at low rates",
        },
        "write_units_per_message": {
            "inbound": per_in["write_units_per_message"],
            "sent": per_sent["write_units_per_message"],
        },
    }


def report(figures: dict[str, Any]) -> None:
    print(f"\nAnalytics (issue 13): GET /analytics/messages, {DAYS} days grouped by day, counters written directly")
    for label, shop in figures["reads_90_days_by_day"].items():
        for timezone in TIMEZONES:
            f = shop[timezone]
            print(
                f"  {label:18} {timezone:17} {f['batch_get_requests']} BatchGetItem, {f['keys_requested']} keys,"
                f" {f['items_read']} items, {f['read_units']} RRU (largest item {f['largest_item_bytes']} B;"
                f" moto says {f['moto_consumed_capacity']})"
            )
    print(f"  target: equal at both volumes, <= {figures['target_items_utc']} items (a local day: 2 UTC day items)")
    print("  counter writes (analytics.counting.count_records, batches of up to 1,000 stream changes):")
    for label, f in figures["counter_writes"].items():
        print(
            f"    {label:34} {f['stream_changes']} changes in {f['batches_of_up_to_1000']} batches:"
            f" {f['transactions']} transactions, {f['items_written']} items, {f['write_units']} WRU"
            f" = {f['write_units_per_message']} WRU per message"
        )
    for label, f in figures["stream_changes_per_real_message"].items():
        print(
            f"  {label.replace('_', ' ')}: {f['table_changes']} table changes,"
            f" {f['changes_to_stats_function']} to the stats function"
            f" {f['by_item']}"
        )
    inv = figures["stats_invocations_per_1000_messages"]
    print(
        f"  stats invocations per 1,000 messages (full batches): inbound {inv['inbound']},"
        f" sent {inv['sent_delivered_read']}"
    )


if __name__ == "__main__":
    result = measure()
    report(result)
