"""``GET /analytics/ai``: the AI responder's replies, handoffs (by reason), tokens and estimated cost per
day in the shop's time zone, per agent and in total — from the counters (analytics/counting.py: an AI
turn counts when it settles), never from the turns themselves.

Reads as ``GET /analytics/messages`` grouped by day (analytics/messages.py): one day item a day in UTC,
the hours of the range in another time zone. Costs are kept in millionths of a USD (exact integers) and
answered in USD.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date
from typing import Any

from mkt_whatsapp.analytics.messages import bucket_items
from mkt_whatsapp.store import ai_agents as agent_store
from mkt_whatsapp.store import get_table

AGENT_PREFIX = "agent#"
HANDOFFS = "aiHandoffs"
# Counter name -> the answer's field.
TOTALS = {
    "aiReplies": "replies",
    "aiPromptTokens": "promptTokens",
    "aiCompletionTokens": "completionTokens",
    "aiCostMicros": "costMicros",
}


class _Totals:
    def __init__(self) -> None:
        self.counts: dict[str, int] = dict.fromkeys(TOTALS, 0)
        self.handoffs = 0
        self.by_reason: dict[str, int] = defaultdict(int)

    def add(self, counter: str, value: int) -> None:
        if counter in self.counts:
            self.counts[counter] += value
        elif counter == HANDOFFS:
            self.handoffs += value
        elif counter.startswith(HANDOFFS + "#"):
            self.by_reason[counter[len(HANDOFFS) + 1 :]] += value

    def merge(self, other: _Totals) -> None:
        for name, value in other.counts.items():
            self.counts[name] += value
        self.handoffs += other.handoffs
        for reason, value in other.by_reason.items():
            self.by_reason[reason] += value

    def answer(self) -> dict[str, Any]:
        return {
            "replies": self.counts["aiReplies"],
            "handoffs": {"total": self.handoffs, "byReason": dict(sorted(self.by_reason.items()))},
            "promptTokens": self.counts["aiPromptTokens"],
            "completionTokens": self.counts["aiCompletionTokens"],
            "estimatedCostUsd": round(self.counts["aiCostMicros"] / 1_000_000, 6),
        }


_AGENT_COUNTER = re.compile(
    r"^agent#(?P<agent>.+?)#(?P<counter>(?:aiReplies|aiPromptTokens|aiCompletionTokens|aiCostMicros|aiHandoffs)(?:#.*)?)$"
)


def _split(name: str) -> tuple[str | None, str] | None:
    """``(agent, counter)`` of an AI counter's name (agent None for the shop's total); None if it is not one."""
    if name.startswith(AGENT_PREFIX):
        matched = _AGENT_COUNTER.match(name)
        return (matched["agent"], matched["counter"]) if matched else None
    if name.startswith("ai"):
        return None, name
    return None


def statistics(shop_id: str, start: date, end: date, timezone: str) -> dict[str, Any]:
    summary = _Totals()
    agents: dict[str, _Totals] = defaultdict(_Totals)
    metrics = []
    for day, items in bucket_items(shop_id, start, end, "day", timezone).items():
        totals = _Totals()
        for item in items:
            for name, value in item.items():
                split = _split(str(name))
                if split is None:
                    continue
                owner, counter = split
                (agents[owner] if owner else totals).add(counter, int(value))
        summary.merge(totals)
        metrics.append({"date": day, **totals.answer()})
    table = get_table()
    answered_agents = []
    for agent_id, totals in sorted(agents.items()):
        agent = agent_store.get_agent(table, agent_id)
        agent_name = agent.get("name") if agent and agent.get("shopId") == shop_id else None
        answered_agents.append({"agentId": agent_id, "name": agent_name, **totals.answer()})
    return {
        "metrics": metrics,
        "agents": answered_agents,
        "summary": summary.answer(),
        "startDate": start.isoformat(),
        "endDate": end.isoformat(),
        "timezone": timezone,
    }
