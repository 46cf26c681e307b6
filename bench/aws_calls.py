"""AWS API calls per request, counted with botocore's event hooks on the service's boto3 session, for
each request of the foundation (warm: the second identical request is the one counted)."""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

import boto3
from moto import mock_aws

from local import template as tpl
from local.graph_simulator import GraphSimulator
from local.lambdas import LocalLambdas, ensure_layer_on_path
from local.make_events import http_event

ensure_layer_on_path()

SHOP = "bench-shop"
TARGETS = {"GET /accounts/{shopId}": 2}


def _environment(simulator: GraphSimulator) -> None:
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "JWT_SECRET": "bench-jwt-secret-0123456789abcdef",
            "META_APP_SECRET": "bench-app-secret",
            "WEBHOOK_VERIFY_TOKEN": "bench-verify",
            "GRAPH_API_BASE_URL": simulator.url,
            "POWERTOOLS_METRICS_NAMESPACE": "Bench",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "RATE_LIMIT_PER_MINUTE": "100000",
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)


def measure() -> dict[str, Any]:
    import jwt

    from mkt_whatsapp import aws
    from mkt_whatsapp.settings import get_settings
    from mkt_whatsapp.store.table import get_table
    from mkt_whatsapp.whatsapp.signature import sign

    simulator = GraphSimulator().start()
    _environment(simulator)
    results: dict[str, Any] = {}
    try:
        with mock_aws():
            physical = tpl.deploy_resources(boto3.session.Session(region_name="us-east-1"), "bench", {})
            os.environ.update(TABLE_NAME=physical["Table"], TOKEN_KMS_KEY_ID=physical["TokenKey"])
            get_settings.cache_clear()
            get_table.cache_clear()
            aws.reset()
            calls: Counter[str] = Counter()
            aws.session().events.register(
                "before-call", lambda model, **_: calls.update([f"{model.service_model.service_name}:{model.name}"])
            )
            lambdas = LocalLambdas(tpl.functions())
            token = jwt.encode(
                {"sub": "bench", "shop_ids": [SHOP], "exp": 4102444800}, os.environ["JWT_SECRET"], algorithm="HS256"
            )
            auth = {"authorization": f"Bearer {token}", "content-type": "application/json"}
            body = json.dumps({"shopId": SHOP, "phoneNumberId": "5550001", "accessToken": "EAAbench"}).encode()
            delivery = json.dumps(
                {
                    "object": "whatsapp_business_account",
                    "entry": [
                        {
                            "id": "1",
                            "changes": [
                                {
                                    "field": "messages",
                                    "value": {
                                        "messaging_product": "whatsapp",
                                        "metadata": {"phone_number_id": "5550001"},
                                    },
                                }
                            ],
                        }
                    ],
                }
            ).encode()

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
                    body=delivery,
                    headers={"x-hub-signature-256": sign(delivery, os.environ["META_APP_SECRET"])},
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
    finally:
        simulator.stop()
    return results


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
