"""GET /analytics/automations (issue 13, item 3): every flow's executions, completion rate, average steps
and fallback rate — all time from the flow's counters, over a range from one day item per day — from
scripted executions with known outcomes; bad parameters 400 naming the field; another shop's token sees
nothing."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support import ApiClient, make_token
from tests.unit.flow_helpers import conversation_of, create_flow, ended, presses, says, wait_for, waiting


def text(body: str) -> dict[str, Any]:
    return {"type": "text", "text": body}


QUESTION = {
    "type": "interactive",
    "interactive": {
        "type": "button",
        "body": {"text": "Mua không?"},
        "action": {"buttons": [{"id": "yes", "title": "Có"}, {"id": "no", "title": "Không"}]},
    },
}
STEPS = [
    {"id": "ask", "type": "ask", "content": QUESTION, "saveAs": "c", "timeoutSeconds": 30000, "next": "route"},
    {
        "id": "route",
        "type": "condition",
        "branches": [{"if": {"left": "{{vars.c}}", "op": "equals", "right": "yes"}, "next": "thanks"}],
        "else": "human",
    },
    {"id": "thanks", "type": "send_message", "content": text("Cảm ơn!"), "next": None},
    {"id": "human", "type": "assign_agent", "agentId": None},
]


@pytest.fixture
def shop(connected_shop: dict[str, Any]) -> dict[str, Any]:
    return connected_shop


def run_once(shop: dict[str, Any], wa_id: str, button: str) -> None:
    says(shop, "hi", wa_id=wa_id)
    conversation_id = wait_for(lambda: _conversation(shop, wa_id))
    wait_for(lambda: waiting(conversation_id))
    presses(shop, button, wa_id=wa_id)


def _conversation(shop: dict[str, Any], wa_id: str) -> str | None:
    try:
        return str(conversation_of(shop, wa_id)["id"])
    except AssertionError:
        return None


def analytics(api: ApiClient, **query: str) -> Any:
    return api.get("/analytics/automations", query=query)


def test_flow_stats_all_time_and_over_a_range_match_what_ran(shop: dict[str, Any]) -> None:
    api = shop["api"]
    flow_id = create_flow(
        api,
        {
            "shopId": shop["shop_id"],
            "flowName": "Buy?",
            "trigger": {"type": "any_message"},
            "steps": copy.deepcopy(STEPS),
        },
    )
    idle = create_flow(
        api,
        {
            "shopId": shop["shop_id"],
            "flowName": "Idle",
            "trigger": {"type": "keyword", "keywords": ["never"]},
            "steps": [{"id": "s", "type": "send_message", "content": text("x"), "next": None}],
        },
    )
    run_once(shop, "84907771001", "yes")  # completed, 3 steps
    run_once(shop, "84907771002", "yes")  # completed, 3 steps
    run_once(shop, "84907771003", "no")  # else into assign_agent: a fallback, 3 steps
    ended(flow_id, 3)

    expected = {
        "flowId": flow_id,
        "flowName": "Buy?",
        "isActive": True,
        "executionCount": 3,
        "finishedCount": 3,
        "completionRate": 0.6667,
        "averageSteps": 3.0,
        "fallbackRate": 0.3333,
    }
    every = analytics(api, shopId=shop["shop_id"])
    assert every.status == 200, every.text
    by_id = {f["flowId"]: f for f in every.data["flows"]}
    assert set(by_id) == {flow_id, idle}
    assert by_id[flow_id] == expected
    assert by_id[idle]["executionCount"] == 0
    assert every.data["startDate"] is None

    today = datetime.now(UTC).date()
    ranged = analytics(
        api, shopId=shop["shop_id"], startDate=(today - timedelta(days=6)).isoformat(), endDate=today.isoformat()
    )
    assert ranged.status == 200, ranged.text
    assert next(f for f in ranged.data["flows"] if f["flowId"] == flow_id) == expected
    assert (ranged.data["startDate"], ranged.data["endDate"]) == (
        (today - timedelta(days=6)).isoformat(),
        today.isoformat(),
    )
    before = analytics(api, shopId=shop["shop_id"], startDate="2026-01-01", endDate="2026-01-31")
    quiet = next(f for f in before.data["flows"] if f["flowId"] == flow_id)
    assert quiet["executionCount"] == 0
    assert quiet["completionRate"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"startDate": "yesterday"}, "startDate"),
        ({"endDate": "2026-02-30"}, "endDate"),
        ({"startDate": "2026-03-01", "endDate": "2026-02-01"}, "endDate"),
        ({"startDate": "2025-01-01", "endDate": "2026-06-01"}, "endDate"),
    ],
)
def test_bad_parameters_are_400_naming_the_field(shop: dict[str, Any], query: dict[str, str], field: str) -> None:
    reply = analytics(shop["api"], shopId=shop["shop_id"], **query)
    assert reply.status == 400, reply.text
    assert reply.field == field


def test_a_date_time_is_read_as_the_day_it_names(shop: dict[str, Any]) -> None:
    reply = analytics(
        shop["api"], shopId=shop["shop_id"], startDate="2026-01-18T01:00:00+07:00", endDate="2026-01-19T23:30:00-02:00"
    )
    assert reply.status == 200, reply.text
    assert (reply.data["startDate"], reply.data["endDate"]) == ("2026-01-18", "2026-01-19")


def test_another_shops_token_sees_nothing(shop: dict[str, Any]) -> None:
    create_flow(
        shop["api"],
        {
            "shopId": shop["shop_id"],
            "flowName": "Mine",
            "trigger": {"type": "any_message"},
            "steps": [{"id": "s", "type": "send_message", "content": text("x"), "next": None}],
        },
    )
    shop["api"].token = make_token(["someone-else"])
    reply = analytics(shop["api"], shopId=shop["shop_id"])
    assert reply.status == 403, reply.text
