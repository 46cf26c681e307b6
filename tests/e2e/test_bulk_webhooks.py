"""End to end on the local stack: deliveries of many changes, a change cut into pieces, and an event too
large for the queue (kept in the stack's S3 bucket) all end up stored. How fast is `make bench`'s to say
(bench/bulk.py), not a test's."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from local.make_events import bulk_webhook_body
from mkt_whatsapp.whatsapp.signature import sign
from tests.e2e.conftest import RunningStack
from tests.support import ShopIds, inbound_text_change

pytestmark = pytest.mark.e2e
DEV_APP_SECRET = "local-dev-meta-app-secret"


def post_signed(stack: RunningStack, raw: bytes) -> None:
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw, DEV_APP_SECRET)}
    reply = httpx.post(f"{stack.api}/webhooks", content=raw, headers=headers, timeout=30)
    assert reply.status_code == 200, reply.text


def conversations_when(stack: RunningStack, shop_id: str, count: int, timeout: float = 60) -> list[dict[str, Any]]:
    """The shop's conversations once ``count`` are listed (polled gently: the shop's rate limit is 60/min)."""
    auth = {"Authorization": f"Bearer {stack.token(shop_id)}"}
    deadline = time.monotonic() + timeout
    listed: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        reply = httpx.get(f"{stack.api}/conversations", params={"shopId": shop_id, "take": "100"}, headers=auth)
        if reply.status_code == 200:
            listed = reply.json()["data"]["conversations"]
            if reply.json()["data"]["totalCount"] >= count:
                return listed
        time.sleep(1)
    raise AssertionError(f"{len(listed)} of {count} conversations after {timeout} s")


def test_many_changes_and_a_change_cut_into_pieces_are_all_stored(stack: RunningStack, shop_ids: ShopIds) -> None:
    stack.connect(shop_ids.shop_id, shop_ids.phone_number_id)
    post_signed(stack, bulk_webhook_body(shop_ids.phone_number_id, changes=40, messages_per_change=1, tag="e2e-a"))
    post_signed(stack, bulk_webhook_body(shop_ids.phone_number_id, changes=1, messages_per_change=60, tag="e2e-b"))

    listed = conversations_when(stack, shop_ids.shop_id, 100)
    assert len(listed) == 100
    assert {conversation["messageCount"] for conversation in listed} == {1}
    names = {conversation["customerName"] for conversation in listed}
    assert {f"Khách e2e-b {n}" for n in range(60)} <= names  # each piece kept its messages' contacts


def test_a_signed_message_too_large_for_the_queue_is_stored_through_s3(stack: RunningStack, shop_ids: ShopIds) -> None:
    stack.connect(shop_ids.shop_id, shop_ids.phone_number_id)
    text = "Đơn hàng " + "x" * 1_000_000
    change = inbound_text_change(shop_ids.phone_number_id, "84900077000", "wamid.E2E-LARGE", body=text)
    delivery = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [change]}]}
    post_signed(stack, json.dumps(delivery, ensure_ascii=True).encode())

    [conversation] = conversations_when(stack, shop_ids.shop_id, 1)
    auth = {"Authorization": f"Bearer {stack.token(shop_ids.shop_id)}"}
    reply = httpx.get(f"{stack.api}/conversations/{conversation['id']}", headers=auth)
    assert reply.status_code == 200, reply.text
    [message] = reply.json()["data"]["messages"]
    assert message["content"]["text"] == text[:4096]
    assert message["content"]["truncated"]["originalBytes"] > 1_000_000
