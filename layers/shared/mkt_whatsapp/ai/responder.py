"""The AI responder: answers a customer's turn with the shop's active agent, or hands the conversation
to a human. Called by the AI queue's Lambda (functions/ai_responder) and by a flow's ``ai_reply`` step;
it takes its inputs as arguments and returns ``answered``, ``handed_off`` or why it did nothing.

**One answer per turn, once.** A job names the turn it was made for (the conversation's
``lastInboundAt`` when the customer's message was stored). If the customer wrote again since, a newer
job answers the whole burst and this one stops (``superseded``): three messages within the debounce get
one answer that reads all three. The turn is claimed with a conditional write; the provider's answer is
kept on the claim before anything is sent, so a retried job reuses it (the provider is paid once) and
the send is idempotent on the turn (Powertools idempotency: never sent twice).

**Handoff** — send ``handoff.message`` (when the outbound rules allow it), stop AI on the conversation
and flag it ``needsHuman`` with the reason — when: the customer's turn matches a ``handoff.keywords``
entry (folded: case and Vietnamese diacritics ignored); the agent has made ``handoff.maxTurns`` replies
in the conversation; the shop's AI spend this month reached the agent's ``monthlyBudgetUsd``; the turn
has no text the model could read (a photo, a location); the model called ``handoff_to_human``; the
provider failed or timed out (after its bounded retries) or is not configured; or the outbound rules or
Meta refused the answer. A customer's message is never left unanswered and unflagged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger

from mkt_whatsapp.ai import replies
from mkt_whatsapp.ai.intake import ai_may_answer
from mkt_whatsapp.ai.knowledge import CustomerContext, Role, Turn
from mkt_whatsapp.core import metric_names
from mkt_whatsapp.core.clock import iso, now_iso
from mkt_whatsapp.core.errors import ApiError, BusinessRuleViolation
from mkt_whatsapp.core.observability import record_metric
from mkt_whatsapp.core.text import fold
from mkt_whatsapp.messaging import send as messaging
from mkt_whatsapp.store import ai_agents as agent_store
from mkt_whatsapp.store import ai_replies, get_table, keys
from mkt_whatsapp.store import customers as customer_store
from mkt_whatsapp.store import messages as message_store
from mkt_whatsapp.store.table import Item
from mkt_whatsapp.whatsapp.inbound_content import readable_text

logger = Logger(child=True)

HISTORY_MESSAGES = 30
CLAIM_STALE_AFTER = timedelta(seconds=180)  # longer than the responder's timeout (90 s)
MAX_TEXT = 4096


class TurnBusy(Exception):
    """Another attempt holds this turn's claim: retry the job later."""


@dataclass(frozen=True, slots=True)
class Job:
    shop_id: str
    conversation_id: str
    message_id: str
    agent_id: str
    turn_at: str
    # A flow's ai_reply step: the turn is this one message (``message_id``), whatever else arrived within
    # the same second (Meta's timestamps are whole seconds, so ``turn_at`` alone cannot tell them apart).
    only_message: bool = False

    @classmethod
    def from_wire(cls, body: dict[str, Any]) -> Job:
        return cls(
            shop_id=str(body["shopId"]),
            conversation_id=str(body["conversationId"]),
            message_id=str(body["messageId"]),
            agent_id=str(body.get("agentId", "")),
            turn_at=str(body["turnAt"]),
        )


def _turns(recent: list[Item], since: str | None) -> tuple[list[Turn], list[str]]:
    """The conversation as the model sees it (chronological) and the customer's latest turn: the texts
    ("" for a message without text) of the inbound messages after the turn the AI last answered
    (``since``, the conversation's ``aiLastTurnAt``) — by Meta's timestamps, not by where our replies sort
    among them — or, before any AI turn, after the last outbound message."""
    turns: list[Turn] = []
    for message in reversed(recent):
        text = readable_text(message.get("content") or {})
        if not text:
            continue
        role: Role = "user" if message.get("direction") == "inbound" else "assistant"
        turns.append(Turn(role=role, content=text))
    latest: list[str] = []
    for message in recent:  # newest first
        inbound = message.get("direction") == "inbound"
        if since is None and not inbound:
            break
        if inbound and (since is None or str(message.get("timestamp", "")) > since):
            latest.append(readable_text(message.get("content") or {}) or "")
    return turns, list(reversed(latest))


def _matches_keyword(texts: list[str], keywords: list[str]) -> str | None:
    folded = [fold(text) for text in texts]
    for keyword in keywords:
        needle = fold(keyword)
        if needle and any(needle in text for text in folded):
            return keyword
    return None


def _customer(shop_id: str, conversation: Item) -> CustomerContext:
    item = customer_store.get(get_table(), shop_id, str(conversation["customerKey"])) or {}
    return CustomerContext(
        name=item.get("name") or conversation.get("customerName"),
        tags=tuple(item.get("tags", [])),
        custom_fields={str(k): str(v) for k, v in (item.get("customFields") or {}).items()},
    )


def respond(job: Job, *, deadline: float | None, pinned: bool = False) -> str:
    """Answer the job's turn (see the module): ``answered``, ``handed_off``, ``superseded``, ``done``
    (settled before) or ``skipped`` (a human or a handoff holds the conversation, or no agent is active).
    ``pinned``: answer with the job's agent (a flow's ``ai_reply`` step names one of the shop's agents),
    not with the shop's active agent."""
    table = get_table()
    conversation = table.get(keys.conversation_pk(job.conversation_id), keys.CONVERSATION_SK, consistent=True)
    if conversation is None or conversation.get("shopId") != job.shop_id or not ai_may_answer(conversation):
        return "skipped"
    if str(conversation.get("lastInboundAt", "")) > job.turn_at:
        return "superseded"
    turn = ai_replies.get_turn(table, job.conversation_id, job.turn_at)
    if turn is not None and turn.get("status") in (ai_replies.ANSWERED, ai_replies.HANDED_OFF):
        return "done"
    now = now_iso()
    stale_before = iso(datetime.now(UTC) - CLAIM_STALE_AFTER)
    if not ai_replies.claim_turn(table, job.conversation_id, job.turn_at, job.message_id, now, stale_before):
        raise TurnBusy(f"turn {job.turn_at} of {job.conversation_id} is being answered")
    agent_id = job.agent_id if pinned else agent_store.active_agent_id(table, job.shop_id, consistent=True)
    agent = agent_store.get_agent(table, agent_id, consistent=True) if agent_id else None
    if agent is not None and agent.get("shopId") != job.shop_id:
        agent = None
    if agent is None:
        ai_replies.settle_turn(
            table,
            job.conversation_id,
            job.turn_at,
            ai_replies.SUPERSEDED,
            {"why": "no agent"},
            shop_id=job.shop_id,
            agent_id=None,
            at=now_iso(),
        )
        return "skipped"
    return _answer(job, conversation, agent, turn or {}, deadline)


def _answer(job: Job, conversation: Item, agent: Item, turn: Item, deadline: float | None) -> str:
    table = get_table()
    handoff = agent.get("handoff") or {}
    recent = message_store.recent_in_conversation(table, job.conversation_id, HISTORY_MESSAGES, None)
    if job.only_message:
        # The message answered is the customer's latest turn, whatever sorts after it within its second.
        recent.sort(key=lambda m: m.get("id") != job.message_id)
    turns, latest = _turns(recent, conversation.get("aiLastTurnAt"))
    if job.only_message:
        latest = [readable_text(m.get("content") or {}) or "" for m in recent if m.get("id") == job.message_id]
    keyword = _matches_keyword(latest, list(handoff.get("keywords") or []))
    if keyword is not None:
        return hand_off(job, conversation, agent, "keyword", keyword, deadline)
    if int(conversation.get("aiTurns", 0)) >= int(handoff.get("maxTurns", 10)):
        return hand_off(job, conversation, agent, "max_turns", str(handoff.get("maxTurns", 10)), deadline)
    budget = agent.get("monthlyBudgetUsd")
    month = now_iso()[:7]
    if budget is not None and ai_replies.month_spend(table, job.shop_id, month) >= float(budget):
        return hand_off(job, conversation, agent, "budget", f"{budget} USD this month", deadline)
    if not any(latest) or not turns:
        return hand_off(job, conversation, agent, "unsupported_message", "no text to answer", deadline)

    completion = turn.get("completion")
    if completion is None:
        try:
            made = replies.complete(agent, _customer(job.shop_id, conversation), turns)
        except ApiError as failure:  # ProviderFailed, ProviderNotConfigured
            record_metric(metric_names.AI_CALLS, outcome="error")
            logger.warning("AI provider failed; handing off", extra={"code": failure.code})
            return hand_off(job, conversation, agent, "provider_error", failure.code, deadline)
        completion = {
            "text": made.text,
            "handoffReason": made.handoff_reason,
            "model": made.model,
            "promptTokens": made.prompt_tokens,
            "completionTokens": made.completion_tokens,
            "totalTokens": made.total_tokens,
            "estimatedCost": made.estimated_cost,
            "latencyMs": made.latency_ms,
        }
        ai_replies.keep_completion(table, job.conversation_id, job.turn_at, completion)
        ai_replies.add_spend(table, job.shop_id, month, made.estimated_cost, made.prompt_tokens, made.completion_tokens)
        record_metric(metric_names.AI_CALLS, outcome="ok")
        record_metric(metric_names.AI_PROMPT_TOKENS, made.prompt_tokens or 0)
        record_metric(metric_names.AI_COMPLETION_TOKENS, made.completion_tokens or 0)
        record_metric(metric_names.AI_COST, float(made.estimated_cost or 0))
    if completion.get("handoffReason") is not None or not completion.get("text"):
        reason = str(completion.get("handoffReason") or "empty answer")
        return hand_off(job, conversation, agent, "model", reason, deadline)

    annotations = {
        "ai": {
            "agentId": agent["agentId"],
            "model": completion.get("model") or agent["model"],
            "tokensUsed": {
                "prompt": completion.get("promptTokens"),
                "completion": completion.get("completionTokens"),
                "total": completion.get("totalTokens"),
            },
            "estimatedCost": completion.get("estimatedCost"),
            "latencyMs": completion.get("latencyMs"),
        }
    }
    try:
        _status, sent = _send_text(
            job, conversation, agent, str(completion["text"]), f"ai:{job.turn_at}", deadline, annotations
        )
    except BusinessRuleViolation as refused:
        return hand_off(job, conversation, agent, "outbound_refused", refused.code, deadline)
    if sent.get("status") == "failed":
        return hand_off(job, conversation, agent, "send_failed", str(sent.get("errors") or ""), deadline)
    ai_replies.count_ai_reply(table, job.conversation_id, job.turn_at)
    ai_replies.settle_turn(
        table,
        job.conversation_id,
        job.turn_at,
        ai_replies.ANSWERED,
        {"messageId": sent.get("messageId")},
        shop_id=job.shop_id,
        agent_id=str(agent["agentId"]),
        at=now_iso(),
    )
    return "answered"


def _send_text(
    job: Job,
    conversation: Item,
    agent: Item,
    text: str,
    key: str,
    deadline: float | None,
    annotations: dict[str, Any] | None = None,
) -> tuple[int, dict[str, Any]]:
    from mkt_whatsapp.whatsapp.outbound_content import SendMessageRequest

    request = SendMessageRequest.model_validate({"content": {"type": "text", "text": text[:MAX_TEXT]}})
    return messaging.send_once(
        job.shop_id,
        conversation,
        request,
        f"{key}:{job.conversation_id}",
        actor=f"ai:{agent['agentId']}",
        deadline=deadline,
        annotations=annotations,
    )


def hand_off(job: Job, conversation: Item, agent: Item, reason: str, detail: str | None, deadline: float | None) -> str:
    """Send the agent's handoff message (if the outbound rules allow it), stop AI on the conversation and
    flag it for humans; the turn is settled ``handed_off``."""
    table = get_table()
    text = ((agent.get("handoff") or {}).get("message") or {}).get("text")
    sent: str | None = None
    if text:
        try:
            _status, answer = _send_text(job, conversation, agent, str(text), f"handoff:{job.turn_at}", deadline)
            sent = str(answer.get("status"))
        except BusinessRuleViolation as refused:
            sent = f"refused: {refused.code}"
    ai_replies.hand_off(table, job.conversation_id, reason, detail, now_iso(), str(agent["agentId"]))
    record_metric(metric_names.AI_HANDOFFS, reason=reason)
    ai_replies.settle_turn(
        table,
        job.conversation_id,
        job.turn_at,
        ai_replies.HANDED_OFF,
        {"reason": reason, "message": sent},
        shop_id=job.shop_id,
        agent_id=str(agent["agentId"]),
        at=now_iso(),
    )
    logger.info(
        "AI handed the conversation to a human", extra={"reason": reason, "conversationId": job.conversation_id}
    )
    return "handed_off"
