"""Making an AI agent's reply: the agent's profile and the ranking index of its current knowledge
version, the prompt, the provider call, the accounting. ``simulate`` answers the test endpoint (sends
nothing, records nothing); the live path (ai/responder.py) adds sending and handoff.

The ranking index is built once per (agent, knowledge version) in the warm container
(``ranking.index_for``): a reply costs the agent's GetItem, and its knowledge's Query only when the
container has not seen that version yet — read units independent of the knowledge's size when warm."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mkt_whatsapp.ai import agents
from mkt_whatsapp.ai.knowledge import CustomerContext, Turn
from mkt_whatsapp.store.table import Item, TransactionConflict

if TYPE_CHECKING:
    from mkt_whatsapp.ai.provider import Completion
    from mkt_whatsapp.ai.ranking import KnowledgeIndex
    from mkt_whatsapp.models.ai_agents import TestAgentRequest


def index_of(agent: Item) -> KnowledgeIndex:
    """The ranking index of the agent's current knowledge version (built on this container's first
    reply for that version)."""
    from mkt_whatsapp.ai import ranking

    def load() -> Any:
        return agents.knowledge_from(agents.knowledge_of(agent))

    return ranking.index_for(str(agent["agentId"]), int(agent["knowledgeVersion"]), load)


# The test endpoint answers within API Gateway's 29 s: a shorter attempt and one retry (live replies use
# the provider's defaults: 15 s and two retries, inside the responder's 90 s).
TEST_TIMEOUT_SECONDS = 10.0
TEST_RETRIES = 1


def complete(
    agent: Item,
    customer: CustomerContext,
    turns: list[Turn],
    *,
    timeout_seconds: float | None = None,
    max_retries: int | None = None,
) -> Completion:
    """One provider call for the agent as read; its knowledge version is read whole (if it was replaced
    meanwhile, the agent is read again)."""
    from mkt_whatsapp.ai import prompt, provider

    current = agent
    for _attempt in range(3):
        try:
            index = index_of(current)
            break
        except TransactionConflict:
            fresh = agents.load(str(agent["agentId"]))
            if fresh is None:
                raise agents.not_found() from None
            current = fresh
    else:
        raise TransactionConflict("the agent's knowledge kept changing while it was read")
    profile = agents.profile_of(current)
    messages = prompt.build_messages(profile, customer, turns, index)
    return provider.complete(profile, messages, timeout_seconds=timeout_seconds, max_retries=max_retries)


def usage_of(completion: Completion) -> dict[str, Any]:
    return {
        "tokensUsed": {
            "prompt": completion.prompt_tokens,
            "completion": completion.completion_tokens,
            "total": completion.total_tokens,
        },
        "estimatedCost": completion.estimated_cost,
        "latencyMs": completion.latency_ms,
    }


def simulate(shop_id: str, agent: Item, request: TestAgentRequest) -> dict[str, Any]:
    """``POST /ai-agents/{agentId}/test``: what the agent would answer; nothing is sent or recorded."""
    if agent.get("shopId") != shop_id:
        raise agents.not_found()
    context = request.customer_context
    customer = CustomerContext(name=context.name, tags=tuple(context.tags), custom_fields=dict(context.custom_fields))
    turns = [Turn(role=turn.role, content=turn.content) for turn in request.conversation_history]
    completion = complete(agent, customer, turns, timeout_seconds=TEST_TIMEOUT_SECONDS, max_retries=TEST_RETRIES)
    answer: dict[str, Any] = {"generatedResponse": completion.text, **usage_of(completion)}
    if completion.handoff_reason is not None:
        handoff = agent.get("handoff") or {}
        message = (handoff.get("message") or {}).get("text")
        answer["generatedResponse"] = completion.text or message
        answer["handoff"] = {"reason": completion.handoff_reason}
    return answer
