"""Meta refuses a send for an account-level reason (190 expired token, 131031 restricted, 368 policy,
131042 payment, 0): the shop's sends stop and the account shows why, until the shop reconnects."""

from __future__ import annotations

import time

import pytest

from local.graph_simulator import Fault
from mkt_whatsapp.messaging import sender
from mkt_whatsapp.store import accounts as account_store
from mkt_whatsapp.store import get_table
from mkt_whatsapp.store import messages as message_store
from tests.support import ApiClient, AwsStack, connect_shop, queue_depth
from tests.unit.test_send_messages import PHONE_NUMBER_ID, SHOP, TEXT, open_conversation, sends
from tests.unit.test_sender import poller

EXPIRED = {"error": {"message": "Error validating access token: Session has expired", "code": 190}}


@pytest.fixture
def refused(api: ApiClient, aws: AwsStack, graph) -> str:
    """A shop whose reply Meta refused with 190; returns the conversation."""
    connect_shop(api, SHOP, PHONE_NUMBER_ID)
    conversation = open_conversation(api, int(time.time()) - 60)
    graph.state.requests.clear()
    graph.state.faults[:] = [Fault(match="/messages", status=401, count=1, body=EXPIRED)]
    reply = api.post(f"/conversations/{conversation}/messages", json_body=TEXT)
    assert reply.status == 201, reply.text
    assert reply.data["status"] == "failed"
    assert reply.data["errors"][0]["code"] == 190
    return conversation


def test_the_account_shows_why_its_sends_stopped(api: ApiClient, refused: str) -> None:
    account = api.get(f"/accounts/{SHOP}").data
    assert account["status"] == "action_required"
    assert account["lastError"]["code"] == 190
    assert account["lastError"]["title"] == EXPIRED["error"]["message"]
    assert account["lastError"]["at"].startswith(time.strftime("%Y-%m-%d", time.gmtime()))


def test_replies_are_refused_before_anything_is_sent(api: ApiClient, refused: str, graph) -> None:
    before = len(sends(graph))
    reply = api.post(f"/conversations/{refused}/messages", json_body=TEXT)
    assert reply.status == 422
    assert reply.code == "ACCOUNT_ACTION_REQUIRED"
    assert "Meta code 190" in reply.text
    assert len(sends(graph)) == before


def test_queued_sends_of_the_shop_fail_visibly_without_calling_meta(
    api: ApiClient, aws: AwsStack, refused: str, graph
) -> None:
    """A send already on the outbound queue when the account was flagged: failed with the reason, no
    Graph call."""
    from mkt_whatsapp.messaging.delivery import outbound_record

    message = message_store.get(get_table(), _last_outbound(refused))
    get_table().update(f"MSG#{message['id']}", "MESSAGE", "SET #s = :q", {":q": "queued"}, names={"#s": "status"})
    body = {"messaging_product": "whatsapp", "to": "84901234567", "type": "text", "text": {"body": "x"}}
    aws.client("sqs").send_message(
        QueueUrl=aws.physical["OutboundQueue"], MessageBody=outbound_record(message["id"], SHOP, body)
    )
    sender._accounts.clear()
    before = len(sends(graph))
    assert poller(aws).poll_once() == 1
    failed = message_store.get(get_table(), message["id"])
    assert failed["status"] == "failed"
    assert failed["errors"][-1]["code"] == "ACCOUNT_ACTION_REQUIRED"
    assert "Meta code 190" in failed["errors"][-1]["title"]
    assert len(sends(graph)) == before
    assert queue_depth(aws, "OutboundQueue") == 0


def test_reconnecting_with_a_new_token_resumes_sending(api: ApiClient, refused: str) -> None:
    reconnect = api.post(
        "/accounts", json_body={"shopId": SHOP, "phoneNumberId": PHONE_NUMBER_ID, "accessToken": "EAAnew-token"}
    )
    assert reconnect.status == 201, reconnect.text
    account = api.get(f"/accounts/{SHOP}").data
    assert account["status"] == "active"
    assert account.get("lastError") is None
    reply = api.post(f"/conversations/{refused}/messages", json_body=TEXT)
    assert reply.status == 201, reply.text
    assert reply.data["status"] == "sent"


def test_reconnecting_another_number_releases_the_old_one(api: ApiClient, refused: str) -> None:
    reconnect = api.post(
        "/accounts", json_body={"shopId": SHOP, "phoneNumberId": "106540350000001", "accessToken": "EAAnew-token"}
    )
    assert reconnect.status == 201, reconnect.text
    other = connect_shop(api.as_shops("shop-2"), "shop-2", PHONE_NUMBER_ID)  # the old number is free again
    assert other.get("/accounts/shop-2").data["phoneNumberId"] == PHONE_NUMBER_ID


def test_an_account_that_needs_action_can_be_disconnected(api: ApiClient, refused: str) -> None:
    assert api.delete(f"/accounts/{SHOP}").status == 200
    assert api.get(f"/accounts/{SHOP}").data["status"] == "disconnected"


def test_a_stale_refusal_does_not_flag_a_reconnected_account(api: ApiClient, aws: AwsStack, graph) -> None:
    """A send of the old connection fails after the shop reconnected: the new connection stays active."""
    connect_shop(api, SHOP, PHONE_NUMBER_ID)
    old = account_store.get_account(get_table(), SHOP)
    assert api.delete(f"/accounts/{SHOP}").status == 200
    connect_shop(api, SHOP, PHONE_NUMBER_ID)
    from datetime import UTC, datetime

    assert account_store.flag_action_required(get_table(), old, {"code": 190, "title": "x"}, datetime.now(UTC)) is False
    assert api.get(f"/accounts/{SHOP}").data["status"] == "active"


def _last_outbound(conversation_id: str) -> str:
    outbound = [
        m
        for m in message_store.recent_in_conversation(get_table(), conversation_id, 10, None)
        if m["direction"] == "outbound"
    ]
    return str(outbound[0]["id"])
