"""Agents' actions: assign and close conversations, tag customers, record consent (with its trail)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mkt_whatsapp.inbound import processor
from tests.support import ApiClient, AwsStack, connect_shop, inbound_text_change, make_token

SHOP = "shop-1"
WA_ID = "84901234567"


def message(wamid: str, at: int, wa_id: str = WA_ID) -> dict:
    return inbound_text_change("106540352242922", wa_id, wamid, at=at)


@pytest.fixture
def conversation(api: ApiClient, aws: AwsStack) -> dict:
    connect_shop(api, SHOP)
    processor.process_change(message("wamid.1", int(time.time()) - 60))
    [summary] = api.get("/conversations", query={"shopId": SHOP}).data["conversations"]
    return summary


def test_assign_answers_as_the_spec_shows_and_the_filter_finds_it(api: ApiClient, conversation: dict) -> None:
    reply = api.post(f"/conversations/{conversation['id']}/assign", json_body={"agentId": "agent-001"})
    assert reply.status == 200, reply.text
    assert reply.data["conversationId"] == conversation["id"]
    assert reply.data["assignedAgentId"] == "agent-001"
    assert reply.data["assignedAt"].endswith("Z")
    listing = api.get("/conversations", query={"shopId": SHOP, "assignedAgentId": "agent-001"}).data
    assert [c["id"] for c in listing["conversations"]] == [conversation["id"]]
    assert api.get(f"/conversations/{conversation['id']}").data["assignedAgentId"] == "agent-001"


@pytest.mark.parametrize(
    ("body", "field", "code"), [({}, "agentId", "REQUIRED_FIELD"), ({"agentId": ""}, "agentId", "TOO_SHORT")]
)
def test_assign_needs_an_agent(api: ApiClient, conversation: dict, body: dict, field: str, code: str) -> None:
    reply = api.post(f"/conversations/{conversation['id']}/assign", json_body=body)
    assert reply.status == 400
    assert (reply.field, reply.code) == (field, code)


def test_close_then_a_new_message_opens_a_new_conversation(api: ApiClient, conversation: dict) -> None:
    reply = api.post(f"/conversations/{conversation['id']}/close")
    assert reply.status == 200, reply.text
    assert reply.data["conversationId"] == conversation["id"]
    assert reply.data["status"] == "closed"
    closed_at = reply.data["closedAt"]
    again = api.post(f"/conversations/{conversation['id']}/close")
    assert again.status == 200
    assert again.data["closedAt"] == closed_at  # closing twice answers with the first close
    assigned = api.post(f"/conversations/{conversation['id']}/assign", json_body={"agentId": "a"})
    assert assigned.status == 422
    assert assigned.code == "CONVERSATION_CLOSED"

    processor.process_change(message("wamid.2", int(time.time())))
    listing = api.get("/conversations", query={"shopId": SHOP}).data
    assert listing["totalCount"] == 2
    assert {c["status"] for c in listing["conversations"]} == {"active", "closed"}


def test_unknown_and_foreign_conversations(api: ApiClient, conversation: dict) -> None:
    for action, body in (("assign", {"agentId": "a"}), ("close", None)):
        assert api.post(f"/conversations/nope/{action}", json_body=body).status == 404
        foreign = api.post(
            f"/conversations/{conversation['id']}/{action}", json_body=body, token=make_token(["shop-2"])
        )
        assert foreign.status == 404  # another shop's conversation answers like a missing one
        assert foreign.code == "CONVERSATION_NOT_FOUND"


def test_tags_are_added_and_removed_atomically_and_normalised(api: ApiClient, conversation: dict) -> None:
    path = f"/customers/{WA_ID}/tags"
    first = api.put(path, query={"shopId": SHOP}, json_body={"addTags": ["VIP", "New Customer", "vip"]})
    assert first.status == 200, first.text
    assert first.data == {"waId": WA_ID, "tags": ["vip", "new-customer"]}
    second = api.put(
        path, query={"shopId": SHOP}, json_body={"addTags": ["electronics_buyer"], "removeTags": ["new-customer"]}
    )
    assert second.data["tags"] == ["vip", "electronics-buyer"]
    assert api.get(f"/customers/{WA_ID}", query={"shopId": SHOP}).data["tags"] == ["vip", "electronics-buyer"]
    found = api.get("/customers", query={"shopId": SHOP, "tags": "electronics-buyer"}).data
    assert found["totalCount"] == 1


def test_tag_limits(api: ApiClient, conversation: dict) -> None:
    path = f"/customers/{WA_ID}/tags"
    fifty = [f"tag-{n}" for n in range(50)]
    assert api.put(path, query={"shopId": SHOP}, json_body={"addTags": fifty}).status == 200
    over = api.put(path, query={"shopId": SHOP}, json_body={"addTags": ["one-more"]})
    assert over.status == 422
    assert over.code == "TAG_LIMIT_EXCEEDED"
    long_tag = api.put(path, query={"shopId": SHOP}, json_body={"addTags": ["x" * 51]})
    assert long_tag.status == 400
    assert (long_tag.field, long_tag.code) == ("addTags[0]", "TOO_LONG")
    ok_tag = api.put(path, query={"shopId": SHOP}, json_body={"removeTags": ["tag-0"], "addTags": ["y" * 50]})
    assert ok_tag.status == 200
    nothing = api.put(path, query={"shopId": SHOP}, json_body={})
    assert nothing.status == 400
    symbols = api.put(path, query={"shopId": SHOP}, json_body={"addTags": ["!!!"]})
    assert symbols.status == 400
    assert symbols.field == "addTags[0]"


def test_consent_changes_are_timestamped_and_kept_as_a_trail(api: ApiClient, conversation: dict) -> None:
    path = f"/customers/{WA_ID}/opt-in"
    out = api.put(path, query={"shopId": SHOP}, json_body={"status": "opted_out", "source": "web"})
    assert out.status == 200, out.text
    assert out.data["waId"] == WA_ID
    assert out.data["consent"]["status"] == "opted_out"
    assert out.data["consent"]["source"] == "web"
    assert out.data["consent"]["timestamp"].endswith("Z")
    back = api.put(path, query={"shopId": SHOP}, json_body={"status": "opted_in", "source": "agent"})
    assert back.data["consent"]["status"] == "opted_in"
    profile = api.get(f"/customers/{WA_ID}", query={"shopId": SHOP}).data
    assert profile["consent"]["status"] == "opted_in"
    assert [(e["status"], e["source"]) for e in profile["consentHistory"]] == [
        ("opted_out", "web"),
        ("opted_in", "agent"),
    ]
    assert api.get("/customers", query={"shopId": SHOP}).data["customers"][0]["optInStatus"] == "opted_in"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "maybe", "source": "web"}, "status"),
        ({"status": "opted_in"}, "source"),
        ({"status": "opted_in", "source": "has space"}, "source"),
    ],
)
def test_consent_validation(api: ApiClient, conversation: dict, body: dict, field: str) -> None:
    reply = api.put(f"/customers/{WA_ID}/opt-in", query={"shopId": SHOP}, json_body=body)
    assert reply.status == 400
    assert reply.field == field


def test_customer_writes_need_the_shop_and_an_existing_customer(api: ApiClient, conversation: dict) -> None:
    body = {"status": "opted_in", "source": "web"}
    assert api.put("/customers/84900000000/opt-in", query={"shopId": SHOP}, json_body=body).status == 404
    assert api.put(f"/customers/{WA_ID}/opt-in", json_body=body).status == 400
    foreign = api.put(f"/customers/{WA_ID}/opt-in", query={"shopId": "shop-2"}, json_body=body)
    assert foreign.status == 403


def test_corpus_is_untouched(api: ApiClient) -> None:
    """The corpus fixture files are inputs of other tests: this module only reads them."""
    corpus = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"
    assert json.loads((corpus / "text.json").read_text())["object"] == "whatsapp_business_account"
