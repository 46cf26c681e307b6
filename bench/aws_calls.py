"""AWS API calls per request, counted with botocore's event hooks on the service's boto3 session, for
each request of the foundation (warm: the second identical request is the one counted)."""

from __future__ import annotations

import json
import os
from typing import Any

from bench.stack import PHONE_NUMBER_ID, SHOP, bench_stack, delivery
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
        count(
            "DELETE /accounts/{shopId}",
            "AccountsFunction",
            http_event(
                "DELETE", "/accounts/{shopId}", f"/accounts/{SHOP}", headers=auth, path_parameters={"shopId": SHOP}
            ),
            200,
        )
    return results


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
