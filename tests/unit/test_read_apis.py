"""Conversation and customer read APIs: filters, ordering, exact totals and pagination, search, tags,
the shop guard on resources addressed by id."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mkt_whatsapp.inbound import processor
from mkt_whatsapp.store import customers as customer_store
from mkt_whatsapp.store import get_table
from tests.support import ApiClient, AwsStack, connect_shop, deliver, make_token

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"
SHOP = "shop-1"
NOW = int(time.time())


def change(wa_id: str, name: str, wamid: str, text: str, timestamp: int) -> dict:
    return {
        "field": "messages",
        "value": {
            "messaging_product": "whatsapp",
            "metadata": {"phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
            "messages": [
                {"from": wa_id, "id": wamid, "timestamp": str(timestamp), "type": "text", "text": {"body": text}}
            ],
        },
    }


@pytest.fixture
def shop(api: ApiClient) -> ApiClient:
    return connect_shop(api, SHOP)


@pytest.mark.parametrize("take", ["101", "0", "-5", "abc"])
def test_bad_take_is_400(shop: ApiClient, take: str) -> None:
    reply = shop.get("/conversations", query={"shopId": SHOP, "take": take})
    assert reply.status == 400
    assert reply.field == "take"


def test_unknown_status_filter_is_400(shop: ApiClient) -> None:
    reply = shop.get("/conversations", query={"shopId": SHOP, "status": "archived"})
    assert reply.status == 400
    assert (reply.field, reply.code) == ("status", "INVALID_VALUE")


def test_shop_id_is_required(shop: ApiClient) -> None:
    for path in ("/conversations", "/customers", "/customers/84901234567"):
        reply = shop.get(path)
        assert reply.status == 400, path
        assert (reply.field, reply.code) == ("shopId", "REQUIRED_FIELD")


def test_assigned_agent_filter(shop: ApiClient, aws: AwsStack) -> None:
    for n in range(4):
        processor.process_change(change(f"849000000{n}", f"K{n}", f"wamid.A{n}", "hi", NOW - 10 + n))
    table = get_table()
    listing = shop.get("/conversations", query={"shopId": SHOP}).data["conversations"]
    for conversation in listing[:2]:
        table.update(f"CONV#{conversation['id']}", "CONVERSATION", "SET assignedAgentId = :a", {":a": "agent-7"})
    mine = shop.get("/conversations", query={"shopId": SHOP, "assignedAgentId": "agent-7"}).data
    assert mine["totalCount"] == 2
    assert {c["id"] for c in mine["conversations"]} == {c["id"] for c in listing[:2]}
    assert all(c["assignedAgentId"] == "agent-7" for c in mine["conversations"])
    both = shop.get("/conversations", query={"shopId": SHOP, "assignedAgentId": "agent-7", "status": "active"}).data
    assert both["totalCount"] == 2


@pytest.fixture
def people(shop: ApiClient, aws: AwsStack) -> ApiClient:
    for n, (wa_id, name) in enumerate(
        [
            ("84901234567", "Nguyễn Văn A"),
            ("84987654321", "Trần Thị Bích"),
            ("14155550123", "Đặng Đức"),
            ("84900000042", "NGUYEN van b"),
        ]
    ):
        processor.process_change(change(wa_id, name, f"wamid.S{n}", "hi", NOW - 100 + n))
    table = get_table()
    for wa_id, tags in (
        ("84901234567", ["vip", "electronics-buyer"]),
        ("84987654321", ["vip"]),
        ("14155550123", ["electronics-buyer"]),
    ):
        customer = customer_store.find(table, SHOP, [wa_id])
        table.update(customer["PK"], customer["SK"], "SET tags = :t", {":t": tags})
    return shop


def names(api: ApiClient, **query: str) -> list[str]:
    reply = api.get("/customers", query={"shopId": SHOP, **query})
    assert reply.status == 200, reply.text
    assert reply.data["totalCount"] == len(reply.data["customers"])
    return sorted(c["name"] for c in reply.data["customers"])


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("nguyen", ["NGUYEN van b", "Nguyễn Văn A"]),
        ("NGUYỄN VĂN", ["NGUYEN van b", "Nguyễn Văn A"]),
        ("dang duc", ["Đặng Đức"]),
        ("bích", ["Trần Thị Bích"]),
        ("1234", ["Nguyễn Văn A"]),
        ("555-01", ["Đặng Đức"]),
        ("+84 98 765", ["Trần Thị Bích"]),
        ("0000", ["NGUYEN van b"]),
        ("zzz", []),
    ],
)
def test_search_by_name_or_phone_substring(people: ApiClient, search: str, expected: list[str]) -> None:
    assert names(people, search=search) == expected


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ("vip", ["Nguyễn Văn A", "Trần Thị Bích"]),
        ("vip,electronics-buyer", ["Nguyễn Văn A"]),
        ("VIP, Electronics Buyer", ["Nguyễn Văn A"]),
        ("electronics-buyer", ["Nguyễn Văn A", "Đặng Đức"]),
        ("vip,unknown", []),
    ],
)
def test_tags_filter_means_all_of_them(people: ApiClient, tags: str, expected: list[str]) -> None:
    assert names(people, tags=tags) == expected


def test_search_and_tags_combine(people: ApiClient) -> None:
    assert names(people, search="tran", tags="vip") == ["Trần Thị Bích"]


def test_customer_profile_by_phone_and_404(people: ApiClient) -> None:
    reply = people.get("/customers/84987654321", query={"shopId": SHOP})
    assert reply.status == 200
    assert reply.data["name"] == "Trần Thị Bích"
    assert reply.data["tags"] == ["vip"]
    assert reply.data["shopId"] == SHOP
    assert reply.data["customFields"] == {}
    missing = people.get("/customers/84900000001", query={"shopId": SHOP})
    assert missing.status == 404
    assert missing.code == "CUSTOMER_NOT_FOUND"


def test_conversation_detail_shape(shop: ApiClient, aws: AwsStack) -> None:
    deliver(shop, aws, json.loads((CORPUS / "text.json").read_text()))
    [summary] = shop.get("/conversations", query={"shopId": SHOP}).data["conversations"]
    detail = shop.get(f"/conversations/{summary['id']}").data
    assert set(detail) >= {"id", "shopId", "customer", "status", "messages", "createdAt", "expiresAt"}
    assert detail["customer"]["waId"] == "84901234567"
    assert detail["customer"]["name"] == "Nguyễn Văn A"
    assert detail["customer"]["tags"] == []
    assert detail["olderMessagesCursor"] is None


def test_messages_are_capped_at_the_most_recent_100_with_a_cursor_to_older_ones(shop: ApiClient, aws: AwsStack) -> None:
    for n in range(130):
        processor.process_change(change("84901234567", "A", f"wamid.M{n:03d}", f"m{n}", NOW - 1000 + n))
    [summary] = shop.get("/conversations", query={"shopId": SHOP}).data["conversations"]
    assert summary["messageCount"] == 130
    page = shop.get(f"/conversations/{summary['id']}").data
    assert [m["content"]["text"] for m in page["messages"]] == [f"m{n}" for n in range(30, 130)]
    older = shop.get(f"/conversations/{summary['id']}", query={"before": page["olderMessagesCursor"]}).data
    assert [m["content"]["text"] for m in older["messages"]] == [f"m{n}" for n in range(30)]
    assert older["olderMessagesCursor"] is None


def test_a_conversation_of_another_shop_answers_like_an_unknown_one_404(shop: ApiClient, aws: AwsStack) -> None:
    deliver(shop, aws, json.loads((CORPUS / "text.json").read_text()))
    [summary] = shop.get("/conversations", query={"shopId": SHOP}).data["conversations"]
    other = shop.get(f"/conversations/{summary['id']}", token=make_token(["shop-2"]))
    unknown = shop.get("/conversations/no-such-conversation")
    assert (other.status, other.field, other.code) == (404, "conversationId", "CONVERSATION_NOT_FOUND")
    assert (unknown.status, unknown.json["error"], unknown.code) == (404, other.json["error"], other.code)
    assert shop.get("/customers", query={"shopId": "shop-2"}).status == 403
