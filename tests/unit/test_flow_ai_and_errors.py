"""Flows (issue 12): the ``ai_reply`` step answering through the AI agents' reply path and handing off;
a step that fails ending the execution as an error with the conversation flagged for a human; what an
``ask`` accepts for each ``expect``."""

from __future__ import annotations

from typing import Any

import pytest

from local.openai_simulator import OpenAISimulator
from tests.support import reset_caches
from tests.unit.flow_helpers import (
    conversation_of,
    create_flow,
    ended,
    says,
    stored_conversation,
    texts_reach,
    wait_for,
    waiting,
)


def text(body: str) -> dict[str, Any]:
    return {"type": "text", "text": body}


@pytest.fixture
def shop(connected_shop: dict[str, Any], ai_provider: OpenAISimulator) -> dict[str, Any]:
    return {**connected_shop, "openai": ai_provider}


def agent(shop: dict[str, Any]) -> str:
    created = shop["api"].post(
        "/ai-agents",
        json_body={
            "shopId": shop["shop_id"],
            "name": "Lan",
            "model": "gpt-4o-mini",
            "language": "vi",
            "knowledgeBase": [
                {"question": "Có giao hàng toàn quốc không?", "answer": "Dạ có, shop giao toàn quốc trong 2–4 ngày."}
            ],
            "handoff": {
                "keywords": ["nhân viên"],
                "maxTurns": 10,
                "message": text("Mình chuyển bạn sang nhân viên nhé."),
            },
        },
    )
    assert created.status == 201, created.text
    return str(created.data["agentId"])  # not activated: the flow's step names it


def test_an_ai_step_answers_each_turn_then_hands_off_as_a_fallback(shop: dict[str, Any]) -> None:
    agent_id = agent(shop)
    flow_id = create_flow(
        shop["api"],
        {
            "shopId": shop["shop_id"],
            "flowName": "Ad offer",
            "trigger": {"type": "keyword", "keywords": ["giao hàng"], "match": "contains"},
            "steps": [
                {"id": "ai", "type": "ai_reply", "aiAgentId": agent_id, "maxTurns": 5, "next": "bye"},
                {"id": "bye", "type": "send_message", "content": text("Tạm biệt"), "next": None},
            ],
        },
    )
    says(shop, "Có giao hàng toàn quốc không?")  # the trigger is answered at once: the flow got here from it
    assert texts_reach(shop, 1) == ["Dạ có, shop giao toàn quốc trong 2–4 ngày."]
    conversation_id = conversation_of(shop)["id"]
    wait_for(lambda: waiting(conversation_id))
    says(shop, "Cho mình gặp nhân viên")
    assert texts_reach(shop, 2)[1] == "Mình chuyển bạn sang nhân viên nhé."
    [run] = ended(flow_id)
    assert (run["outcome"], run["reason"]) == ("fallback", "ai_handoff")
    conversation = stored_conversation(conversation_id)
    assert conversation["needsHuman"] is True
    assert conversation["handoff"]["reason"] == "keyword"


def test_an_ai_step_goes_on_after_max_turns(shop: dict[str, Any]) -> None:
    agent_id = agent(shop)
    flow_id = create_flow(
        shop["api"],
        {
            "shopId": shop["shop_id"],
            "flowName": "Two turns",
            "trigger": {"type": "any_message"},
            "steps": [
                {"id": "ai", "type": "ai_reply", "aiAgentId": agent_id, "maxTurns": 2, "next": "bye"},
                {"id": "bye", "type": "send_message", "content": text("Cảm ơn bạn đã hỏi!"), "next": None},
            ],
        },
    )
    says(shop, "Có giao hàng toàn quốc không?")
    texts_reach(shop, 1)
    conversation_id = conversation_of(shop)["id"]
    wait_for(lambda: waiting(conversation_id))
    says(shop, "Giao hàng mất mấy ngày?")
    texts = texts_reach(shop, 3)
    assert texts[2] == "Cảm ơn bạn đã hỏi!"
    [run] = ended(flow_id)
    assert run["outcome"] == "completed"
    assert len(shop["openai"].state.requests) == 2


def test_a_step_that_fails_ends_the_execution_as_an_error_flagged_for_a_human(shop: dict[str, Any]) -> None:
    flow_id = create_flow(
        shop["api"],
        {
            "shopId": shop["shop_id"],
            "flowName": "Echo twice",
            "trigger": {"type": "any_message"},
            "steps": [
                # The rendered text is twice the customer's: over WhatsApp's 4,096 characters for a long one.
                {
                    "id": "echo",
                    "type": "send_message",
                    "content": text("{{message.text}}{{message.text}}"),
                    "next": None,
                }
            ],
        },
    )
    says(shop, "a" * 3000)
    [run] = ended(flow_id)
    assert run["outcome"] == "error"
    assert run["reason"] == "StepFailed: step echo: the rendered message is not valid (1 errors)"
    conversation = stored_conversation(conversation_of(shop)["id"])
    assert conversation["needsHuman"] is True
    assert "flowRun" not in conversation
    flows = shop["api"].get("/flows", query={"shopId": shop["shop_id"]}).data["flows"]
    # The steps counted are those finished before the failing invocation (here none).
    assert flows[0]["stats"] == {"executionCount": 1, "completionRate": 0.0, "averageSteps": 0.0, "fallbackRate": 1.0}


ASK = {"id": "q", "type": "ask", "content": text("?")}
BUTTONS = {
    "type": "interactive",
    "interactive": {
        "type": "button",
        "body": {"text": "Chọn"},
        "action": {"buttons": [{"id": "yes", "title": "Có ạ"}, {"id": "no", "title": "Không"}]},
    },
}


@pytest.mark.parametrize(
    ("expect", "reply", "value"),
    [
        ("any", {"text": "tùy"}, "tùy"),
        ("any", {"text": "", "type": "image"}, "image"),
        ("any", {"text": "Có ạ", "replyId": "yes"}, "yes"),
        ("number", {"text": "12"}, "12"),
        ("number", {"text": "2,5"}, "2.5"),
        ("number", {"text": "1 200"}, "1200"),
        ("number", {"text": "mười"}, None),
        ("number", {"text": "nan"}, None),
        ("email", {"text": " Hoa@Example.VN "}, "hoa@example.vn"),
        ("email", {"text": "hoa@example"}, None),
        ("phone", {"text": "+84 90 777 1234"}, "+84907771234"),
        ("phone", {"text": "090-777-1234"}, "0907771234"),
        ("phone", {"text": "12"}, None),
        ("phone", {"text": "call me"}, None),
        ("choice", {"text": "Có ạ", "replyId": "yes"}, "yes"),
        ("choice", {"text": "co a"}, "yes"),  # the title typed, accents aside
        ("choice", {"text": "NO"}, "no"),  # the id typed
        ("choice", {"text": "maybe"}, None),
        ("choice", {"text": "x", "replyId": "other"}, None),
    ],
)
def test_what_an_ask_accepts_for_each_expect(expect: str, reply: dict[str, Any], value: str | None) -> None:
    from mkt_whatsapp.flows.runner import accepted

    step = {**ASK, "expect": expect, "content": BUTTONS if expect == "choice" else ASK["content"]}
    assert accepted(step, reply) == value


@pytest.mark.parametrize(
    ("seconds", "scale", "minimum", "expected"),
    [(3600, 1, 1, 3600), (3600, 0.001, 1, 4), (60, 0.001, 1, 1), (5, 0, 0, 0)],
)
def test_waits_are_scaled_by_one_setting(seconds: int, scale: float, minimum: int, expected: int, monkeypatch) -> None:
    from mkt_whatsapp.flows.runner import scaled

    monkeypatch.setenv("FLOW_TIME_SCALE", str(scale))
    reset_caches()
    try:
        assert scaled(seconds, minimum=minimum) == expected
    finally:
        monkeypatch.undo()
        reset_caches()


def test_a_run_that_fails_once_is_retried_from_its_state_without_sending_twice(
    shop: dict[str, Any], monkeypatch
) -> None:
    from mkt_whatsapp.flows import runner

    real_tags = runner._tags
    failures = []

    def flaky_tags(*args: Any, **kwargs: Any) -> None:
        if not failures:
            failures.append(1)
            raise RuntimeError("throttled")  # after the first send, before the tag
        real_tags(*args, **kwargs)

    monkeypatch.setattr(runner, "_tags", flaky_tags)
    flow_id = create_flow(
        shop["api"],
        {
            "shopId": shop["shop_id"],
            "flowName": "Flaky",
            "trigger": {"type": "any_message"},
            "steps": [
                {"id": "hello", "type": "send_message", "content": text("Xin chào"), "next": "tag"},
                {"id": "tag", "type": "add_tags", "tags": ["greeted"], "next": "bye"},
                {"id": "bye", "type": "send_message", "content": text("Tạm biệt"), "next": None},
            ],
        },
    )
    says(shop, "hello")
    [run] = ended(flow_id)
    assert (run["outcome"], run["steps"]) == ("completed", 3)
    assert failures == [1]
    assert texts_reach(shop, 2) == ["Xin chào", "Tạm biệt"]


def test_a_message_sent_while_the_ai_answers_is_the_next_turn(shop: dict[str, Any]) -> None:
    agent_id = agent(shop)
    flow_id = create_flow(
        shop["api"],
        {
            "shopId": shop["shop_id"],
            "flowName": "Busy AI",
            "trigger": {"type": "keyword", "keywords": ["giao hàng"], "match": "contains"},
            "steps": [{"id": "ai", "type": "ai_reply", "aiAgentId": agent_id, "maxTurns": 2, "next": None}],
        },
    )
    shop["openai"].stall_next(1, 2.0)  # the first answer takes 2 s
    says(shop, "Có giao hàng toàn quốc không?")
    wait_for(lambda: shop["openai"].state.requests, what="the AI to start answering")
    says(shop, "Cho mình gặp nhân viên")  # while it answers: kept for the step's next turn
    texts = texts_reach(shop, 2)
    assert texts == ["Dạ có, shop giao toàn quốc trong 2–4 ngày.", "Mình chuyển bạn sang nhân viên nhé."]
    [run] = ended(flow_id)
    assert (run["outcome"], run["reason"]) == ("fallback", "ai_handoff")
