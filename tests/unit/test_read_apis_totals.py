"""Exact totals and pagination over a few hundred conversations and customers (seeded once for the
module through the inbound processor; moto's in-process transactions copy the table, so seeding is the
slow part)."""

from __future__ import annotations

import time

import pytest

from mkt_whatsapp.inbound import processor
from tests.support import ApiClient, AwsStack, connect_shop
from tests.unit.test_read_apis import change

SHOP = "shop-1"
NOW = int(time.time())
COUNT = 240


@pytest.fixture(scope="module")
def seeded(module_api: ApiClient, module_aws: AwsStack) -> ApiClient:
    """240 customers, each with one conversation; customer n wrote at NOW - 240 + n (n = 0 is oldest)."""
    connect_shop(module_api, SHOP)
    for n in range(COUNT):
        processor.process_change(change(f"8490{n:07d}", f"Khách {n}", f"wamid.P{n}", "hi", NOW - COUNT + n))
    return module_api


def test_list_is_newest_first_with_exact_totals_and_pages(seeded: ApiClient) -> None:
    first = seeded.get("/conversations", query={"shopId": SHOP})
    assert first.status == 200
    assert first.data["totalCount"] == 240
    assert first.json["pagination"] == {"page": 1, "limit": 20, "total": 240, "totalPages": 12}
    names = [c["customerName"] for c in first.data["conversations"]]
    assert names == [f"Khách {n}" for n in range(239, 219, -1)]

    last = seeded.get("/conversations", query={"shopId": SHOP, "skip": "200", "take": "100"})
    assert last.json["pagination"] == {"page": 3, "limit": 100, "total": 240, "totalPages": 3}
    assert [c["customerName"] for c in last.data["conversations"]] == [f"Khách {n}" for n in range(39, -1, -1)]

    beyond = seeded.get("/conversations", query={"shopId": SHOP, "skip": "240"})
    assert beyond.data["conversations"] == []
    assert beyond.data["totalCount"] == 240


def test_every_page_together_is_every_conversation_once(seeded: ApiClient) -> None:
    seen: list[str] = []
    for skip in range(0, 240, 70):
        page = seeded.get("/conversations", query={"shopId": SHOP, "skip": str(skip), "take": "70"})
        seen += [c["id"] for c in page.data["conversations"]]
    assert len(seen) == 240
    assert len(set(seen)) == 240


def test_customers_list_totals_and_pages(seeded: ApiClient) -> None:
    reply = seeded.get("/customers", query={"shopId": SHOP, "take": "50", "skip": "100"})
    assert reply.status == 200
    assert reply.data["totalCount"] == 240
    assert reply.json["pagination"] == {"page": 3, "limit": 50, "total": 240, "totalPages": 5}
    assert len(reply.data["customers"]) == 50
    customer = reply.data["customers"][0]
    assert set(customer) >= {
        "id",
        "waId",
        "name",
        "tags",
        "optInStatus",
        "conversationCount",
        "lastContactedAt",
        "createdAt",
    }
