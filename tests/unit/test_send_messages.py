"""Sending in a conversation: the Graph request, the rules before sending, Meta's answers, idempotency."""

from __future__ import annotations

import json
import time

import pytest

from local.graph_simulator import Fault
from mkt_whatsapp.inbound import processor
from mkt_whatsapp.store import get_table
from mkt_whatsapp.store import messages as message_store
from tests.support import (
    ApiClient,
    AwsStack,
    connect_shop,
    deliver,
    inbound_text_change,
    make_token,
    queue_depth,
    seed_templates,
    whatsapp_delivery,
)

SHOP = "shop-1"
WA_ID = "84901234567"
PHONE_NUMBER_ID = "106540352242922"


def inbound_message(wamid: str, at: int, text: str = "hi") -> dict:
    return inbound_text_change(PHONE_NUMBER_ID, WA_ID, wamid, at=at, body=text)


def open_conversation(api: ApiClient, at: int) -> str:
    processor.process_change(inbound_message(f"wamid.in.{at}", at))
    [conversation] = api.get("/conversations", query={"shopId": SHOP}).data["conversations"]
    return str(conversation["id"])


@pytest.fixture
def shop(api: ApiClient, graph) -> ApiClient:
    connect_shop(api, SHOP, PHONE_NUMBER_ID)
    seed_templates(SHOP)  # the Graph simulator's approved order_update, flash_sale, promo… as a sync keeps them
    graph.state.requests.clear()
    graph.state.faults.clear()
    return api


@pytest.fixture
def conversation(shop: ApiClient) -> str:
    return open_conversation(shop, int(time.time()) - 60)


def sends(graph) -> list[dict]:
    return [r for r in graph.state.requests if r["path"].endswith("/messages")]


TEXT = {"content": {"type": "text", "text": "Cảm ơn bạn đã liên hệ!"}}
TEMPLATE = {
    "content": {"type": "template", "template": {"name": "order_update", "language": "vi", "category": "utility"}}
}
MARKETING = {
    "content": {"type": "template", "template": {"name": "flash_sale", "language": "vi", "category": "marketing"}}
}


def test_a_text_reply_is_sent_within_the_request(shop: ApiClient, conversation: str, graph) -> None:
    reply = shop.post(f"/conversations/{conversation}/messages", json_body=TEXT)

    assert reply.status == 201, reply.text
    data = reply.data
    assert data["status"] == "sent"
    assert data["whatsAppMessageId"].startswith("wamid.")
    assert data["timestamp"].endswith("Z")
    [request] = sends(graph)
    assert request["path"] == f"/v23.0/{PHONE_NUMBER_ID}/messages"
    assert request["authorization"] == "Bearer EAAtest-token"  # the decrypted access token
    assert request["body"] == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": WA_ID,
        "type": "text",
        "text": {"body": "Cảm ơn bạn đã liên hệ!", "preview_url": False},
    }
    detail = shop.get(f"/conversations/{conversation}").data
    assert detail["messageCount"] == 2
    outbound = detail["messages"][-1]
    assert (outbound["direction"], outbound["status"], outbound["id"]) == ("outbound", "sent", data["messageId"])
    assert outbound["content"] == {"type": "text", "text": "Cảm ơn bạn đã liên hệ!", "previewUrl": False}


def status_of(sent: dict, status: str, **extra: object) -> dict:
    """Meta's status webhook for a message the API sent."""
    return whatsapp_delivery(
        PHONE_NUMBER_ID,
        {
            "statuses": [
                {
                    "id": sent["whatsAppMessageId"],
                    "status": status,
                    "timestamp": str(int(time.time())),
                    "recipient_id": WA_ID,
                    **extra,
                }
            ]
        },
    )


def test_statuses_then_move_the_sent_message(shop: ApiClient, aws: AwsStack, conversation: str) -> None:
    sent = shop.post(f"/conversations/{conversation}/messages", json_body=TEXT).data
    for status in ("delivered", "read"):
        deliver(shop, aws, status_of(sent, status))
        outbound = shop.get(f"/conversations/{conversation}").data["messages"][-1]
        assert outbound["status"] == status


@pytest.mark.parametrize(
    "content",
    [
        {"type": "image", "url": "https://shop.example/p.jpg", "caption": "Xem sản phẩm"},
        {
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": {"text": "Bạn cần gì?"},
                "action": {"buttons": [{"id": "buy", "title": "Mua hàng"}, {"id": "help", "title": "Hỗ trợ"}]},
            },
        },
    ],
)
def test_media_and_buttons_reach_meta_in_its_shape(shop: ApiClient, conversation: str, graph, content) -> None:
    reply = shop.post(f"/conversations/{conversation}/messages", json_body={"content": content})
    assert reply.status == 201, reply.text
    [request] = sends(graph)
    body = request["body"]
    if content["type"] == "image":
        assert body["image"] == {"link": "https://shop.example/p.jpg", "caption": "Xem sản phẩm"}
    else:
        assert body["interactive"]["action"]["buttons"] == [
            {"type": "reply", "reply": {"id": "buy", "title": "Mua hàng"}},
            {"type": "reply", "reply": {"id": "help", "title": "Hỗ trợ"}},
        ]


def test_invalid_content_is_400_naming_the_field_and_nothing_is_sent(shop: ApiClient, conversation: str, graph) -> None:
    buttons = [{"id": f"b{n}", "title": "x"} for n in range(4)]
    reply = shop.post(
        f"/conversations/{conversation}/messages",
        json_body={
            "content": {
                "type": "interactive",
                "interactive": {"type": "button", "body": {"text": "?"}, "action": {"buttons": buttons}},
            }
        },
    )
    assert reply.status == 400
    assert reply.field == "content.interactive.action.buttons"
    assert sends(graph) == []


def test_a_template_number_the_table_cannot_keep_is_400_and_nothing_is_stored_or_sent(
    shop: ApiClient, conversation: str, graph, aws: AwsStack
) -> None:
    """Found by the fuzzer: a component number of 1e194 was a 500 (decimal.Overflow storing the message)."""
    component = {"type": "body", "parameters": [{"type": "text", "text": "x", "amount": 5.06e194}]}
    body = {
        "content": {
            "type": "template",
            "template": {"name": "order_update", "language": "vi", "components": [component]},
        }
    }
    reply = shop.post(f"/conversations/{conversation}/messages", json_body=body)
    assert (reply.status, reply.code) == (400, "OUT_OF_RANGE"), reply.text
    assert reply.field == "content.template.components[0].parameters[0].amount"
    assert sends(graph) == []
    assert shop.get(f"/conversations/{conversation}").data["messageCount"] == 1  # the customer's only


def test_an_empty_key_in_a_template_component_is_400_and_the_conversation_stays_readable(
    shop: ApiClient, conversation: str, graph
) -> None:
    """Found by the fuzzer: it was a 500, the message stored anyway, and every read of the conversation a 500."""
    component = {"type": "header", "": {"j": 297691}}
    body = {
        "content": {
            "type": "template",
            "template": {"name": "order_update", "language": "vi", "components": [component]},
        }
    }
    reply = shop.post(f"/conversations/{conversation}/messages", json_body=body)
    assert (reply.status, reply.code, reply.field) == (400, "INVALID_VALUE", "content.template.components[0]"), (
        reply.text
    )
    assert sends(graph) == []
    assert shop.get(f"/conversations/{conversation}").status == 200


def test_outside_the_window_only_templates(shop: ApiClient, graph) -> None:
    conversation = open_conversation(shop, int(time.time()) - 25 * 3600)
    refused = shop.post(f"/conversations/{conversation}/messages", json_body=TEXT)
    assert refused.status == 422
    assert refused.code == "OUTSIDE_CUSTOMER_SERVICE_WINDOW"
    assert sends(graph) == []
    template = shop.post(f"/conversations/{conversation}/messages", json_body=TEMPLATE)
    assert template.status == 201, template.text
    assert sends(graph)[0]["body"]["template"] == {"name": "order_update", "language": {"code": "vi"}}
    assert shop.get(f"/accounts/{SHOP}").data["messagesUsedToday"] == 1
    again = shop.post(f"/conversations/{conversation}/messages", json_body=TEMPLATE)
    assert again.status == 201
    assert shop.get(f"/accounts/{SHOP}").data["messagesUsedToday"] == 1  # one customer, one count a day


def test_a_closed_conversation_takes_only_templates(shop: ApiClient, conversation: str) -> None:
    assert shop.post(f"/conversations/{conversation}/close").status == 200
    refused = shop.post(f"/conversations/{conversation}/messages", json_body=TEXT)
    assert refused.status == 422
    assert refused.code == "CONVERSATION_CLOSED"
    assert shop.post(f"/conversations/{conversation}/messages", json_body=TEMPLATE).status == 201


def test_no_marketing_to_an_opted_out_customer(shop: ApiClient, conversation: str, graph) -> None:
    shop.put(f"/customers/{WA_ID}/opt-in", query={"shopId": SHOP}, json_body={"status": "opted_out", "source": "web"})
    refused = shop.post(f"/conversations/{conversation}/messages", json_body=MARKETING)
    assert refused.status == 422
    assert refused.code == "CUSTOMER_OPTED_OUT"
    uncategorised = {"content": {"type": "template", "template": {"name": "promo", "language": "vi"}}}
    assert shop.post(f"/conversations/{conversation}/messages", json_body=uncategorised).code == "CUSTOMER_OPTED_OUT"
    assert shop.post(f"/conversations/{conversation}/messages", json_body=TEMPLATE).status == 201  # utility is fine
    assert len(sends(graph)) == 1


def test_the_daily_limit(shop: ApiClient, graph) -> None:
    table = get_table()
    table.update(f"SHOP#{SHOP}", "ACCOUNT", "SET dailyLimit = :one", {":one": 1})
    first = open_conversation(shop, int(time.time()) - 30 * 3600)
    assert shop.post(f"/conversations/{first}/messages", json_body=TEMPLATE).status == 201
    processor.process_change({**inbound_message("wamid.other", int(time.time()) - 30 * 3600)})
    other_customer = inbound_message("wamid.second-customer", int(time.time()) - 30 * 3600)
    other_customer["value"]["contacts"][0]["wa_id"] = "84909999999"
    other_customer["value"]["messages"][0]["from"] = "84909999999"
    processor.process_change(other_customer)
    listing = shop.get("/conversations", query={"shopId": SHOP}).data["conversations"]
    second = next(c["id"] for c in listing if c["customerWaId"] == "84909999999")
    refused = shop.post(f"/conversations/{second}/messages", json_body=TEMPLATE)
    assert refused.status == 422
    assert refused.code == "DAILY_LIMIT_REACHED"


def test_a_disconnected_account_cannot_send(shop: ApiClient, conversation: str) -> None:
    assert shop.delete(f"/accounts/{SHOP}").status == 200
    reply = shop.post(f"/conversations/{conversation}/messages", json_body=TEXT)
    assert reply.status == 422
    assert reply.code == "ACCOUNT_DISCONNECTED"


@pytest.mark.parametrize(
    ("code", "title"),
    [(131047, "Re-engagement message"), (190, "Invalid OAuth access token"), (131026, "Message undeliverable")],
)
def test_permanent_meta_errors_mark_the_message_failed(shop: ApiClient, conversation: str, graph, code, title) -> None:
    graph.state.faults.append(
        Fault(
            match="/messages",
            status=400,
            count=1,
            body={"error": {"message": title, "type": "OAuthException", "code": code, "fbtrace_id": "x"}},
        )
    )
    reply = shop.post(f"/conversations/{conversation}/messages", json_body=TEXT)
    assert reply.status == 201, reply.text
    assert reply.data["status"] == "failed"
    assert reply.data["errors"] == [{"code": code, "title": title}]
    outbound = shop.get(f"/conversations/{conversation}").data["messages"][-1]
    assert outbound["status"] == "failed"
    assert outbound["errors"] == [{"code": code, "title": title}]


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500, "body": {"error": {"message": "oops"}}},
        {"status": 400, "body": {"error": {"message": "Rate limit hit", "code": 130429}}},
    ],
)
def test_transient_failures_go_to_the_outbound_queue(
    shop: ApiClient, aws: AwsStack, conversation: str, graph, fault
) -> None:
    graph.state.faults.append(Fault(match="/messages", count=1, **fault))
    reply = shop.post(f"/conversations/{conversation}/messages", json_body=TEXT)
    assert reply.status == 202, reply.text
    assert reply.data["status"] == "queued"
    assert queue_depth(aws, "OutboundQueue") == 1
    queued = aws.client("sqs").receive_message(QueueUrl=aws.physical["OutboundQueue"])["Messages"][0]
    assert json.loads(queued["Body"])["messageId"] == reply.data["messageId"]
    assert message_store.get(get_table(), reply.data["messageId"])["status"] == "queued"


def test_a_slow_meta_turns_a_reply_into_a_queued_send_inside_the_request_time(
    shop: ApiClient, aws: AwsStack, conversation: str, graph, monkeypatch
) -> None:
    """Within a request Meta gets the shorter inline timeout, so the function answers 202 long before its
    own timeout would stop it with the message claimed by nobody."""
    from tests.support import reset_caches

    monkeypatch.setenv("GRAPH_API_INLINE_TIMEOUT_SECONDS", "0.3")
    reset_caches()
    graph.state.faults.append(Fault(match="/messages", status=200, count=1, body={}, delay_seconds=1.5))
    reply = shop.post(f"/conversations/{conversation}/messages", json_body=TEXT)
    assert reply.status == 202, reply.text
    assert message_store.get(get_table(), reply.data["messageId"])["status"] == "queued"
    assert queue_depth(aws, "OutboundQueue") == 1


def test_a_reply_whose_send_slot_comes_too_late_for_the_request_is_queued(
    shop: ApiClient, aws: AwsStack, conversation: str, graph
) -> None:
    """A campaign has reserved the number's next minute of slots: the reply is not held past the
    request's time; it waits in the queue for the sender, claim given back."""
    from mkt_whatsapp.store import keys

    get_table().put({"PK": keys.send_rate_pk(PHONE_NUMBER_ID), "SK": "TAT", "tat": time.time() + 60})
    reply = shop.post(f"/conversations/{conversation}/messages", json_body=TEXT)
    assert reply.status == 202, reply.text
    assert sends(graph) == []
    assert message_store.get(get_table(), reply.data["messageId"])["status"] == "queued"
    assert queue_depth(aws, "OutboundQueue") == 1


def test_an_idempotency_key_returns_the_first_answer_instead_of_sending_again(
    shop: ApiClient, conversation: str, graph
) -> None:
    headers = {"Idempotency-Key": "agent-7-reply-0001"}
    first = shop.post(f"/conversations/{conversation}/messages", json_body=TEXT, headers=headers)
    second = shop.post(f"/conversations/{conversation}/messages", json_body=TEXT, headers=headers)
    assert first.status == second.status == 201
    assert second.data == first.data
    assert len(sends(graph)) == 1
    other = shop.post(f"/conversations/{conversation}/messages", json_body=TEMPLATE, headers=headers)
    assert other.status == 409
    assert other.code == "IDEMPOTENCY_KEY_REUSED"
    foreign = shop.post(
        f"/conversations/{conversation}/messages", json_body=TEXT, headers=headers, token=make_token(["shop-2"])
    )
    assert (foreign.status, foreign.code) == (404, "CONVERSATION_NOT_FOUND")
    assert len(sends(graph)) == 1


def test_another_shops_conversation_is_404_and_nothing_is_sent(shop: ApiClient, conversation: str, graph) -> None:
    reply = shop.post(f"/conversations/{conversation}/messages", json_body=TEXT, token=make_token(["shop-2"]))
    assert (reply.status, reply.code) == (404, "CONVERSATION_NOT_FOUND")
    assert len(sends(graph)) == 0


def test_meta_131050_records_the_customers_opt_out(shop: ApiClient, conversation: str, graph) -> None:
    graph.state.faults.append(
        Fault(
            match="/messages",
            status=400,
            count=1,
            body={"error": {"message": "User stopped marketing messages", "type": "OAuthException", "code": 131050}},
        )
    )
    reply = shop.post(f"/conversations/{conversation}/messages", json_body=MARKETING)
    assert reply.data["status"] == "failed"
    profile = shop.get(f"/customers/{WA_ID}", query={"shopId": SHOP}).data
    assert profile["consent"]["status"] == "opted_out"
    assert profile["consent"]["source"] == "whatsapp"
    assert shop.post(f"/conversations/{conversation}/messages", json_body=MARKETING).code == "CUSTOMER_OPTED_OUT"


def test_a_failed_status_with_131050_records_the_opt_out(shop: ApiClient, aws: AwsStack, conversation: str) -> None:
    sent = shop.post(f"/conversations/{conversation}/messages", json_body=TEXT).data
    deliver(shop, aws, status_of(sent, "failed", errors=[{"code": 131050, "title": "User stopped marketing"}]))
    assert shop.get(f"/customers/{WA_ID}", query={"shopId": SHOP}).data["consent"]["status"] == "opted_out"


@pytest.mark.parametrize(
    ("language", "sent"),
    [
        ({"code": "vi"}, {"code": "vi"}),
        ({"code": "vi", "policy": "deterministic"}, {"code": "vi", "policy": "deterministic"}),
        ("vi", {"code": "vi"}),
    ],
    ids=["meta-object", "meta-object-with-policy", "plain-code"],
)
def test_a_templates_language_as_meta_documents_it_or_as_a_code(
    shop: ApiClient, graph, language: object, sent: dict
) -> None:
    conversation = open_conversation(shop, int(time.time()) - 60)
    body = {"content": {"type": "template", "template": {"name": "order_update", "language": language}}}
    reply = shop.post(f"/conversations/{conversation}/messages", json_body=body)
    assert reply.status == 201, reply.text
    assert sends(graph)[-1]["body"]["template"] == {"name": "order_update", "language": sent}


@pytest.mark.parametrize(
    ("language", "code"),
    [
        ({"code": "vi", "policy": "fallback"}, "INVALID_TYPE"),
        ({"locale": "vi"}, "INVALID_TYPE"),
        ({"code": "v"}, "TOO_SHORT"),
        (7, "INVALID_TYPE"),
    ],
    ids=["unknown-policy", "no-code", "code-too-short", "a-number"],
)
def test_a_bad_template_language_is_400_naming_it(shop: ApiClient, graph, language: object, code: str) -> None:
    conversation = open_conversation(shop, int(time.time()) - 60)
    body = {"content": {"type": "template", "template": {"name": "order_update", "language": language}}}
    reply = shop.post(f"/conversations/{conversation}/messages", json_body=body)
    assert (reply.status, reply.field, reply.code) == (400, "content.template.language", code), reply.text
    assert sends(graph) == []
