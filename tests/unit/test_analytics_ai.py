"""GET /analytics/ai and the AI counters behind it (issue 13, item 4): AI turns settling in, exact replies,
handoffs by reason, tokens and estimated cost out — per day in the shop's time zone, per agent and in
total; a redelivered batch or a re-settled turn counted once; every bad parameter 400 naming it; another
shop's token refused; and the real path: a customer's message answered by the agent through the OpenAI
simulator, the table's stream drained into the counters, the endpoint reporting it."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any

import pytest

from local.stream_events import change
from mkt_whatsapp.analytics import counting
from mkt_whatsapp.store import get_table, keys
from tests.support import ApiClient, make_token

_IDS = itertools.count(1)


def turn(
    shop: str,
    agent: str | None,
    settled_at: str,
    status: str,
    *,
    reason: str | None = None,
    tokens: tuple[int, int] | None = None,
    cost: float | None = None,
) -> list[dict[str, Any]]:
    """An AI turn as the responder writes it: claimed (INSERT), its completion kept (MODIFY, if the
    provider was asked: ``tokens``), settled (MODIFY)."""
    conversation = f"conv-{next(_IDS)}"
    claimed: dict[str, Any] = {
        "PK": f"AIREPLY#{conversation}",
        "SK": "TURN#2026-01-18T00:00:00Z",
        "status": "claimed",
        "claimedAt": settled_at,
        "messageId": f"m-{conversation}",
    }
    records = [change("INSERT", claimed)]
    if tokens is not None:
        completion = {
            "text": "Dạ có ạ",
            "model": "gpt-4o-mini",
            "promptTokens": tokens[0],
            "completionTokens": tokens[1],
            "totalTokens": sum(tokens),
            "estimatedCost": cost,
            "latencyMs": 120,
        }
        kept = {**claimed, "completion": completion}
        records.append(change("MODIFY", kept, claimed))
        claimed = kept
    outcome: dict[str, Any] = {"reason": reason, "message": None} if reason else {"messageId": "wamid.x"}
    settled = {**claimed, "status": status, "outcome": outcome, "shopId": shop, "settledAt": settled_at}
    if agent:
        settled["agentId"] = agent
    records.append(change("MODIFY", settled, claimed))
    return records


def counters(shop: str, sk: str) -> dict[str, Any]:
    return get_table().get(keys.stats_pk(shop), sk) or {}


# --- counting ------------------------------------------------------------------------------------------


def test_settled_turns_count_replies_handoffs_tokens_and_cost_per_agent_once(aws: Any) -> None:
    answered = turn("shop-a", "ag-1", "2026-01-18T10:05:00Z", "answered", tokens=(1200, 80), cost=0.000228)
    batch = [
        *answered,
        *turn("shop-a", "ag-1", "2026-01-18T10:20:00Z", "handed_off", reason="keyword"),  # the provider not asked
        *turn("shop-a", "ag-2", "2026-01-18T10:30:00Z", "handed_off", reason="model", tokens=(900, 15), cost=0.0001445),
        *turn("shop-a", None, "2026-01-18T10:40:00Z", "superseded"),  # no agent: nothing to count
        *turn("shop-b", "ag-9", "2026-01-18T10:50:00Z", "answered", tokens=(10, 5), cost=None),  # unpriced
    ]
    settled = answered[-1]["dynamodb"]
    resettled = change(  # a late duplicate settling an answered turn again: it was settled already
        "MODIFY",
        {**counting._image(answered[-1], "NewImage"), "status": "handed_off", "outcome": {"reason": "send_failed"}},
        counting._image({"dynamodb": settled}, "NewImage"),
    )
    first = counting.count_records([*batch, resettled])
    assert first["counted"] == 4
    assert counting.count_records([*batch, resettled]) == {**first, "skipped": first["chunks"]}  # delivered again

    hour = counters("shop-a", "H#2026-01-18T10")
    day = counters("shop-a", "D#2026-01-18")
    ai = {name: int(value) for name, value in day.items() if "ai" in name}
    assert ai == {
        "aiReplies": 1,
        "aiHandoffs": 2,
        "aiHandoffs#keyword": 1,
        "aiHandoffs#model": 1,
        "aiPromptTokens": 2100,
        "aiCompletionTokens": 95,
        "aiCostMicros": 228 + 145,  # 144.5 rounded half up
        "agent#ag-1#aiReplies": 1,
        "agent#ag-1#aiPromptTokens": 1200,
        "agent#ag-1#aiCompletionTokens": 80,
        "agent#ag-1#aiCostMicros": 228,
        "agent#ag-1#aiHandoffs": 1,
        "agent#ag-1#aiHandoffs#keyword": 1,
        "agent#ag-2#aiHandoffs": 1,
        "agent#ag-2#aiHandoffs#model": 1,
        "agent#ag-2#aiPromptTokens": 900,
        "agent#ag-2#aiCompletionTokens": 15,
        "agent#ag-2#aiCostMicros": 145,
    }
    assert {name: int(value) for name, value in hour.items() if "ai" in name} == ai
    other = counters("shop-b", "D#2026-01-18")
    assert (other["aiReplies"], other["aiPromptTokens"], other["aiCostMicros"]) == (1, 10, 0)


def test_a_turn_counts_on_the_change_that_settles_it_in_whichever_batch(aws: Any) -> None:
    claimed, kept, settled = turn("shop-c", "ag-1", "2026-01-18T23:59:59Z", "answered", tokens=(7, 3), cost=0.5)
    assert counting.count_records([claimed, kept]) == {"records": 2, "counted": 0, "chunks": 0, "skipped": 0}
    assert counting.count_records([settled])["counted"] == 1
    again = change(  # the same turn touched after it settled (a retried job's write): nothing more
        "MODIFY", counting._image(settled, "NewImage"), counting._image(settled, "NewImage")
    )
    assert counting.count_records([again])["counted"] == 0
    assert counters("shop-c", "D#2026-01-18")["aiCostMicros"] == 500_000
    assert counting.counts_of(settled)[0] == ("shop-c", "2026-01-18T23", "aiReplies", 1)


# --- the endpoint --------------------------------------------------------------------------------------


@pytest.fixture
def shop(api: ApiClient, aws: Any, shop_ids: Any) -> dict[str, Any]:
    api.token = make_token([shop_ids.shop_id])
    return {"api": api, "shop_id": shop_ids.shop_id}


def ai_stats(shop: dict[str, Any], **query: str) -> Any:
    return shop["api"].get("/analytics/ai", query={"shopId": shop["shop_id"], **query})


def traffic(shop_id: str) -> None:
    """Vietnam is UTC+7: 16:30 UTC on the 18th is the 18th there, 17:30 UTC the 19th."""
    get_table().put(
        {"PK": keys.agent_pk("ag-lan"), "SK": keys.AGENT_SK, "agentId": "ag-lan", "shopId": shop_id, "name": "Lan"}
    )
    counting.count_records(
        [
            *turn(shop_id, "ag-lan", "2026-01-18T16:30:00Z", "answered", tokens=(1000, 100), cost=0.00021),
            *turn(shop_id, "ag-lan", "2026-01-18T17:30:00Z", "answered", tokens=(2000, 50), cost=0.00033),
            *turn(shop_id, "ag-lan", "2026-01-18T17:45:00Z", "handed_off", reason="max_turns"),
            *turn(shop_id, "ag-gone", "2026-01-18T18:00:00Z", "handed_off", reason="provider_error"),
        ]
    )


def test_days_in_the_shops_time_zone_per_agent_and_in_total(shop: dict[str, Any]) -> None:
    traffic(shop["shop_id"])
    reply = ai_stats(shop, startDate="2026-01-17", endDate="2026-01-20", timezone="Asia/Ho_Chi_Minh")
    assert reply.status == 200, reply.text
    zero = {"total": 0, "byReason": {}}
    days = [
        (m["date"], m["replies"], m["handoffs"], m["promptTokens"], m["completionTokens"], m["estimatedCostUsd"])
        for m in reply.data["metrics"]
    ]
    assert days == [
        ("2026-01-17", 0, zero, 0, 0, 0.0),
        ("2026-01-18", 1, zero, 1000, 100, 0.00021),
        ("2026-01-19", 1, {"total": 2, "byReason": {"max_turns": 1, "provider_error": 1}}, 2000, 50, 0.00033),
        ("2026-01-20", 0, zero, 0, 0, 0.0),
    ]
    assert reply.data["summary"] == {
        "replies": 2,
        "handoffs": {"total": 2, "byReason": {"max_turns": 1, "provider_error": 1}},
        "promptTokens": 3000,
        "completionTokens": 150,
        "estimatedCostUsd": 0.00054,
    }
    assert reply.data["agents"] == [
        {
            "agentId": "ag-gone",
            "name": None,  # deleted since
            "replies": 0,
            "handoffs": {"total": 1, "byReason": {"provider_error": 1}},
            "promptTokens": 0,
            "completionTokens": 0,
            "estimatedCostUsd": 0.0,
        },
        {
            "agentId": "ag-lan",
            "name": "Lan",
            "replies": 2,
            "handoffs": {"total": 1, "byReason": {"max_turns": 1}},
            "promptTokens": 3000,
            "completionTokens": 150,
            "estimatedCostUsd": 0.00054,
        },
    ]
    utc = ai_stats(shop, startDate="2026-01-17", endDate="2026-01-20")
    assert [m["replies"] for m in utc.data["metrics"]] == [0, 2, 0, 0]  # all on the 18th in UTC
    assert (utc.data["startDate"], utc.data["endDate"], utc.data["timezone"]) == ("2026-01-17", "2026-01-20", "UTC")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"startDate": "18/01/2026"}, "startDate"),
        ({"endDate": "2026-13-01"}, "endDate"),
        ({"startDate": "2026-02-01", "endDate": "2026-01-01"}, "endDate"),
        ({"startDate": "2025-01-01", "endDate": "2026-01-18"}, "endDate"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "Asia/Kolkata"}, "timezone"),
    ],
)
def test_every_bad_parameter_is_400_naming_it(shop: dict[str, Any], query: dict[str, str], field: str) -> None:
    reply = ai_stats(shop, **query)
    assert reply.status == 400, reply.text
    assert reply.field == field


def test_a_missing_shop_is_400_and_another_shops_token_is_403(shop: dict[str, Any]) -> None:
    traffic(shop["shop_id"])
    missing = shop["api"].get("/analytics/ai")
    assert (missing.status, missing.field) == (400, "shopId"), missing.text
    shop["api"].token = make_token(["another-shop"])
    refused = ai_stats(shop)
    assert refused.status == 403, refused.text
    assert "ag-lan" not in refused.text


# --- the real path -------------------------------------------------------------------------------------


@pytest.fixture
def live(
    api: ApiClient, aws: Any, graph: Any, openai: Any, monkeypatch: pytest.MonkeyPatch, shop_ids: Any
) -> Iterator[dict[str, Any]]:
    """The shop of tests/unit/test_ai_replies.py: connected, its agent Lan active, the OpenAI simulator."""
    from mkt_whatsapp.ai import provider
    from tests.unit.test_ai_replies import open_shop

    yield open_shop(api, aws, graph, openai, monkeypatch, shop_ids)
    provider.reset()


def test_an_ai_reply_and_a_handoff_through_the_real_path_are_reported(live: dict[str, Any]) -> None:
    from datetime import UTC, datetime

    from tests.support import drain_stats
    from tests.unit.test_ai_replies import customer_says, drain_ai

    drain_stats(live["aws"])
    customer_says(live, "shop co giao hang toan quoc khong?")
    assert drain_ai(live) == 1
    # A turn is named by its second (Meta's timestamps): with no debounce here, the next message must come
    # in a later second to be a turn of its own (in production the 3 s debounce answers a burst at once).
    time.sleep(1.05 - time.time() % 1)
    customer_says(live, "cho minh gap nhan vien")  # a handoff keyword: the provider is not asked
    assert drain_ai(live) == 1
    assert drain_stats(live["aws"]) > 0
    assert drain_stats(live["aws"]) == 0

    today = datetime.now(UTC).date().isoformat()
    reply = live["api"].get("/analytics/ai", query={"shopId": live["shop_id"], "startDate": today, "endDate": today})
    assert reply.status == 200, reply.text
    summary = reply.data["summary"]
    spend = get_table().get(keys.shop_pk(live["shop_id"]), keys.ai_spend_sk(today[:7])) or {}
    assert summary["replies"] == 1
    assert summary["handoffs"] == {"total": 1, "byReason": {"keyword": 1}}
    assert summary["promptTokens"] == int(spend["promptTokens"]) > 0
    assert summary["completionTokens"] == int(spend["completionTokens"]) > 0
    assert summary["estimatedCostUsd"] == round(float(spend.get("costUsd", 0)), 6)
    [agent] = reply.data["agents"]
    assert (agent["agentId"], agent["name"], agent["replies"]) == (live["agentId"], "Lan", 1)
    assert {name: value for name, value in agent.items() if name not in ("agentId", "name")} == summary
    assert [m["date"] for m in reply.data["metrics"]] == [today]
