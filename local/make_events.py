"""Write events/: one API Gateway HTTP API v2 event per function (for ``sam local invoke -e``), a function-URL
event for the webhooks (``webhooks-url-*``), plus the raw webhook body the README signs. Regenerate with
``python -m local.make_events``.

Authenticated samples carry a long-lived token signed with the local stack's *development* JWT secret
(local/defaults.py); ``events/env.json`` gives ``sam local invoke --env-vars`` the same secrets.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import time
import zlib
from datetime import UTC, datetime
from typing import Any

import jwt

from local import defaults
from local.function_urls import function_url_event
from local.lambdas import ensure_layer_on_path
from local.template import ROOT

EVENTS = ROOT / "events"
CORPUS = ROOT / "tests" / "fixtures" / "webhooks"
SAMPLE_SHOP = "shop-1"
SAMPLE_PHONE_NUMBER_ID = "106540352242922"
_FAR_FUTURE = 4102444800  # 2100-01-01: sample tokens only verify with the public development secret


def sample_token() -> str:
    claims = {"sub": "sample-agent", "shop_ids": [SAMPLE_SHOP], "iat": 1767225600, "exp": _FAR_FUTURE}
    return jwt.encode(claims, defaults.LOCAL_DEFAULTS["JWT_SECRET"], algorithm="HS256")


def http_event(
    method: str,
    route_path: str,
    raw_path: str,
    *,
    query: dict[str, str] | None = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    path_parameters: dict[str, str] | None = None,
    base64_body: bool = False,
) -> dict[str, Any]:
    base = "/api/v1/whatsapp"
    all_headers = {"host": "localhost:3000", "user-agent": "curl/8.5.0", "accept": "*/*", **(headers or {})}
    raw_query = "&".join(f"{k}={v}" for k, v in (query or {}).items())
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {base}{route_path}",
        "rawPath": f"{base}{raw_path}",
        "rawQueryString": raw_query,
        "headers": all_headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {
                "method": method,
                "path": f"{base}{raw_path}",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "curl/8.5.0",
            },
            "requestId": "sample-request",
            "routeKey": f"{method} {base}{route_path}",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 1767225600000,
        },
        "isBase64Encoded": base64_body,
    }
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body is not None:
        event["body"] = base64.b64encode(body).decode() if base64_body else body.decode()
    return event


def webhook_body() -> bytes:
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "419561257915477",
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": SAMPLE_PHONE_NUMBER_ID,
                            },
                            "contacts": [{"profile": {"name": "Nguyễn Văn A"}, "wa_id": "84901234567"}],
                            "messages": [
                                {
                                    "from": "84901234567",
                                    "id": "wamid.HBgLODQ5MDEyMzQ1NjcVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
                                    "timestamp": "1767225600",
                                    "type": "text",
                                    "text": {"body": "Xin chào, shop còn hàng không?"},
                                }
                            ],
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }
    # Meta escapes non-ASCII (and "/") in what it sends; the signature covers exactly these bytes.
    return json.dumps(body, ensure_ascii=True, indent=1).replace("/", "\\/").encode()


def bulk_webhook_body(phone_number_id: str, *, changes: int, messages_per_change: int, tag: str = "B") -> bytes:
    """A big signed-delivery body (for the bulk tests and ``make bench``): one entry of ``changes``
    changes of ``messages_per_change`` texts each, every message from a customer of its own (``tag`` keeps
    the wamids and phone numbers of one body apart from another's)."""
    prefix = zlib.crc32(tag.encode()) % 1000
    now = str(int(time.time()))
    serial = itertools.count()
    values = []
    for _ in range(changes):
        numbers = [next(serial) for _ in range(messages_per_change)]
        values.append(
            {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550001", "phone_number_id": phone_number_id},
                "contacts": [
                    {"profile": {"name": f"Khách {tag} {n}"}, "wa_id": f"84{prefix:03d}{n:07d}"} for n in numbers
                ],
                "messages": [
                    {
                        "from": f"84{prefix:03d}{n:07d}",
                        "id": f"wamid.BULK.{tag}.{n}",
                        "timestamp": now,
                        "type": "text",
                        "text": {"body": "Xin chào, shop còn hàng không? Giá bao nhiêu ạ?"},
                    }
                    for n in numbers
                ],
            }
        )
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value} for value in values]}],
    }
    return json.dumps(body, ensure_ascii=True).encode()


def events() -> dict[str, dict[str, Any]]:
    ensure_layer_on_path()
    from mkt_whatsapp.whatsapp.signature import sign

    auth = {"authorization": f"Bearer {sample_token()}"}
    json_headers = {**auth, "content-type": "application/json"}
    shop = {"shopId": SAMPLE_SHOP}
    body = webhook_body()
    return {
        "webhooks-verify": http_event(
            "GET",
            "/webhooks",
            "/webhooks",
            query={
                "hub.mode": "subscribe",
                "hub.verify_token": defaults.LOCAL_DEFAULTS["WEBHOOK_VERIFY_TOKEN"],
                "hub.challenge": "1158201444",
            },
        ),
        "webhooks-receive": http_event(
            "POST",
            "/webhooks",
            "/webhooks",
            body=body,
            base64_body=True,
            headers={
                "content-type": "application/json",
                "x-hub-signature-256": sign(body, defaults.LOCAL_DEFAULTS["META_APP_SECRET"]),
            },
        ),
        # The same delivery as Meta sends it to the function URL (output WebhookUrl).
        "webhooks-url-receive": function_url_event(
            "WebhooksFunction",
            "POST",
            "/api/v1/whatsapp/webhooks",
            body=body,
            headers={
                "content-type": "application/json",
                "user-agent": "facebookexternalua",
                "x-hub-signature-256": sign(body, defaults.LOCAL_DEFAULTS["META_APP_SECRET"]),
            },
            source_ip="173.252.127.1",
            now=datetime(2026, 1, 1, tzinfo=UTC),
            request_id="sample-request",
        ),
        "accounts-connect": http_event(
            "POST",
            "/accounts",
            "/accounts",
            headers=json_headers,
            body=json.dumps(
                {
                    "shopId": SAMPLE_SHOP,
                    "phoneNumberId": SAMPLE_PHONE_NUMBER_ID,
                    "accessToken": "EAAsample-token",
                    "webhookUrl": "https://example.com/api/v1/whatsapp/webhooks",
                }
            ).encode(),
        ),
        "accounts-get": http_event(
            "GET", "/accounts/{shopId}", f"/accounts/{SAMPLE_SHOP}", headers=auth, path_parameters=shop
        ),
        "conversations-list": http_event("GET", "/conversations", "/conversations", headers=auth, query=shop),
        "customers-list": http_event("GET", "/customers", "/customers", headers=auth, query=shop),
        "flows-list": http_event("GET", "/flows", "/flows", headers=auth, query=shop),
        "templates-list": http_event("GET", "/templates", "/templates", headers=auth, query=shop),
        "campaigns-list": http_event("GET", "/campaigns", "/campaigns", headers=auth, query=shop),
        "ai_agents-list": http_event("GET", "/ai-agents", "/ai-agents", headers=auth, query=shop),
        "analytics-messages": http_event(
            "GET", "/analytics/messages", "/analytics/messages", headers=auth, query={**shop, "groupBy": "day"}
        ),
        "system-health": http_event("GET", "/health", "/health"),
        "system-not-found": http_event(
            "GET", "/{proxy+}", "/no-such-route", path_parameters={"proxy": "api/v1/whatsapp/no-such-route"}
        ),
        "inbound-changes": inbound_event(),
        "sender-messages": sqs_event(
            [
                json.dumps(
                    {
                        "messageId": "00000000-0000-4000-8000-000000000001",
                        "body": {
                            "messaging_product": "whatsapp",
                            "recipient_type": "individual",
                            "to": "84901234567",
                            "type": "text",
                            "text": {"body": "Cảm ơn bạn!", "preview_url": False},
                        },
                    },
                    ensure_ascii=False,
                )
            ]
        ),
        # An AI job for a conversation that is not there: answered "skipped", nothing fails.
        "ai_responder-jobs": sqs_event(
            [
                json.dumps(
                    {
                        "shopId": "shop-1",
                        "conversationId": "00000000-0000-4000-8000-00000000c0de",
                        "messageId": "00000000-0000-4000-8000-000000000002",
                        "agentId": "00000000-0000-4000-8000-00000000a9e7",
                        "turnAt": "2026-01-01T00:00:00Z",
                    }
                )
            ]
        ),
        # The flow state machine's first task for a conversation no flow runs on (it was stopped): the
        # runner answers that the execution ends, and changes nothing.
        "flow_runner-run": {
            "action": "run",
            "run": {
                "shopId": "shop-1",
                "flowId": "00000000-0000-4000-8000-00000000f10a",
                "version": 1,
                "conversationId": "00000000-0000-4000-8000-00000000c0de",
                "customerKey": "84901234567",
                "execution": "00000000-0000-4000-8000-000000000003",
                "messageId": "00000000-0000-4000-8000-000000000003",
                "text": "hi",
                "at": "greet",
                "steps": 0,
                "seq": 0,
                "vars": {},
                "fresh": True,
            },
        },
        # The campaign state machine's step for a campaign that does not exist (deleted, or never was): the
        # runner answers that the execution ends, and changes nothing.
        "campaign_runner-step": {
            "action": "step",
            "run": {"campaignId": "00000000-0000-4000-8000-0000000ca3a1", "generation": 1},
        },
        # The table's stream delivering one new inbound message (template.yaml's filter keeps MSG# items).
        "stats-records": stream_event(
            [
                {
                    "PK": "MSG#00000000-0000-4000-8000-000000000004",
                    "SK": "MESSAGE",
                    "entity": "message",
                    "GSI1PK": "CONV#00000000-0000-4000-8000-00000000c0de#MESSAGES",
                    "GSI1SK": "2026-01-01T00:00:00.000Z#00000000-0000-4000-8000-000000000004",
                    "id": "00000000-0000-4000-8000-000000000004",
                    "shopId": SAMPLE_SHOP,
                    "conversationId": "00000000-0000-4000-8000-00000000c0de",
                    "customerKey": "84901234567",
                    "direction": "inbound",
                    "whatsAppMessageId": "wamid.HBgLODQ5MDEyMzQ1NjcVAgASGBQzQUZFMDAwMDAwMDAwMDAwMDAwNAA=",
                    "content": {"type": "text", "text": {"body": "Xin chào"}},
                    "status": "received",
                    "statusRank": 10,
                    "timestamp": "2026-01-01T00:00:00.000Z",
                    "receivedAt": "2026-01-01T00:00:01.000Z",
                }
            ]
        ),
        **corpus_events(),
    }


def corpus_events() -> dict[str, dict[str, Any]]:
    """A signed webhook event for every body of the test corpus (one per message type and status)."""
    ensure_layer_on_path()
    from mkt_whatsapp.whatsapp.signature import sign

    samples = {}
    for path in sorted(CORPUS.glob("*.json")):
        raw = json.dumps(json.loads(path.read_text()), ensure_ascii=True).replace("/", "\\/").encode()
        samples[f"webhooks-receive-{path.stem.replace('_', '-')}"] = http_event(
            "POST",
            "/webhooks",
            "/webhooks",
            body=raw,
            base64_body=True,
            headers={
                "content-type": "application/json",
                "x-hub-signature-256": sign(raw, defaults.LOCAL_DEFAULTS["META_APP_SECRET"]),
            },
        )
    return samples


def sqs_event(bodies: list[str]) -> dict[str, Any]:
    """An SQS event as Lambda's event source mapping delivers it."""
    return {
        "Records": [
            {
                "messageId": f"0e0b7c3a-5a1e-4f0a-9d55-{index:012d}",
                "receiptHandle": f"AQEB-sample-{index}",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1767225600000",
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": "1767225600001",
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - SQS's own checksum
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:mkt-whatsapp-service-InboundQueue",
                "awsRegion": "us-east-1",
            }
            for index, body in enumerate(bodies)
        ]
    }


SAMPLE_STREAM_ARN = (
    "arn:aws:dynamodb:us-east-1:123456789012:table/mkt-whatsapp-service-Table/stream/2026-01-01T00:00:00.000"
)


def stream_event(new_items: list[dict[str, Any]]) -> dict[str, Any]:
    """A DynamoDB stream event as Lambda's event source mapping delivers it: one INSERT per item, with the
    table's view type (NEW_AND_OLD_IMAGES) and the attribute values in DynamoDB JSON."""
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    records = []
    for index, item in enumerate(new_items):
        image = {name: serializer.serialize(value) for name, value in item.items()}
        size = len(json.dumps(image, separators=(",", ":")))
        records.append(
            {
                "eventID": f"c81e728d9d4c2f636f067f89cc14862{index}",
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1767225601,
                    "Keys": {"PK": image["PK"], "SK": image["SK"]},
                    "NewImage": image,
                    "SequenceNumber": str(4000000000000000000000 + index),
                    "SizeBytes": size,
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
                "eventSourceARN": SAMPLE_STREAM_ARN,
            }
        )
    return {"Records": records}


def inbound_event() -> dict[str, Any]:
    """What the webhook receiver queues for the README's text message (one record of its one change)."""
    ensure_layer_on_path()
    from mkt_whatsapp.inbound.receiver import change_units, queue_bodies

    return sqs_event(queue_bodies(change_units(json.loads(webhook_body()))))


def env_file() -> dict[str, dict[str, str]]:
    values = dict(defaults.LOCAL_DEFAULTS)
    return {"Parameters": values}


def main() -> None:
    EVENTS.mkdir(exist_ok=True)
    for stale in EVENTS.glob("*.json"):
        stale.unlink()
    for name, event in events().items():
        (EVENTS / f"{name}.json").write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n")
    (EVENTS / "webhook-body-text.json").write_bytes(webhook_body())
    (EVENTS / "env.json").write_text(json.dumps(env_file(), indent=2) + "\n")


if __name__ == "__main__":
    main()
