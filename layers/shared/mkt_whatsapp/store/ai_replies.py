"""What the AI responder writes: one item per customer turn it answers, the conversation's AI state, and
the shop's monthly AI spend (docs/data-model.md).

- ``AIREPLY#<conversation>`` / ``TURN#<lastInboundAt>``: the turn's claim and, once the provider has
  answered, the completion itself — so a retried job neither pays the provider twice nor sends twice
  (the send is idempotent on the turn too); settled with ``status``, ``outcome``, ``shopId``, ``agentId``
  and ``settledAt`` (counted by analytics/counting.py when it settles). Messages of one burst share the
  turn (their conversation's ``lastInboundAt`` when the job was made): one answer for all of them.
- The conversation: ``aiTurns`` (AI replies so far), ``aiStopped``/``needsHuman``/``handoff`` after a
  handoff.
- ``SHOP#<shop>`` / ``AI#SPEND#<yyyy-mm>``: ``costUsd``, ``promptTokens``, ``completionTokens``,
  ``replies`` (the analytics issue reads them; the budget check reads ``costUsd``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mkt_whatsapp.store import keys
from mkt_whatsapp.store.table import Item, Table

CLAIMED = "claimed"
ANSWERED = "answered"
HANDED_OFF = "handed_off"
SUPERSEDED = "superseded"


def turn_sk(turn_at: str) -> str:
    return f"TURN#{turn_at}"


def get_turn(table: Table, conversation_id: str, turn_at: str) -> Item | None:
    return table.get(keys.ai_reply_pk(conversation_id), turn_sk(turn_at), consistent=True)


def claim_turn(table: Table, conversation_id: str, turn_at: str, message_id: str, at: str, stale_before: str) -> bool:
    """Claim the turn for this attempt: it was never claimed, or its claimer stopped (claimed before
    ``stale_before`` and still unsettled). False if another attempt holds it or it is settled."""
    return (
        table.update_if(
            keys.ai_reply_pk(conversation_id),
            turn_sk(turn_at),
            "SET #status = :claimed, claimedAt = :at, messageId = :message, expiresAt = :expires",
            {
                ":claimed": CLAIMED,
                ":at": at,
                ":message": message_id,
                ":stale": stale_before,
                ":expires": _epoch_days_after(at, 30),
            },
            names={"#status": "status"},
            condition="attribute_not_exists(PK) OR (#status = :claimed AND claimedAt < :stale)",
        )
        is not None
    )


def keep_completion(table: Table, conversation_id: str, turn_at: str, completion: dict[str, Any]) -> None:
    table.update(
        keys.ai_reply_pk(conversation_id),
        turn_sk(turn_at),
        "SET completion = :completion",
        {":completion": completion},
    )


def settle_turn(
    table: Table,
    conversation_id: str,
    turn_at: str,
    outcome: str,
    detail: dict[str, Any],
    *,
    shop_id: str,
    agent_id: str | None,
    at: str,
) -> None:
    """Settle the turn with its outcome. ``shopId``, ``agentId`` and ``settledAt`` are what the analytics
    counters read from the table's stream (analytics/counting.py: a turn counts when it settles)."""
    values: dict[str, Any] = {":outcome": outcome, ":detail": detail, ":shop": shop_id, ":at": at}
    expression = "SET #status = :outcome, outcome = :detail, shopId = :shop, settledAt = :at"
    if agent_id:
        expression += ", agentId = :agent"
        values[":agent"] = agent_id
    table.update(keys.ai_reply_pk(conversation_id), turn_sk(turn_at), expression, values, names={"#status": "status"})


def count_ai_reply(table: Table, conversation_id: str, turn_at: str) -> None:
    """One more AI reply in the conversation, the last for the customer's turn ``turn_at``."""
    table.update(
        keys.conversation_pk(conversation_id),
        keys.CONVERSATION_SK,
        "SET aiLastTurnAt = :turn ADD aiTurns :one",
        {":one": 1, ":turn": turn_at},
    )


def hand_off(table: Table, conversation_id: str, reason: str, detail: str | None, at: str, agent_id: str) -> None:
    table.update(
        keys.conversation_pk(conversation_id),
        keys.CONVERSATION_SK,
        "SET aiStopped = :true, needsHuman = :true, handoff = :handoff",
        {":true": True, ":handoff": {"reason": reason, "detail": detail, "at": at, "agentId": agent_id}},
        condition="attribute_exists(PK)",
    )


def add_spend(
    table: Table, shop_id: str, month: str, cost_usd: float | None, prompt_tokens: int, completion_tokens: int
) -> None:
    values: dict[str, Any] = {":p": prompt_tokens, ":c": completion_tokens, ":one": 1}
    expression = "ADD promptTokens :p, completionTokens :c, replies :one"
    if cost_usd is not None:
        expression += ", costUsd :cost"
        values[":cost"] = Decimal(str(cost_usd))
    else:
        expression += ", unpricedReplies :one"
    table.update(keys.shop_pk(shop_id), keys.ai_spend_sk(month), expression, values)


def month_spend(table: Table, shop_id: str, month: str) -> float:
    item = table.get(keys.shop_pk(shop_id), keys.ai_spend_sk(month))
    return float(item.get("costUsd", 0)) if item else 0.0


def _epoch_days_after(at: str, days: int) -> int:
    from mkt_whatsapp.core.clock import parse_iso

    return int(parse_iso(at).timestamp()) + days * 86400
