"""Inbound rules: exactly once, statuses only forward, the 24-hour window, conversations opening and
re-opening, opt-out keywords, unknown numbers."""

from __future__ import annotations

import copy
import json
import threading
import time
from pathlib import Path

import pytest

from mkt_whatsapp.core.clock import iso, meta_time
from mkt_whatsapp.store import conversations as conversation_store
from mkt_whatsapp.store import customers as customer_store
from mkt_whatsapp.store import get_table
from mkt_whatsapp.store import messages as message_store
from tests.support import (
    ApiClient,
    AwsStack,
    connect_shop,
    deliver,
    drain_inbound,
    lambdas,
    post_webhook,
    queue_depth,
)

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"
SHOP = "shop-1"
WA_ID = "84901234567"


def corpus(name: str) -> dict:
    return json.loads((CORPUS / f"{name}.json").read_text())


def text_message(wamid: str, body: str, timestamp: int, wa_id: str = WA_ID) -> dict:
    payload = corpus("text")
    value = payload["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["wa_id"] = wa_id
    value["contacts"][0].pop("user_id")
    value["messages"][0].update(id=wamid, timestamp=str(timestamp), **{"from": wa_id})
    value["messages"][0]["text"]["body"] = body
    return payload


@pytest.fixture
def shop(api: ApiClient) -> ApiClient:
    return connect_shop(api, SHOP)


def conversations(api: ApiClient, **query: str) -> dict:
    reply = api.get("/conversations", query={"shopId": SHOP, **query})
    assert reply.status == 200, reply.text
    return reply.data


# --- exactly once ----------------------------------------------------------------------------------


def test_the_same_delivery_five_times_gives_one_message(shop: ApiClient, aws: AwsStack) -> None:
    body = corpus("batch_entries_changes_messages")
    for _ in range(5):
        assert post_webhook(shop, body).status == 200
    drain_inbound(aws)
    listing = conversations(shop)
    assert listing["totalCount"] == 2
    assert sorted(c["messageCount"] for c in listing["conversations"]) == [1, 2]
    assert shop.get(f"/customers/{WA_ID}", query={"shopId": SHOP}).data["stats"]["conversationCount"] == 1


def test_the_same_batch_five_times_concurrently_gives_one_message_each(
    shop: ApiClient, aws: AwsStack, monkeypatch
) -> None:
    """Five processors handling the same change at once (Lambda runs them in parallel). Their reads and
    writes interleave freely; each single AWS request is applied atomically, as DynamoDB applies it
    (moto's in-process backend is not thread-safe, so one lock per request models that)."""
    from botocore.client import BaseClient

    from mkt_whatsapp.inbound import processor

    one_request_at_a_time = threading.Lock()
    original = BaseClient._make_api_call

    def atomic_request(client, operation, params):
        with one_request_at_a_time:
            return original(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", atomic_request)

    body = corpus("batch_entries_changes_messages")
    units = [{"field": "messages", "value": change["value"]} for entry in body["entry"] for change in entry["changes"]]
    lambdas()  # handlers loaded before the threads start
    errors: list[BaseException] = []
    barrier = threading.Barrier(5)

    def process() -> None:
        try:
            barrier.wait()
            for unit in units:
                processor.process_change(copy.deepcopy(unit))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=process) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    listing = conversations(shop)
    assert listing["totalCount"] == 2
    assert sorted(c["messageCount"] for c in listing["conversations"]) == [1, 2]
    customer = shop.get(f"/customers/{WA_ID}", query={"shopId": SHOP}).data
    assert customer["stats"]["conversationCount"] == 1


def test_a_redelivery_days_later_changes_nothing(shop: ApiClient, aws: AwsStack) -> None:
    first = text_message("wamid.A", "một", 1767225600)
    deliver(shop, aws, first)
    deliver(shop, aws, text_message("wamid.B", "hai", 1767225600 + 3600))
    deliver(shop, aws, first)  # Meta retries the first delivery
    [conversation] = conversations(shop)["conversations"]
    assert conversation["messageCount"] == 2
    assert conversation["lastMessageAt"] == iso(meta_time(1767225600 + 3600))


# --- statuses ------------------------------------------------------------------------------------------


@pytest.fixture
def outbound(shop: ApiClient, aws: AwsStack) -> dict:
    """An outbound message Meta accepted as wamid.OUTBOUND-STATUS-1 (what the outbound feature stores)."""
    deliver(shop, aws, text_message("wamid.IN-1", "hello", 1767225600))
    [conversation] = conversations(shop)["conversations"]
    store_sent_message("out-1", conversation["id"], content={"type": "text", "text": "Chào bạn"})
    return conversation


def store_sent_message(message_id: str, conversation_id: str, **fields: object) -> None:
    """An outbound message Meta accepted as wamid.OUTBOUND-STATUS-1 (the fixtures' statuses name it), as
    the outbound feature stores it; ``fields``: its content and anything else it carries."""
    table = get_table()
    message = {
        "id": message_id,
        "shopId": SHOP,
        "conversationId": conversation_id,
        "direction": "outbound",
        "status": "sent",
        "statusRank": 1,
        "statusTimestamps": {},
        "timestamp": iso(meta_time(1767225650)),
        "whatsAppMessageId": "wamid.OUTBOUND-STATUS-1",
        **fields,
    }
    table.transact_write([message_store.new_message_op(table, message)])
    message_store.link_wamid(table, message_id, SHOP, "wamid.OUTBOUND-STATUS-1")


def outbound_message(api: ApiClient, conversation: dict) -> dict:
    messages = api.get(f"/conversations/{conversation['id']}").data["messages"]
    return next(m for m in messages if m["direction"] == "outbound")


def test_statuses_move_an_outbound_message_forward(shop: ApiClient, aws: AwsStack, outbound: dict) -> None:
    deliver(shop, aws, corpus("status_delivered"))
    assert outbound_message(shop, outbound)["status"] == "delivered"
    deliver(shop, aws, corpus("status_read"))
    assert outbound_message(shop, outbound)["status"] == "read"


def test_a_late_delivered_after_read_changes_nothing(shop: ApiClient, aws: AwsStack, outbound: dict) -> None:
    deliver(shop, aws, corpus("status_read"))
    deliver(shop, aws, corpus("status_delivered"))
    deliver(shop, aws, corpus("status_sent"))
    assert outbound_message(shop, outbound)["status"] == "read"
    item = message_store.get(get_table(), "out-1")
    assert set(item["statusTimestamps"]) == {"read"}


def test_the_same_status_twice_is_applied_once(shop: ApiClient, aws: AwsStack, outbound: dict) -> None:
    from mkt_whatsapp.inbound import processor
    from mkt_whatsapp.whatsapp.webhook_models import Status

    status = Status.model_validate(corpus("status_delivered")["entry"][0]["changes"][0]["value"]["statuses"][0])
    assert processor.apply_status(SHOP, status) is True
    assert processor.apply_status(SHOP, status) is False


def test_a_failed_status_records_metas_error(shop: ApiClient, aws: AwsStack, outbound: dict) -> None:
    deliver(shop, aws, corpus("status_failed"))
    message = outbound_message(shop, outbound)
    assert message["status"] == "failed"
    assert message["errors"] == [
        {
            "code": 131047,
            "title": "Re-engagement message",
            "message": "Re-engagement message",
            "details": "Message failed to send because more than 24 hours have passed "
            "since the customer last replied to this number.",
        }
    ]


def test_failed_does_not_override_delivered(shop: ApiClient, aws: AwsStack, outbound: dict) -> None:
    deliver(shop, aws, corpus("status_delivered"))
    deliver(shop, aws, corpus("status_failed"))
    assert outbound_message(shop, outbound)["status"] == "delivered"


def test_pricing_and_conversation_of_a_status_are_kept(shop: ApiClient, aws: AwsStack, outbound: dict) -> None:
    table = get_table()
    table.update("MSG#out-1", "MESSAGE", "SET statusRank = :zero", {":zero": 0})
    deliver(shop, aws, corpus("status_sent"))
    item = message_store.get(table, "out-1")
    assert item["pricing"] == {
        "billable": False,
        "pricingModel": "PMP",
        "category": "service",
        "type": "free_customer_service",
    }
    assert item["metaConversation"] == {
        "id": "CONVERSATION_ID",
        "originType": "service",
        "expiresAt": iso(meta_time(1767312100)),
    }


def test_a_status_for_an_unknown_wamid_is_ignored(shop: ApiClient, aws: AwsStack) -> None:
    assert deliver(shop, aws, corpus("status_read")) == 1
    assert queue_depth(aws, "InboundDeadLetterQueue") == 0
    assert queue_depth(aws, "InboundQueue") == 0


# --- the 24-hour window and conversations ----------------------------------------------------------------


def test_expires_at_is_the_last_inbound_plus_24_hours(shop: ApiClient, aws: AwsStack) -> None:
    deliver(shop, aws, text_message("wamid.W1", "a", 1767225600))
    deliver(shop, aws, text_message("wamid.W2", "b", 1767225600 + 7200))
    deliver(shop, aws, text_message("wamid.W0", "late but older", 1767225600 - 60))  # arrives out of order
    [conversation] = conversations(shop)["conversations"]
    assert conversation["expiresAt"] == iso(meta_time(1767225600 + 7200 + 86400))
    assert conversation["lastMessageAt"] == iso(meta_time(1767225600 + 7200))
    assert conversation["messageCount"] == 3
    texts = [m["content"]["text"] for m in shop.get(f"/conversations/{conversation['id']}").data["messages"]]
    assert texts == ["late but older", "a", "b"]  # oldest first, by the messages' own timestamps


@pytest.mark.parametrize(("offset", "status"), [(-1, "active"), (0, "expired"), (1, "expired")])
def test_the_window_boundary(shop: ApiClient, aws: AwsStack, monkeypatch, offset: int, status: str) -> None:
    """Exactly 24 h after the last inbound message the window is closed."""
    from mkt_whatsapp.core import clock

    sent = 1767225600
    deliver(shop, aws, text_message("wamid.B1", "x", sent))
    boundary = sent + 86400 + offset
    monkeypatch.setattr(clock, "now_iso", lambda: iso(meta_time(boundary)))
    import mkt_whatsapp.conversations.reading as conversations_module

    monkeypatch.setattr(conversations_module, "now_iso", lambda: iso(meta_time(boundary)))
    [conversation] = conversations(shop)["conversations"]
    assert conversation["status"] == status
    assert conversations(shop, status=status)["totalCount"] == 1
    other = "active" if status == "expired" else "expired"
    assert conversations(shop, status=other)["totalCount"] == 0


def test_an_inbound_message_reopens_an_expired_window(shop: ApiClient, aws: AwsStack) -> None:
    deliver(shop, aws, text_message("wamid.E1", "old", 1_600_000_000))
    [expired] = conversations(shop, status="expired")["conversations"]
    recent = int(time.time()) - 3600
    deliver(shop, aws, text_message("wamid.E2", "new", recent))
    assert conversations(shop, status="expired")["totalCount"] == 0
    [active] = conversations(shop)["conversations"]
    assert active["id"] == expired["id"]
    assert active["messageCount"] == 2
    assert active["status"] == "active"
    assert active["expiresAt"] == iso(meta_time(recent + 86400))


def test_after_a_close_the_next_inbound_message_opens_a_new_conversation(shop: ApiClient, aws: AwsStack) -> None:
    base = int(time.time()) - 7200
    deliver(shop, aws, text_message("wamid.C1", "first", base))
    [first] = conversations(shop)["conversations"]
    table = get_table()
    customer = customer_store.find(table, SHOP, [WA_ID])
    table.transact_write(
        [
            conversation_store.close_op(table, first["id"], iso(meta_time(base + 100)), "system"),
            customer_store.release_conversation_op(table, SHOP, customer_store.key_of(customer), first["id"]),
        ]
    )
    deliver(shop, aws, text_message("wamid.C2", "again", base + 200))
    listing = conversations(shop)
    assert listing["totalCount"] == 2
    newest, closed = listing["conversations"]
    assert (newest["status"], closed["status"]) == ("active", "closed")
    assert newest["id"] != first["id"]
    assert conversations(shop, status="closed")["totalCount"] == 1
    profile = shop.get(f"/customers/{WA_ID}", query={"shopId": SHOP}).data
    assert profile["stats"]["conversationCount"] == 2
    assert profile["lastContactedAt"] == iso(meta_time(base + 200))
    assert profile["createdAt"] == iso(meta_time(base))


# --- consent keywords ------------------------------------------------------------------------------------


@pytest.mark.parametrize("keyword", ["STOP", "stop", "Unsubscribe", "HỦY", "hủy", "huỷ", "DỪNG", "dung", " Stop! "])
def test_opt_out_keywords(shop: ApiClient, aws: AwsStack, keyword: str) -> None:
    deliver(shop, aws, text_message("wamid.K1", keyword, 1767225600))
    consent = shop.get(f"/customers/{WA_ID}", query={"shopId": SHOP}).data["consent"]
    assert consent == {"status": "opted_out", "timestamp": iso(meta_time(1767225600)), "source": "whatsapp"}


@pytest.mark.parametrize("text", ["please stop sending", "STOPPED", "hủy đơn giúp tôi", "dừng lại"])
def test_only_the_whole_message_is_a_keyword(shop: ApiClient, aws: AwsStack, text: str) -> None:
    deliver(shop, aws, text_message("wamid.K2", text, 1767225600))
    assert shop.get(f"/customers/{WA_ID}", query={"shopId": SHOP}).data["consent"]["status"] == "unknown"


def test_start_opts_back_in_and_the_trail_is_recorded(shop: ApiClient, aws: AwsStack) -> None:
    deliver(shop, aws, text_message("wamid.K3", "STOP", 1767225600))
    deliver(shop, aws, text_message("wamid.K4", "START", 1767225700))
    profile = shop.get(f"/customers/{WA_ID}", query={"shopId": SHOP}).data
    assert profile["consent"] == {"status": "opted_in", "timestamp": iso(meta_time(1767225700)), "source": "whatsapp"}
    table = get_table()
    trail = customer_store.consent_history(
        table, SHOP, customer_store.key_of(customer_store.find(table, SHOP, [WA_ID]))
    )
    assert [(event["status"], event["source"]) for event in trail] == [
        ("opted_out", "whatsapp"),
        ("opted_in", "whatsapp"),
    ]


# --- numbers and bodies that are not ours -----------------------------------------------------------------


def test_a_number_no_connected_account_owns_is_acknowledged_and_nothing_stored(shop: ApiClient, aws: AwsStack) -> None:
    body = corpus("text")
    body["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = "999999999"
    assert deliver(shop, aws, body) == 1
    assert conversations(shop)["totalCount"] == 0
    assert queue_depth(aws, "InboundDeadLetterQueue") == 0


def test_a_disconnected_number_stops_processing(shop: ApiClient, aws: AwsStack) -> None:
    assert shop.delete(f"/accounts/{SHOP}").status == 200
    deliver(shop, aws, corpus("text"))
    assert conversations(shop)["totalCount"] == 0


def test_a_message_with_no_sender_is_never_silently_dropped(shop: ApiClient, aws: AwsStack) -> None:
    body = corpus("text")
    value = body["entry"][0]["changes"][0]["value"]
    value.pop("contacts")
    value["messages"][0].pop("from")
    assert post_webhook(shop, body).status == 200
    drain_inbound(aws)
    assert conversations(shop)["totalCount"] == 0
    assert queue_depth(aws, "InboundQueue") == 1  # failed, kept for redelivery and then the DLQ


def deliver_text_from(shop: ApiClient, aws: AwsStack, field: str, value: str) -> None:
    """The corpus text message with its sender named only by ``field`` (``from`` or ``from_user_id``)."""
    body = corpus("text")
    change = body["entry"][0]["changes"][0]["value"]
    change.pop("contacts")
    change["messages"][0][field] = value
    if field == "from_user_id":
        change["messages"][0].pop("from")
    assert post_webhook(shop, body).status == 200
    drain_inbound(aws)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("from", "+84901234567"),
        ("from", "8490 123 4567"),
        ("from", "<WHATSAPP_ID>"),
        ("from", "８４９０１２３４５６７"),
        ("from_user_id", "VN-1349870655223189"),
        ("from_user_id", "vn.1349870655223189"),
        ("from_user_id", "VN." + "1" * 129),
    ],
)
def test_a_sender_id_in_no_shape_meta_uses_is_refused_loudly(
    shop: ApiClient, aws: AwsStack, field: str, value: str
) -> None:
    """Not a phone number's digits, not a business-scoped user id: never stored as a customer, and the
    record fails (to the dead-letter queue after its retries) instead of vanishing."""
    deliver_text_from(shop, aws, field, value)
    assert conversations(shop)["totalCount"] == 0
    assert shop.get("/customers", query={"shopId": SHOP}).data["totalCount"] == 0
    assert queue_depth(aws, "InboundQueue") == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [("from_user_id", "US.ENT.11815799212886844830"), ("from_user_id", "BR.1502576394655843"), ("from", "84901234567")],
)
def test_sender_ids_as_meta_writes_them_are_stored(shop: ApiClient, aws: AwsStack, field: str, value: str) -> None:
    deliver_text_from(shop, aws, field, value)
    assert conversations(shop)["totalCount"] == 1
    assert queue_depth(aws, "InboundQueue") == 0


def test_group_and_other_fields_are_acknowledged_without_processing(shop: ApiClient, aws: AwsStack) -> None:
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1",
                "changes": [
                    {"field": "group_lifecycle_update", "value": {"metadata": {"phone_number_id": "106540352242922"}}}
                ],
            }
        ],
    }
    assert post_webhook(shop, body).status == 200
    assert queue_depth(aws, "InboundQueue") == 0
