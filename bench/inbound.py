"""Webhook ingestion: the receiver's handler time (warm, in-process, moto in-process), AWS calls and
DynamoDB write units per inbound message end to end — what each of its write units buys and what other
designs would write (bench/message_writes.py) — and the processor's throughput on batches of 10.

``python -m bench inbound`` refreshes this section (webhook_ingestion) of bench/results/latest.json alone."""

from __future__ import annotations

import json
import os
import statistics
import time
from typing import Any

from bench import dynamo_cost, message_writes
from bench.stack import bench_stack, delivery
from local.make_events import http_event, sqs_event

WARM_RUNS = 300


def text_delivery(n: int, customer: int = 0, messages: int = 1) -> bytes:
    now = int(time.time())
    phone = f"849{customer:08d}"
    return delivery(
        {
            "contacts": [
                {"profile": {"name": f"Khách hàng {customer}"}, "wa_id": phone, "user_id": f"VN.{customer:012d}"}
            ],
            "messages": [
                {
                    "from": phone,
                    "id": f"wamid.BENCH.{n}.{i}",
                    "timestamp": str(now),
                    "type": "text",
                    "text": {"body": "Xin chào, shop còn hàng không? Giá bao nhiêu ạ?"},
                }
                for i in range(messages)
            ],
        }
    )


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure() -> dict[str, Any]:
    from mkt_whatsapp.store.table import get_table
    from mkt_whatsapp.whatsapp.signature import sign

    with bench_stack("bench-inbound") as stack:
        lambdas, calls, writes, physical = stack.lambdas, stack.calls, stack.writes, stack.physical
        stack.connect_account()
        sqs = stack.session.client("sqs")
        queue = physical["InboundQueue"]
        secret = os.environ["META_APP_SECRET"]

        def webhook(n: int, customer: int = 0, messages: int = 1) -> dict[str, Any]:
            raw = text_delivery(n, customer, messages)
            return http_event(
                "POST",
                "/webhooks",
                "/webhooks",
                body=raw,
                headers={"content-type": "application/json", "x-hub-signature-256": sign(raw, secret)},
            )

        def drain() -> list[str]:
            bodies = []
            while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages"):
                bodies += [m["Body"] for m in messages]
                sqs.delete_message_batch(
                    QueueUrl=queue,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
                )
            return bodies

        # Warm both functions (first customer, first conversation).
        assert lambdas.invoke("WebhooksFunction", webhook(0))["statusCode"] == 200
        lambdas.invoke("InboundProcessorFunction", sqs_event(drain()))
        conversation_moved_at = int(time.time())

        # 1. the receiver, warm
        timings = []
        for n in range(1, WARM_RUNS + 1):
            event = webhook(n)
            start = time.perf_counter()
            result = lambdas.invoke("WebhooksFunction", event)
            timings.append((time.perf_counter() - start) * 1000)
            assert result["statusCode"] == 200
        drain()

        # 2. one message end to end (existing customer and conversation), calls and write units, and what
        # each write unit buys. A second after the conversation's last message (Meta's timestamps are whole
        # seconds): in the same second its lastMessageAt, the GSI1 sort key, would not move.
        while int(time.time()) <= conversation_moved_at:
            time.sleep(0.05)
        calls.clear()
        writes.clear()
        assert lambdas.invoke("WebhooksFunction", webhook(10_000))["statusCode"] == 200
        receiver_calls = sum(calls.values())
        table = get_table()
        before = dynamo_cost.snapshot(table.name)
        lambdas.invoke("InboundProcessorFunction", sqs_event(drain()))
        per_message_calls = dict(calls)
        after = dynamo_cost.snapshot(table.name)
        wru = dynamo_cost.write_units_of(writes, before, after)
        what_it_buys = message_writes.measure(writes, before, after)

        # 2b. a new customer's first message
        calls.clear()
        writes.clear()
        lambdas.invoke("WebhooksFunction", webhook(20_000, customer=42))
        before = dynamo_cost.snapshot(table.name)
        lambdas.invoke("InboundProcessorFunction", sqs_event(drain()))
        first_message_calls = sum(calls.values())
        first_wru = dynamo_cost.write_units_of(writes, before, dynamo_cost.snapshot(table.name))

        # 2c. an agent's text reply sent within the request, then its "delivered" status webhook
        reply_event = stack.reply_event("Dạ còn ạ")
        lambdas.invoke("ConversationsFunction", reply_event)  # warm the send path
        calls.clear()
        writes.clear()
        before = dynamo_cost.snapshot(table.name)
        answer = lambdas.invoke("ConversationsFunction", reply_event)
        assert answer["statusCode"] == 201, answer
        reply = {
            "aws_calls": sum(calls.values()),
            "by_operation": dict(sorted(calls.items())),
            "write_units": dynamo_cost.write_units_of(writes, before, dynamo_cost.snapshot(table.name)),
        }
        wamid = json.loads(answer["body"])["data"]["whatsAppMessageId"]
        raw = delivery(
            {
                "statuses": [
                    {"id": wamid, "status": "delivered", "timestamp": str(int(time.time())), "recipient_id": "1"}
                ]
            }
        )
        headers = {"content-type": "application/json", "x-hub-signature-256": sign(raw, secret)}
        calls.clear()
        writes.clear()
        before = dynamo_cost.snapshot(table.name)
        lambdas.invoke("WebhooksFunction", http_event("POST", "/webhooks", "/webhooks", body=raw, headers=headers))
        lambdas.invoke("InboundProcessorFunction", sqs_event(drain()))
        status = {
            "aws_calls": sum(calls.values()),
            "by_operation": dict(sorted(calls.items())),
            "write_units": dynamo_cost.write_units_of(writes, before, dynamo_cost.snapshot(table.name)),
        }

        # 3. processor throughput: 50 batches of 10 queued changes, each a message of another customer
        for batch in range(50):
            for i in range(10):
                lambdas.invoke("WebhooksFunction", webhook(30_000 + batch * 10 + i, customer=100 + i % 7))
        bodies = drain()
        start = time.perf_counter()
        for offset in range(0, len(bodies), 10):
            result = lambdas.invoke("InboundProcessorFunction", sqs_event(bodies[offset : offset + 10]))
            assert result == {"batchItemFailures": []}
        elapsed = time.perf_counter() - start
    return {
        "receiver_handler_ms": {
            "p50": round(statistics.median(timings), 2),
            "p99": round(percentile(timings, 0.99), 2),
            "runs": WARM_RUNS,
            "target_p99": 20,
        },
        "receiver_aws_calls": receiver_calls,
        "aws_calls_per_inbound_message": {
            "total": sum(per_message_calls.values()),
            "target": 6,
            "by_operation": per_message_calls,
        },
        "write_units_per_inbound_message": {**wru, "target": 6},
        **what_it_buys,
        "first_message_of_a_new_customer": {"aws_calls": first_message_calls, "write_units": first_wru},
        "text_reply_sent_within_the_request": reply,
        "status_webhook_end_to_end": status,
        "processor_throughput": {
            "messages": len(bodies),
            "seconds": round(elapsed, 2),
            "messages_per_second": round(len(bodies) / elapsed, 1),
            "note": "moto in-process, one DynamoDB request at a time (local/moto_seams), so this is a floor",
        },
    }


def report(ingestion: dict[str, Any]) -> None:
    receiver = ingestion["receiver_handler_ms"]
    per_message = ingestion["aws_calls_per_inbound_message"]
    wru = ingestion["write_units_per_inbound_message"]
    throughput = ingestion["processor_throughput"]
    print("\nWebhook ingestion (warm, in-process, moto in-process)")
    print(
        f"  receiver handler: p50 {receiver['p50']} ms, p99 {receiver['p99']} ms over {receiver['runs']} runs"
        f" (target p99 <= {receiver['target_p99']} ms); {ingestion['receiver_aws_calls']} AWS call"
    )
    print(
        f"  AWS calls per inbound message end to end: {per_message['total']} (target <= {per_message['target']})"
        f"  {per_message['by_operation']}"
    )
    print(f"  write units per inbound message: {wru['total']} (target <= {wru['target']})  {wru['by_target']}")
    for row in ingestion["write_units_breakdown"]["rows"]:
        print(f"    {row['write_units']:>2}  {row['item']:<18} {row['target']:<14} {row['buys']}")
    print("  the same message written by other designs (bench/message_writes.py):")
    for design in ingestion["designs"]:
        kept = "exactly-once" if design["exactly_once"] else "NOT exactly-once"
        print(f"    ({design['design']}) {design['write_units']:>2} WRU, {design['write_calls']} write calls, {kept}")
    first = ingestion["first_message_of_a_new_customer"]
    print(
        f"  a new customer's first message: {first['aws_calls']} calls, {first['write_units']['total']} WRU"
        f"  {first['write_units']['by_target']}"
    )
    for label in ("text_reply_sent_within_the_request", "status_webhook_end_to_end"):
        figures = ingestion[label]
        print(
            f"  {label.replace('_', ' ')}: {figures['aws_calls']} calls {figures['by_operation']},"
            f" {figures['write_units']['total']} WRU {figures['write_units']['by_target']}"
        )
    print(
        f"  processor: {throughput['messages']} messages in batches of 10 in {throughput['seconds']} s"
        f" = {throughput['messages_per_second']} msg/s ({throughput['note']})"
    )


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
