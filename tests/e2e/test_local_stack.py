"""End to end: the local stack `make dev` runs, driven over HTTP like a user with curl."""

from __future__ import annotations

import re
import signal
import socket
import time

import httpx
import pytest

from local.graph_simulator import GraphSimulator
from local.make_events import webhook_body
from mkt_whatsapp.whatsapp.signature import sign
from tests.e2e.conftest import RunningStack, start_stack
from tests.support import ShopIds

pytestmark = pytest.mark.e2e
DEV_APP_SECRET = "local-dev-meta-app-secret"


def test_the_ready_line_names_the_url_and_how_to_get_a_token(stack: RunningStack) -> None:
    assert f"http://127.0.0.1:{stack.port}/api/v1/whatsapp" in stack.ready_line


def test_health_needs_no_token(stack: RunningStack) -> None:
    reply = httpx.get(f"{stack.api}/health")
    assert reply.status_code == 200
    assert reply.json()["data"]["status"] == "ok"


def test_a_first_session_connect_read_webhook_disconnect(stack: RunningStack, shop_ids: ShopIds) -> None:
    shop, number = shop_ids.shop_id, shop_ids.phone_number_id
    token = stack.token(shop)
    auth = {"Authorization": f"Bearer {token}"}
    body = {
        "shopId": shop,
        "phoneNumberId": number,
        "accessToken": "EAAe2e-token",
        "webhookUrl": "https://example.com/api/v1/whatsapp/webhooks",
    }

    connected = httpx.post(f"{stack.api}/accounts", json=body, headers=auth)
    assert connected.status_code == 201, connected.text
    assert connected.json()["data"]["status"] == "active"
    assert connected.headers["X-RateLimit-Limit"] == "60"

    account = httpx.get(f"{stack.api}/accounts/{shop}", headers=auth)
    assert account.status_code == 200
    data = account.json()["data"]
    assert data["phoneNumberId"] == number
    assert data["messagesUsedToday"] == 0
    assert "EAAe2e-token" not in account.text

    again = httpx.post(f"{stack.api}/accounts", json=body, headers=auth)
    assert again.status_code == 409

    challenge = httpx.get(
        f"{stack.api}/webhooks",
        params={"hub.mode": "subscribe", "hub.verify_token": "local-dev-verify-token", "hub.challenge": "98765"},
    )
    assert (challenge.status_code, challenge.text) == (200, "98765")

    raw = webhook_body().replace(b"106540352242922", number.encode())  # to this test's number
    signed = httpx.post(
        f"{stack.api}/webhooks",
        content=raw,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw, DEV_APP_SECRET)},
    )
    assert signed.status_code == 200
    assert signed.json() == {"success": True}
    forged = httpx.post(f"{stack.api}/webhooks", content=raw, headers={"X-Hub-Signature-256": "sha256=00"})
    assert forged.status_code == 401

    other_shop = httpx.get(f"{stack.api}/accounts/{shop}", headers={"Authorization": f"Bearer {stack.token('x')}"})
    assert other_shop.status_code == 403

    gone = httpx.delete(f"{stack.api}/accounts/{shop}", headers=auth)
    assert gone.status_code == 200
    assert httpx.get(f"{stack.api}/accounts/{shop}", headers=auth).json()["data"]["status"] == "disconnected"


def test_unknown_routes_and_wrong_methods(stack: RunningStack) -> None:
    missing = httpx.get(f"{stack.api}/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["details"]["code"] == "ROUTE_NOT_FOUND"
    wrong = httpx.patch(f"{stack.api}/accounts/shop-1")
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "DELETE, GET, HEAD"
    assert httpx.get(f"{stack.api}/accounts/shop-1").status_code == 401
    # Methods no route knows, and HEAD, over real HTTP: the envelope, never SAM's {"message": ...}.
    unknown = httpx.request("FOO", f"{stack.api}/accounts/shop-1")
    assert (unknown.status_code, unknown.json()["details"]["code"]) == (405, "METHOD_NOT_ALLOWED")
    head = httpx.head(f"{stack.api}/health")
    assert (head.status_code, head.content) == (200, b"")
    assert httpx.head(f"{stack.api}/accounts/shop-1").status_code == 401


def test_the_stack_uses_graph_api_base_url_when_set_and_stops_on_sigterm() -> None:
    simulator = GraphSimulator().start()
    running = start_stack({"GRAPH_API_BASE_URL": simulator.url, "RATE_LIMIT_PER_MINUTE": "2"})
    try:
        assert simulator.url in running.ready_line
        # The limit counts per minute of the clock: start with the minute's end well ahead, so the four
        # calls below fall in one window.
        left_in_minute = 60 - time.time() % 60
        if left_in_minute < 10:
            time.sleep(left_in_minute + 0.1)
        auth = running.connect("shop-g", "4455")
        assert [r["path"] for r in simulator.state.requests] == ["/v23.0/4455"]
        # RATE_LIMIT_PER_MINUTE reaches the handlers: the connect and the first read are the two calls this
        # minute allows; the third call and after are refused.
        statuses = [httpx.get(f"{running.api}/accounts/shop-g", headers=auth).status_code for _ in range(3)]
        assert statuses == [200, 429, 429]
    finally:
        code = running.stop(signal.SIGTERM)
        simulator.stop()
    assert code == 0
    # Nothing listens on its port any more: a new server can bind it (SO_REUSEADDR, as servers do, since
    # the closed connections may linger in TIME_WAIT) and a connection is refused.
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", running.port))
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{running.api}/health", timeout=2)


def test_ctrl_c_stops_everything() -> None:
    running = start_stack()
    assert running.stop(signal.SIGINT) == 0


def test_a_signed_webhook_becomes_a_conversation_a_message_and_a_customer(stack: RunningStack) -> None:
    """The inbound path as deployed: receiver → SQS → the inbound processor (the stack's queue worker)."""
    auth = stack.connect("shop-in", "777000111")
    raw = webhook_body().replace(b"106540352242922", b"777000111")
    reply = httpx.post(
        f"{stack.api}/webhooks",
        content=raw,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw, DEV_APP_SECRET)},
    )
    assert reply.status_code == 200

    deadline = time.monotonic() + 20
    while True:
        listing = httpx.get(f"{stack.api}/conversations", params={"shopId": "shop-in"}, headers=auth).json()
        if listing["data"]["totalCount"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    [conversation] = listing["data"]["conversations"]
    assert conversation["customerName"] == "Nguyễn Văn A"
    detail = httpx.get(f"{stack.api}/conversations/{conversation['id']}", headers=auth).json()["data"]
    assert [m["content"] for m in detail["messages"]] == [{"type": "text", "text": "Xin chào, shop còn hàng không?"}]
    customer = httpx.get(f"{stack.api}/customers/84901234567", params={"shopId": "shop-in"}, headers=auth)
    assert customer.status_code == 200
    assert customer.json()["data"]["stats"]["conversationCount"] == 1


def test_meta_posts_to_the_function_url_the_banner_names(stack: RunningStack, shop_ids: ShopIds) -> None:
    """The webhook URL the ready banner names (the function URL's path, as output WebhookUrl gives it on
    AWS) takes Meta's handshake and signed deliveries as function-URL events; a delivery Meta repeats is
    stored once, a forged one is 401 and stores nothing."""
    [url] = re.findall(r"Meta webhooks[^:]*: (\S+)", stack.ready_line)
    assert url == f"http://127.0.0.1:{stack.port}/api/v1/whatsapp/webhooks"
    auth = stack.connect(shop_ids.shop_id, shop_ids.phone_number_id)
    handshake = {"hub.mode": "subscribe", "hub.verify_token": "local-dev-verify-token", "hub.challenge": "77"}
    assert httpx.get(url, params=handshake).text == "77"

    raw = webhook_body().replace(b"106540352242922", shop_ids.phone_number_id.encode())
    forged = raw.replace(b"shop c\\u00f2n h\\u00e0ng", b"send me your tokens")
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw, DEV_APP_SECRET)}
    assert httpx.post(url, content=forged, headers=headers).status_code == 401
    for _ in range(2):  # Meta delivers at least once
        reply = httpx.post(url, content=raw, headers=headers)
        assert (reply.status_code, reply.json()) == (200, {"success": True})

    params = {"shopId": shop_ids.shop_id}
    deadline = time.monotonic() + 20
    while True:
        listing = httpx.get(f"{stack.api}/conversations", params=params, headers=auth).json()["data"]
        if listing["totalCount"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    time.sleep(1)  # the redelivery's turn in the queue worker
    [conversation] = httpx.get(f"{stack.api}/conversations", params=params, headers=auth).json()["data"][
        "conversations"
    ]
    assert conversation["messageCount"] == 1
    detail = httpx.get(f"{stack.api}/conversations/{conversation['id']}", headers=auth).json()["data"]
    assert [m["content"]["text"] for m in detail["messages"]] == ["Xin chào, shop còn hàng không?"]
