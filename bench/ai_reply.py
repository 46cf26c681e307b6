"""AI agents, live: AWS calls, DynamoDB read units and write units per AI reply (warm), for an agent of
5 FAQ + 5 products and one of 500 + 2,000 (issue 11: independent of the knowledge's size).

A customer's message goes through the inbound processor (not counted), then the AI responder answers the
job it queued (counted: the claim, the agent, the history, the send, the accounting). The OpenAI simulator
answers over real HTTP. Read units are computed from the items each read returned (4 KB per unit, half
for an eventually consistent read), as DynamoDB bills them; the first reply of each agent (the container
builds its ranking index, reading the knowledge) is reported apart from the warm ones."""

from __future__ import annotations

import json
import math
import os
import time
from collections import Counter
from typing import Any

from bench import dynamo_cost
from bench.stack import SHOP, bench_stack, delivery
from local.make_events import http_event, sqs_event

WARM_REPLIES = 5


def _knowledge_body(faqs: int, products: int) -> dict[str, Any]:
    from tests.fixtures.ai_knowledge import large_knowledge

    knowledge = large_knowledge()
    return {
        "knowledgeBase": [{"question": f.question, "answer": f.answer} for f in knowledge.faqs[:faqs]],
        "products": [
            {"sku": p.sku, "name": p.name, "price": p.price, "currency": p.currency, "description": p.description}
            for p in knowledge.products[:products]
        ],
    }


def _raw_size(value: dict[str, Any]) -> int:
    """DynamoDB's size of one attribute value in its wire form ({"S": …}, {"B": …}, {"M": …}…)."""
    [(kind, inner)] = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "B":
        return len(inner)
    if kind == "N":
        return math.ceil(len(inner.lstrip("-").replace(".", "").lstrip("0") or "0") / 2) + 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _raw_size(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(_raw_size(v) + 1 for v in inner)
    if kind in ("SS", "NS", "BS"):
        return sum(len(str(v)) for v in inner)
    return 1  # BOOL, NULL


def _raw_item_size(raw: dict[str, Any]) -> int:
    return sum(len(name.encode()) + _raw_size(value) for name, value in raw.items())


def measure() -> dict[str, Any]:
    from local.openai_simulator import OpenAISimulator
    from mkt_whatsapp.core import aws

    openai = OpenAISimulator().start()
    os.environ.update({"OPENAI_BASE_URL": openai.base_url, "OPENAI_API_KEY": "sk-bench", "AI_DEBOUNCE_SECONDS": "0"})
    results: dict[str, Any] = {}
    try:
        with bench_stack("bench-ai") as stack:
            os.environ["AI_QUEUE_URL"] = stack.physical["AiQueue"]
            from local.lambdas import forget_container_state

            forget_container_state(clients=False)
            stack.connect_account()
            reads: list[float] = []
            consistent_flags: list[bool] = []

            def on_parameters(model: Any, params: dict[str, Any], **_: Any) -> None:
                if model.name in ("GetItem", "Query", "BatchGetItem"):
                    consistent_flags.append(bool(params.get("ConsistentRead")))

            def on_read(model: Any, parsed: dict[str, Any], **_: Any) -> None:
                if model.name not in ("GetItem", "Query", "BatchGetItem"):
                    return
                raw_items = [parsed["Item"]] if parsed.get("Item") else list(parsed.get("Items", []))
                for table_items in (parsed.get("Responses") or {}).values():
                    raw_items += table_items
                size = sum(_raw_item_size(raw) for raw in raw_items)
                consistent = consistent_flags.pop(0) if consistent_flags else False
                units = max(1, math.ceil(size / 4096))
                reads.append(units if consistent else units / 2)

            # The container's DynamoDB client exists already: hooks go on it (clients copy the session's).
            events = aws.dynamodb().meta.events
            events.register("before-parameter-build.dynamodb", on_parameters)
            events.register("after-call.dynamodb", on_read)
            sqs = stack.session.client("sqs")
            for label, (faqs, products) in {
                "5 FAQ + 5 products": (5, 5),
                "500 FAQ + 2,000 products": (500, 2000),
            }.items():
                agent = {"shopId": SHOP, "name": label, "model": "gpt-4o-mini", **_knowledge_body(faqs, products)}
                created = stack.lambdas.invoke(
                    "AiAgentsFunction",
                    http_event(
                        "POST",
                        "/ai-agents",
                        "/ai-agents",
                        headers=stack.auth_headers(),
                        body=json.dumps(agent).encode(),
                    ),
                )
                agent_id = json.loads(created["body"])["data"]["agentId"]
                stack.lambdas.invoke(
                    "AiAgentsFunction",
                    http_event(
                        "POST",
                        "/ai-agents/{agentId}/activate",
                        f"/ai-agents/{agent_id}/activate",
                        headers=stack.auth_headers(),
                        path_parameters={"agentId": agent_id},
                    ),
                )
                per_reply: list[dict[str, Any]] = []
                for n in range(WARM_REPLIES + 1):
                    customer = f"8490{faqs:03d}{n:04d}"
                    body = delivery(
                        {
                            "contacts": [{"profile": {"name": "Khách"}, "wa_id": customer}],
                            "messages": [
                                {
                                    "from": customer,
                                    "id": f"wamid.BENCH.AI.{faqs}.{n}",
                                    "timestamp": str(int(time.time())),
                                    "type": "text",
                                    "text": {"body": "Laptop Dell Inspiron còn hàng không, có trả góp không?"},
                                }
                            ],
                        }
                    )
                    payload = json.loads(body)["entry"][0]["changes"][0]
                    stack.lambdas.invoke(
                        "InboundProcessorFunction",
                        sqs_event([json.dumps({"entryId": "1", "field": "messages", "value": payload["value"]})]),
                    )
                    [job] = sqs.receive_message(QueueUrl=stack.physical["AiQueue"], MaxNumberOfMessages=1)["Messages"]
                    sqs.delete_message(QueueUrl=stack.physical["AiQueue"], ReceiptHandle=job["ReceiptHandle"])
                    stack.calls.clear()
                    stack.writes.clear()
                    reads.clear()
                    consistent_flags.clear()
                    before = dynamo_cost.snapshot(stack.physical["Table"])
                    outcome = stack.lambdas.invoke("AiResponderFunction", sqs_event([job["Body"]]))
                    assert outcome == {"batchItemFailures": []}, outcome
                    after = dynamo_cost.snapshot(stack.physical["Table"])
                    per_reply.append(
                        {
                            "aws_calls": sum(stack.calls.values()),
                            "by_operation": dict(sorted(stack.calls.items())),
                            "read_units": round(sum(reads), 1),
                            "write_units": dynamo_cost.write_units_of(stack.writes, before, after)["total"],
                        }
                    )
                first, warm = per_reply[0], per_reply[1:]
                # The typical warm reply (the send rate's slot reservation costs one write per ten sends).
                typical = Counter(json.dumps(r, sort_keys=True) for r in warm).most_common(1)[0][0]
                results[label] = {"first_reply_in_container": first, "warm_reply": json.loads(typical)}
            events.unregister("before-parameter-build.dynamodb", on_parameters)
            events.unregister("after-call.dynamodb", on_read)
    finally:
        openai.stop()
    small, large = results["5 FAQ + 5 products"]["warm_reply"], results["500 FAQ + 2,000 products"]["warm_reply"]
    results["independent_of_knowledge_size"] = (small["aws_calls"], small["read_units"]) == (
        large["aws_calls"],
        large["read_units"],
    )
    return results


def report(figures: dict[str, Any]) -> None:
    print("\nAI replies: AWS calls and DynamoDB units per reply (moto in-process, OpenAI simulator)")
    for label in ("5 FAQ + 5 products", "500 FAQ + 2,000 products"):
        for kind in ("first_reply_in_container", "warm_reply"):
            r = figures[label][kind]
            figures_line = f"{r['aws_calls']} calls, {r['read_units']} RRU, {r['write_units']} WRU"
            print(f"  {label:26} {kind:25} {figures_line}  {r['by_operation']}")
    print(f"  warm reply independent of the knowledge's size: {figures['independent_of_knowledge_size']}")


def measure_apart() -> dict[str, Any]:
    """:func:`measure` in a process of its own: ``make bench`` runs it after the sender's benchmark, whose
    emulator server and environment this in-process stack must not inherit."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "bench.ai_reply", "--json"], capture_output=True, text=True, timeout=900, check=True
    )
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


if __name__ == "__main__":
    import sys

    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Bench")
    if "--json" in sys.argv:
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):  # the handlers' metric lines
            figures = measure()
        print(json.dumps(figures))
    else:
        report(measure())
