"""docs/ai-agents.md's complete agent is a real one: it is created, read back and answers a test."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.support import ApiClient, make_token

DOC = Path(__file__).resolve().parents[2] / "docs" / "ai-agents.md"


def documented_agent() -> dict:
    [block] = re.findall(r"## A complete agent.*?```json\n(.*?)\n```", DOC.read_text(), flags=re.S)
    return json.loads(block)


def test_the_documented_agent_is_accepted_whole(api: ApiClient) -> None:
    agent = documented_agent()
    api.token = make_token([agent["shopId"]])
    created = api.post("/ai-agents", json_body=agent)
    assert created.status == 201, created.text
    stored = api.get(f"/ai-agents/{created.data['agentId']}").data
    for field in ("name", "model", "personality", "instructions", "language", "knowledgeBase", "monthlyBudgetUsd"):
        assert stored[field] == agent[field]
    assert [p["sku"] for p in stored["products"]] == [p["sku"] for p in agent["products"]]
    assert stored["business"]["shopName"] == "Điện Máy ABC"


def test_the_readme_agent_is_the_documented_one() -> None:
    readme_agent = json.loads((DOC.parents[1] / "events" / "ai-agent.json").read_text())
    assert readme_agent == {**documented_agent(), "shopId": "shop-2"}
