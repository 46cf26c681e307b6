"""End to end over HTTP: an agent replies to a simulated customer with text, an image and buttons; the
statuses move to delivered and read as Meta's status webhooks arrive; outside the window it is 422."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from local.graph_simulator import GraphSimulator
from mkt_whatsapp.whatsapp.signature import sign
from tests.e2e.conftest import RunningStack
from tests.support import whatsapp_delivery

pytestmark = pytest.mark.e2e
APP_SECRET = "local-dev-meta-app-secret"
PHONE_NUMBER_ID = "880000111"
CUSTOMER = "84912345678"


def webhook(stack: RunningStack, value: dict, phone_number_id: str = PHONE_NUMBER_ID) -> None:
    raw = json.dumps(whatsapp_delivery(phone_number_id, value)).encode()
    reply = httpx.post(f"{stack.api}/webhooks", content=raw, headers={"X-Hub-Signature-256": sign(raw, APP_SECRET)})
    assert reply.status_code == 200


def eventually(read, check, seconds: float = 20):
    deadline = time.monotonic() + seconds
    while True:
        value = read()
        if check(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def customer_writes(
    stack: RunningStack, auth: dict[str, str], shop_id: str, phone_number_id: str, message: dict, name: str
) -> dict:
    """A customer's text message reaches the shop's number; returns the conversation it opened."""
    webhook(
        stack,
        {"contacts": [{"profile": {"name": name}, "wa_id": message["from"]}], "messages": [message]},
        phone_number_id=phone_number_id,
    )
    listing = eventually(
        lambda: httpx.get(f"{stack.api}/conversations", params={"shopId": shop_id}, headers=auth).json(),
        lambda body: body["data"]["totalCount"] == 1,
    )
    return dict(listing["data"]["conversations"][0])


@pytest.fixture
def running(stack: RunningStack, e2e_graph: GraphSimulator) -> tuple[RunningStack, GraphSimulator]:
    """The worker's shared stack and the simulator it calls (each test here has its own shop and number)."""
    return stack, e2e_graph


def test_replies_and_their_statuses(running) -> None:
    stack, simulator = running
    auth = stack.connect("shop-r", PHONE_NUMBER_ID)
    message = {
        "from": CUSTOMER,
        "id": "wamid.e2e-in-1",
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": "Shop ơi, còn áo size M không?"},
    }
    conversation = customer_writes(stack, auth, "shop-r", PHONE_NUMBER_ID, message, "Lan")["id"]

    contents = [
        {"type": "text", "text": "Dạ còn ạ!"},
        {"type": "image", "url": "https://shop.example/ao-size-m.jpg", "caption": "Áo size M"},
        {
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": {"text": "Bạn muốn đặt không?"},
                "action": {"buttons": [{"id": "yes", "title": "Đặt ngay"}, {"id": "no", "title": "Để sau"}]},
            },
        },
    ]
    sent = []
    for content in contents:
        reply = httpx.post(
            f"{stack.api}/conversations/{conversation}/messages", headers=auth, json={"content": content}
        )
        assert reply.status_code == 201, reply.text
        assert reply.json()["data"]["status"] == "sent"
        sent.append(reply.json()["data"])
    bodies = [r["body"] for r in simulator.state.requests if r["path"].endswith("/messages")]
    assert [b["type"] for b in bodies] == ["text", "image", "interactive"]
    assert all(b["to"] == CUSTOMER for b in bodies)

    for status in ("delivered", "read"):
        webhook(
            stack,
            {
                "statuses": [
                    {
                        "id": m["whatsAppMessageId"],
                        "status": status,
                        "timestamp": str(int(time.time())),
                        "recipient_id": CUSTOMER,
                    }
                    for m in sent
                ]
            },
        )
        detail = eventually(
            lambda: httpx.get(f"{stack.api}/conversations/{conversation}", headers=auth).json()["data"],
            lambda data, wanted=status: all(
                m["status"] == wanted for m in data["messages"] if m["direction"] == "outbound"
            ),
        )
        assert [m["status"] for m in detail["messages"] if m["direction"] == "outbound"] == [status] * 3


def test_outside_the_window_a_reply_is_422(running) -> None:
    stack, _ = running
    auth = stack.connect("shop-w", "880000222")
    message = {
        "from": "84900000077",
        "id": "wamid.e2e-old",
        "timestamp": str(int(time.time()) - 2 * 86400),
        "type": "text",
        "text": {"body": "hello"},
    }
    conversation = customer_writes(stack, auth, "shop-w", "880000222", message, "Old")
    assert conversation["status"] == "expired"
    reply = httpx.post(
        f"{stack.api}/conversations/{conversation['id']}/messages",
        headers=auth,
        json={"content": {"type": "text", "text": "Chào bạn"}},
    )
    assert reply.status_code == 422
    assert reply.json()["details"]["code"] == "OUTSIDE_CUSTOMER_SERVICE_WINDOW"


def test_a_reply_meta_fails_transiently_is_sent_by_the_stacks_sender(running) -> None:
    """The in-request send meets a Meta 500: 202 queued; the local stack's sender worker (the SQS event
    source mapping, in a thread of its own) sends it, and the conversation shows it sent."""
    stack, simulator = running
    auth = stack.connect("shop-q", "880000333")
    message = {
        "from": "84900000088",
        "id": "wamid.e2e-q-1",
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": "Đơn của mình tới đâu rồi?"},
    }
    conversation = customer_writes(stack, auth, "shop-q", "880000333", message, "Minh")["id"]
    fault = {"match": "/880000333/messages", "status": 500, "count": 1, "body": {"error": {"message": "down"}}}
    assert httpx.post(f"{simulator.url}/_simulator/faults", json=fault).status_code == 200

    reply = httpx.post(
        f"{stack.api}/conversations/{conversation}/messages",
        headers=auth,
        json={"content": {"type": "text", "text": "Đơn đang được giao ạ."}},
    )
    assert reply.status_code == 202, reply.text
    assert reply.json()["data"]["status"] == "queued"
    message_id = reply.json()["data"]["messageId"]

    detail = eventually(
        lambda: httpx.get(f"{stack.api}/conversations/{conversation}", headers=auth).json()["data"],
        lambda data: any(m["id"] == message_id and m["status"] == "sent" for m in data["messages"]),
    )
    [message] = [m for m in detail["messages"] if m["id"] == message_id]
    assert message["status"] == "sent"
    assert message["whatsAppMessageId"].startswith("wamid.")
    sends = [r for r in simulator.state.requests if r["path"].endswith("/880000333/messages")]
    assert len(sends) == 2  # the failed in-request attempt and the sender's
