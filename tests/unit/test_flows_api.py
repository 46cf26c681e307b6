"""The flows API (issue 12, item 1): create, list with stats, read a version, change (a new immutable
version), activate with the trigger claimed (409 naming the flow that holds it), deactivate, delete (only
inactive); duplicate names 409; another shop's flow is never visible."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mkt_whatsapp.store import flows as flow_store
from mkt_whatsapp.store import get_table
from tests.support import ApiClient, make_token

SHOP = "shop-flows"
OTHER = "shop-flows-other"

GUIDE_FLOW: dict[str, Any] = {
    "shopId": SHOP,
    "flowName": "Welcome New Customer",
    "description": "Chào khách mới và hỏi nhu cầu",
    "trigger": {"type": "keyword", "keywords": ["hi", "xin chào"], "match": "exact"},
    "steps": [
        {
            "id": "greet",
            "type": "send_message",
            "content": {"type": "text", "text": "Xin chào {{customer.name}}!"},
            "next": "ask",
        },
        {
            "id": "ask",
            "type": "ask",
            "content": {
                "type": "interactive",
                "interactive": {
                    "type": "button",
                    "body": {"text": "Bạn cần gì?"},
                    "action": {"buttons": [{"id": "buy", "title": "Mua hàng"}, {"id": "help", "title": "Hỗ trợ"}]},
                },
            },
            "saveAs": "choice",
            "timeoutSeconds": 3600,
            "onTimeout": "bye",
            "next": "route",
        },
        {
            "id": "route",
            "type": "condition",
            "branches": [{"if": {"left": "{{vars.choice}}", "op": "equals", "right": "buy"}, "next": "tag"}],
            "else": "human",
        },
        {"id": "tag", "type": "add_tags", "tags": ["interested"], "next": "ai"},
        {"id": "ai", "type": "ai_reply", "aiAgentId": "agent-1", "maxTurns": 5, "next": "bye"},
        {"id": "human", "type": "assign_agent", "agentId": None},
        {"id": "bye", "type": "send_message", "content": {"type": "text", "text": "Cảm ơn bạn!"}, "next": None},
    ],
}


def flow_body(**overrides: Any) -> dict[str, Any]:
    return {**copy.deepcopy(GUIDE_FLOW), **overrides}


@pytest.fixture
def client(api: ApiClient) -> ApiClient:
    api.token = make_token([SHOP])
    return api


def create(client: ApiClient, **overrides: Any) -> str:
    reply = client.post("/flows", json_body=flow_body(**overrides))
    assert reply.status == 201, reply.text
    return str(reply.data["flowId"])


def test_the_guides_flow_is_created_read_and_listed_with_its_stats(client: ApiClient) -> None:
    reply = client.post("/flows", json_body=flow_body())
    assert reply.status == 201, reply.text
    assert (reply.data["flowName"], reply.data["isActive"], reply.data["version"]) == ("Welcome New Customer", False, 1)
    flow = client.get(f"/flows/{reply.data['flowId']}").data
    assert flow["steps"][0]["content"]["text"] == "Xin chào {{customer.name}}!"
    assert flow["trigger"]["keywords"] == ["hi", "xin chào"]
    assert flow["stepCount"] == 7
    listed = client.get("/flows", query={"shopId": SHOP})
    [summary] = listed.data["flows"]
    assert summary["stats"] == {"executionCount": 0, "completionRate": None, "averageSteps": None, "fallbackRate": None}
    assert "steps" not in summary
    assert listed.json["pagination"]["total"] == 1


def test_a_duplicate_name_is_409_whatever_its_case_and_accents(client: ApiClient) -> None:
    create(client)
    again = client.post("/flows", json_body=flow_body(flowName="WELCOME new customer"))
    assert (again.status, again.code, again.field) == (409, "FLOW_NAME_TAKEN", "flowName")


def test_a_put_makes_a_new_version_and_keeps_the_old_one(client: ApiClient) -> None:
    flow_id = create(client)
    steps = flow_body()["steps"]
    steps[0]["content"]["text"] = "Chào bạn!"
    changed = client.put(f"/flows/{flow_id}", json_body={"steps": steps})
    assert changed.status == 200, changed.text
    assert changed.data["version"] == 2
    assert client.get(f"/flows/{flow_id}").data["steps"][0]["content"]["text"] == "Chào bạn!"
    old = flow_store.get_version(get_table(), flow_id, 1)
    assert old is not None
    assert old["steps"][0]["content"]["text"] == "Xin chào {{customer.name}}!"


def test_activation_claims_keywords_and_a_second_flow_with_one_of_them_is_409_naming_the_first(
    client: ApiClient,
) -> None:
    first = create(client)
    assert client.post(f"/flows/{first}/activate").data["isActive"] is True
    index = flow_store.automation_index(get_table(), SHOP)
    assert index[first]["trigger"]["keywords"] == ["hi", "xin chào"]
    second = create(
        client, flowName="Another", trigger={"type": "keyword", "keywords": ["Xin Chao"], "match": "contains"}
    )
    refused = client.post(f"/flows/{second}/activate")
    assert (refused.status, refused.code, refused.field) == (409, "TRIGGER_CLAIMED", "trigger")
    assert "Welcome New Customer" in refused.json["error"]
    assert client.get(f"/flows/{second}").data["isActive"] is False
    # Deactivating the first frees the keyword.
    assert client.post(f"/flows/{first}/deactivate").data["isActive"] is False
    assert first not in flow_store.automation_index(get_table(), SHOP)
    assert client.post(f"/flows/{second}/activate").status == 200
    assert client.get("/flows", query={"shopId": SHOP, "isActive": "true"}).data["totalCount"] == 1


def test_a_put_on_an_active_flow_moves_its_claims(client: ApiClient) -> None:
    flow_id = create(client)
    client.post(f"/flows/{flow_id}/activate")
    changed = client.put(f"/flows/{flow_id}", json_body={"trigger": {"type": "keyword", "keywords": ["menu"]}})
    assert changed.status == 200, changed.text
    other = create(client, flowName="Greeting", trigger={"type": "keyword", "keywords": ["hi"]})
    assert client.post(f"/flows/{other}/activate").status == 200  # "hi" is free again
    assert flow_store.automation_index(get_table(), SHOP)[flow_id]["trigger"]["keywords"] == ["menu"]


def test_only_an_inactive_flow_is_deleted(client: ApiClient) -> None:
    flow_id = create(client)
    client.post(f"/flows/{flow_id}/activate")
    refused = client.delete(f"/flows/{flow_id}")
    assert (refused.status, refused.code) == (409, "FLOW_IS_ACTIVE")
    client.post(f"/flows/{flow_id}/deactivate")
    assert client.delete(f"/flows/{flow_id}").status == 200
    assert client.get(f"/flows/{flow_id}").code == "FLOW_NOT_FOUND"
    create(client)  # the name is free again


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PUT", "", {"flowName": "stolen"}),
        ("DELETE", "", None),
        ("POST", "/activate", None),
        ("POST", "/deactivate", None),
    ],
)
def test_another_shops_flow_is_not_found_and_untouched(client: ApiClient, method: str, suffix: str, body) -> None:
    flow_id = create(client)
    before = client.get(f"/flows/{flow_id}").data
    reply = client.request(method, f"/flows/{flow_id}{suffix}", json_body=body, token=make_token([OTHER]))
    assert (reply.status, reply.code, reply.field) == (404, "FLOW_NOT_FOUND", "flowId"), reply.text
    assert client.get(f"/flows/{flow_id}").data == before


def test_an_invalid_flow_is_422_naming_the_path(client: ApiClient) -> None:
    steps = flow_body()["steps"]
    steps[2]["else"] = "nowhere"
    reply = client.post("/flows", json_body=flow_body(steps=steps))
    assert (reply.status, reply.field) == (422, "steps[2].else"), reply.text
