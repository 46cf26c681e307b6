"""Flows run (issue 12, items 2-5): a customer's message starts a flow through the inbound dispatcher, the
flow state machine (statemachines/flow.asl.json, executed by moto, its Lambda tasks by the in-process
step runner) sends through the outbound path to the Graph simulator, waits for replies and delays, and
every execution ends with its outcome counted."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.support import ApiClient, AwsStack, connect_shop, make_token
from tests.unit.flow_helpers import (
    conversation_of,
    create_flow,
    ended,
    presses,
    says,
    stats,
    texts_reach,
    wait_for,
    waiting,
)

BUTTONS = {
    "type": "interactive",
    "interactive": {
        "type": "button",
        "body": {"text": "Bạn cần gì?"},
        "action": {"buttons": [{"id": "buy", "title": "Mua hàng"}, {"id": "help", "title": "Hỗ trợ"}]},
    },
}


def text(body: str) -> dict[str, Any]:
    return {"type": "text", "text": body}


@pytest.fixture
def shop(api: ApiClient, aws: AwsStack, graph: Any, shop_ids: Any) -> dict[str, Any]:
    connect_shop(api)
    api.token = make_token([shop_ids.shop_id])
    graph.state.requests.clear()
    return {"api": api, "aws": aws, "graph": graph, **vars(shop_ids)}


def flow(
    shop: dict[str, Any], steps: list[dict[str, Any]], trigger: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "shopId": shop["shop_id"],
        "flowName": extra.pop("flowName", "Test flow"),
        "trigger": trigger or {"type": "keyword", "keywords": ["hi", "xin chào"]},
        "steps": copy.deepcopy(steps),
        **extra,
    }


def test_a_keyword_starts_the_flow_and_a_button_reply_continues_it(shop: dict[str, Any]) -> None:
    flow_id = create_flow(
        shop["api"],
        flow(
            shop,
            [
                {"id": "greet", "type": "send_message", "content": text("Xin chào {{customer.name}}!"), "next": "ask"},
                {
                    "id": "ask",
                    "type": "ask",
                    "content": BUTTONS,
                    "saveAs": "choice",
                    "timeoutSeconds": 3600,
                    "onTimeout": "bye",
                    "next": "route",
                },
                {
                    "id": "route",
                    "type": "condition",
                    "branches": [{"if": {"left": "{{vars.choice}}", "op": "equals", "right": "buy"}, "next": "thanks"}],
                    "else": "bye",
                },
                {"id": "thanks", "type": "send_message", "content": text("Bạn chọn {{vars.choice}}"), "next": None},
                {"id": "bye", "type": "send_message", "content": text("Tạm biệt"), "next": None},
            ],
        ),
    )
    says(shop, "Xin chao")
    assert texts_reach(shop, 2) == ["Xin chào Chị Hoa!", "Bạn cần gì?"]
    conversation_id = conversation_of(shop)["id"]
    wait_for(lambda: waiting(conversation_id), what="the question's wait")
    presses(shop, "buy", "Mua hàng")
    assert texts_reach(shop, 3)[2] == "Bạn chọn buy"
    [run] = ended(flow_id)
    assert (run["outcome"], run["steps"]) == ("completed", 4)
    assert stats(shop["api"], shop["shop_id"], flow_id) == {
        "executionCount": 1,
        "completionRate": 1.0,
        "averageSteps": 4.0,
        "fallbackRate": 0.0,
    }
