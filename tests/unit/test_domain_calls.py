"""Domain functions take the shop, the actor and the deadline as arguments: a flow step, an AI reply or a
campaign sends, tags and closes with plain function calls, no HTTP request in flight, and what they did
shows who did it."""

from __future__ import annotations

import time

import pytest

from local.graph_simulator import GraphSimulator
from mkt_whatsapp.conversations import actions as conversation_actions
from mkt_whatsapp.conversations import reading
from mkt_whatsapp.core.errors import NotFound
from mkt_whatsapp.customers import actions as customer_actions
from mkt_whatsapp.http import guard
from mkt_whatsapp.inbound import processor
from mkt_whatsapp.messaging import send
from mkt_whatsapp.store import conversations as conversation_store
from mkt_whatsapp.store import customers as customer_store
from mkt_whatsapp.store import get_table
from mkt_whatsapp.whatsapp.outbound_content import SendMessageRequest
from tests.support import ApiClient, AwsStack, connect_shop, inbound_text_change

SHOP = "shop-domain-calls"
PHONE_NUMBER_ID = "106540352240301"
WA_ID = "84907770001"


def inbound_text(wamid: str, at: int) -> dict:
    return inbound_text_change(PHONE_NUMBER_ID, WA_ID, wamid, at=at, name="Trần Thị B")


@pytest.fixture
def conversation_id(api: ApiClient, aws: AwsStack) -> str:
    connect_shop(api, SHOP, PHONE_NUMBER_ID)
    processor.process_change(inbound_text("wamid.DOMAIN-1", int(time.time()) - 30))
    [summary] = api.get("/conversations", query={"shopId": SHOP}).data["conversations"]
    return str(summary["id"])


def text(body: str) -> SendMessageRequest:
    return SendMessageRequest.model_validate({"content": {"type": "text", "text": body}})


def test_a_worker_sends_tags_and_closes_with_no_request_in_flight(
    api: ApiClient, conversation_id: str, graph: GraphSimulator
) -> None:
    with pytest.raises(RuntimeError, match="no request in progress"):
        guard.current_request()
    sends_before = sum(1 for request in graph.state.requests if request["path"].endswith("/messages"))

    conversation = reading.load(conversation_id, SHOP)
    status, sent = send.send(
        SHOP, conversation, text("Chào chị, shop gửi mã giảm giá"), actor="flow:welcome", deadline=time.time() + 10
    )
    tagged = customer_actions.update_tags(SHOP, WA_ID, ["VIP Buyer"], [], actor="ai:agent-7")
    consent = customer_actions.update_consent(SHOP, WA_ID, "opted_in", "flow", actor="flow:welcome")
    closed = conversation_actions.close(SHOP, reading.load(conversation_id, SHOP), actor="system")

    assert (status, sent["status"]) == (201, "sent")
    assert sent["whatsAppMessageId"]
    sends = [request for request in graph.state.requests if request["path"].endswith("/messages")]
    assert len(sends) == sends_before + 1
    assert sends[-1]["body"]["to"] == WA_ID
    assert tagged == {"waId": WA_ID, "tags": ["vip-buyer"]}
    assert consent["consent"]["status"] == "opted_in"
    assert closed["status"] == "closed"

    # What the API shows afterwards, and who did each thing.
    detail = api.get(f"/conversations/{conversation_id}").data
    assert detail["status"] == "closed"
    outbound = [message for message in detail["messages"] if message["direction"] == "outbound"]
    assert [(message["sentBy"], message["status"]) for message in outbound] == [("flow:welcome", "sent")]
    assert [message["sentBy"] for message in detail["messages"] if message["direction"] == "inbound"] == [None]
    profile = api.get(f"/customers/{WA_ID}", query={"shopId": SHOP}).data
    assert profile["tags"] == ["vip-buyer"]
    assert profile["consent"]["status"] == "opted_in"
    table = get_table()
    assert conversation_store.get(table, conversation_id)["closedBy"] == "system"
    customer = customer_store.find(table, SHOP, [WA_ID])
    assert customer["tagsUpdatedBy"] == "ai:agent-7"
    [trail] = customer_store.consent_history(table, SHOP, customer_store.key_of(customer))
    assert trail["actor"] == "flow:welcome"


def test_an_agents_reply_records_the_agent(api: ApiClient, conversation_id: str) -> None:
    reply = api.post(
        f"/conversations/{conversation_id}/messages", json_body={"content": {"type": "text", "text": "Dạ"}}
    )
    assert reply.status == 201, reply.text
    assigned = api.post(f"/conversations/{conversation_id}/assign", json_body={"agentId": "agent-002"})
    assert assigned.status == 200, assigned.text
    detail = api.get(f"/conversations/{conversation_id}").data
    assert [m["sentBy"] for m in detail["messages"] if m["direction"] == "outbound"] == ["agent-1"]
    assert conversation_store.get(get_table(), conversation_id)["assignedBy"] == "agent-1"


def test_a_domain_call_never_acts_on_another_shops_conversation(conversation_id: str) -> None:
    conversation = reading.load(conversation_id, SHOP)
    with pytest.raises(NotFound):
        reading.load(conversation_id, "another-shop")
    with pytest.raises(NotFound):
        send.send("another-shop", conversation, text("hi"), actor="ai:agent-7", deadline=None)
    with pytest.raises(NotFound):
        conversation_actions.close("another-shop", conversation, actor="system")
    with pytest.raises(NotFound):
        conversation_actions.assign("another-shop", conversation, "agent-9", actor="system")
    assert reading.load(conversation_id, SHOP)["status"] == conversation_store.OPEN
