"""AWS API calls per request, counted with botocore's event hooks on the service's boto3 session, for
each request of the foundation (warm: the second identical request is the one counted)."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3

from bench.stack import PHONE_NUMBER_ID, SHOP, bench_stack, delivery, queued_message
from local.make_events import http_event

TARGETS = {"GET /accounts/{shopId}": 2}


def measure() -> dict[str, Any]:
    from mkt_whatsapp.whatsapp.signature import sign

    results: dict[str, Any] = {}
    with bench_stack("bench-calls") as stack:
        lambdas, calls = stack.lambdas, stack.calls
        auth = stack.auth_headers()
        body = json.dumps({"shopId": SHOP, "phoneNumberId": PHONE_NUMBER_ID, "accessToken": "EAAbench"}).encode()
        empty_delivery = delivery({})

        def count(label: str, function: str, event: dict[str, Any], expected: int) -> None:
            calls.clear()
            result = lambdas.invoke(function, event)
            assert result["statusCode"] == expected, (label, result)
            results[label] = {"aws_calls": sum(calls.values()), "by_operation": dict(sorted(calls.items()))}
            if label in TARGETS:
                results[label]["target"] = TARGETS[label]

        lambdas.invoke("SystemFunction", http_event("GET", "/health", "/health"))  # warm the clients
        count(
            "POST /accounts",
            "AccountsFunction",
            http_event("POST", "/accounts", "/accounts", headers=auth, body=body),
            201,
        )
        get = http_event(
            "GET", "/accounts/{shopId}", f"/accounts/{SHOP}", headers=auth, path_parameters={"shopId": SHOP}
        )
        lambdas.invoke("AccountsFunction", get)
        count("GET /accounts/{shopId}", "AccountsFunction", get, 200)
        count("GET /health", "SystemFunction", http_event("GET", "/health", "/health"), 200)
        count(
            "POST /webhooks",
            "WebhooksFunction",
            http_event(
                "POST",
                "/webhooks",
                "/webhooks",
                body=empty_delivery,
                headers={"x-hub-signature-256": sign(empty_delivery, os.environ["META_APP_SECRET"])},
            ),
            200,
        )
        results["sender: per message, batches of 10"] = _sender_batch(stack)
        count(
            "DELETE /accounts/{shopId}",
            "AccountsFunction",
            http_event(
                "DELETE", "/accounts/{shopId}", f"/accounts/{SHOP}", headers=auth, path_parameters={"shopId": SHOP}
            ),
            200,
        )
    return results


def _sender_batch(stack: Any) -> dict[str, Any]:
    """A warm sender container's second batch of ten queued messages: calls and write units per message."""
    from bench import dynamo_cost
    from local.sqs_worker import lambda_record
    from mkt_whatsapp.messaging.delivery import outbound_record
    from mkt_whatsapp.store.table import serialize

    table = stack.physical["Table"]
    graph_body = {"messaging_product": "whatsapp", "to": "84900000001", "type": "text", "text": {"body": "Xin chào"}}
    client = boto3.client("dynamodb", region_name="us-east-1")  # the bench's own writes: not counted

    def batch(first: int) -> dict[str, Any]:
        records = []
        for n in range(first, first + 10):
            message_id = f"bench-out-{n}"
            client.put_item(
                TableName=table, Item=serialize(queued_message(message_id, "Xin chào", "2026-11-25T10:00:00Z"))
            )
            body = outbound_record(message_id, SHOP, graph_body)
            message = {
                "MessageId": f"sqs-{n}",
                "ReceiptHandle": f"rh-{n}",
                "Body": body,
                "Attributes": {"ApproximateReceiveCount": "1"},
            }
            records.append(lambda_record(message, "arn:aws:sqs:us-east-1:123456789012:outbound", "us-east-1"))
        return {"Records": records}

    stack.lambdas.invoke("SenderFunction", batch(0))  # warm: the account, the token, the clients
    event = batch(10)
    before = dynamo_cost.snapshot(table)
    stack.calls.clear()
    stack.writes.clear()
    assert stack.lambdas.invoke("SenderFunction", event) == {"batchItemFailures": []}
    wru = dynamo_cost.write_units_of(stack.writes, before, dynamo_cost.snapshot(table))
    return {
        "aws_calls": sum(stack.calls.values()) / 10,
        "by_operation": {name: n / 10 for name, n in sorted(stack.calls.items())},
        "write_units": wru["total"] / 10,
        "write_units_by_target": {name: n / 10 for name, n in wru["by_target"].items()},
    }


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
