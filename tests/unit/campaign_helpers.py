"""Campaigns in tests: a shop with approved templates and customers written as the inbound processor keeps
them (tags, consent, custom fields, last contact), campaigns created through the API, and the campaign state
machine (moto, its steps run by the in-process runner) with the sender draining the outbound queue."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from mkt_whatsapp.core import text
from mkt_whatsapp.store import campaigns as campaign_store
from mkt_whatsapp.store import customers as customer_store
from mkt_whatsapp.store import get_table, keys
from tests.support import ApiClient, AwsStack, drain, poll_until, seed_templates

_CREATED = itertools.count(1)


def template(name: str, category: str, body: str, *examples: str, status: str = "APPROVED") -> dict[str, Any]:
    """A template in Meta's shape (as GET message_templates lists it) with one BODY component."""
    component: dict[str, Any] = {"type": "BODY", "text": body}
    if examples:
        component["example"] = {"body_text": [list(examples)]}
    return {
        "name": name,
        "language": "vi",
        "status": status,
        "category": category,
        "components": [component],
        "parameter_format": "POSITIONAL",
        "quality_score": {"score": "GREEN"},
    }


SPRING_SALE = template("spring_sale", "MARKETING", "{{1}} ơi, mùa xuân giảm 20% cho mọi đơn!", "An")
ORDER_NOTE = template("order_note", "UTILITY", "Chào {{1}}, đơn của bạn đã được cập nhật.", "An")
SUMMER_PROMO = template("summer_teaser", "MARKETING", "{{1}}, hè này có gì?", "An", status="PENDING")


def seed(shop_id: str) -> None:
    seed_templates(shop_id, SPRING_SALE, ORDER_NOTE, SUMMER_PROMO)


def add_customer(
    shop_id: str,
    wa_id: str,
    *,
    name: str | None = "Khách",
    tags: Sequence[str] = (),
    consent: str = "opted_in",
    fields: dict[str, Any] | None = None,
    last_contacted: str = "2026-11-01T00:00:00Z",
    bsuid: str | None = None,
) -> str:
    """A customer as the inbound processor stores one (without a conversation: their last one was closed);
    returns their key. Customers are created one second apart, in the order added (the index's order)."""
    table = get_table()
    created = (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=next(_CREATED))).strftime("%Y-%m-%dT%H:%M:%SZ")
    item: dict[str, Any] = {
        "customerKey": wa_id,
        "id": str(uuid.uuid4()),
        "shopId": shop_id,
        "waId": wa_id,
        "bsuid": bsuid,
        "name": name,
        "searchName": text.fold(name or ""),
        "phoneDigits": wa_id,
        "tags": list(tags),
        "customFields": fields or {},
        "consent": {"status": consent, "timestamp": created, "source": "web"},
        "createdAt": created,
        "lastContactedAt": last_contacted,
        "conversationCount": 0,
        "version": 1,
    }
    writes = [customer_store.new_customer_op(table, shop_id, item)]
    writes += [customer_store.identity_op(table, shop_id, i, wa_id) for i in (wa_id, bsuid) if i]
    table.transact_write(writes)
    return wa_id


def campaign_body(shop_id: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "shopId": shop_id,
        "name": "Spring sale",
        "template": {
            "name": "spring_sale",
            "language": "vi",
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "{{customer.name|bạn}}"}]}],
        },
        "audience": {"tags": ["vip"], "match": "any", "excludeTags": ["no-promo"]},
        "scheduledAt": None,
    }
    body.update(changes)
    return body


def create(api: ApiClient, body: dict[str, Any]) -> str:
    reply = api.post("/campaigns", json_body=body)
    assert reply.status == 201, reply.text
    return str(reply.data["campaignId"])


def detail(api: ApiClient, campaign_id: str) -> dict[str, Any]:
    reply = api.get(f"/campaigns/{campaign_id}")
    assert reply.status == 200, reply.text
    return dict(reply.data)


def current(campaign_id: str) -> dict[str, Any]:
    """The campaign as ``GET /campaigns/{id}`` answers it, read without a request (tests that poll it would
    spend the shop's 60 requests a minute)."""
    from mkt_whatsapp.campaigns import definitions

    campaign = campaign_store.get(get_table(), campaign_id, consistent=True)
    assert campaign is not None
    return definitions.detail(str(campaign["shopId"]), campaign)


def recipients(campaign_id: str) -> dict[str, dict[str, Any]]:
    """The campaign's recipient items, by customer key."""
    items = get_table().query_prefix(keys.campaign_pk(campaign_id), keys.RECIPIENT_PREFIX, consistent=True)
    return {str(item["customerKey"]): item for item in items}


def counts(campaign_id: str) -> dict[str, int]:
    return {name: value for name, value in campaign_store.counts(get_table(), campaign_id).items() if value}


def template_sends(graph: Any, name: str = "spring_sale") -> list[dict[str, Any]]:
    """The template messages the Graph simulator received, in order."""
    return [
        request["body"]
        for request in list(graph.state.requests)
        if request["path"].endswith("/messages")
        and isinstance(request.get("body"), dict)
        and request["body"].get("type") == "template"
        and request["body"]["template"]["name"] == name
    ]


def wait_for(predicate: Callable[[], Any], *, timeout: float = 30.0, what: str = "the campaign") -> Any:
    return poll_until(predicate, timeout=timeout, what=what)


def send_until(
    aws: AwsStack, predicate: Callable[[], Any], *, timeout: float = 40.0, what: str = "the campaign"
) -> Any:
    """Drain the outbound queue to the sender (as its event source mapping would) until ``predicate`` holds;
    the campaign's execution runs meanwhile in moto's thread."""

    def drained() -> Any:
        drain(aws, "OutboundQueue", "SenderFunction", batch_size=10)
        return predicate()

    return wait_for(drained, timeout=timeout, what=what)


def sender_batch(aws: AwsStack, size: int) -> int:
    """One batch of at most ``size`` records from the outbound queue to the sender; how many it held."""
    from local.sqs_worker import EventSourceMapping, SqsPoller
    from tests.support import lambdas

    sqs = aws.client("sqs")
    url = aws.physical["OutboundQueue"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    mapping = EventSourceMapping("SenderFunction", url, arn, batch_size=size, report_batch_item_failures=True)
    return SqsPoller(lambdas(), mapping, sqs, "us-east-1", wait_seconds=0).poll_once()


def status_is(campaign_id: str, status: str) -> Callable[[], bool]:
    return lambda: current(campaign_id)["status"] == status
