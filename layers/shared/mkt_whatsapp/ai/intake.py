"""Handing a customer's message to the AI responder: the last of the inbound dispatcher's responders
(functions/inbound registers it after the flows').

It claims a message when the conversation is open, not assigned to a human, automation and AI are not
stopped on it, and the shop has an active agent; then it queues a job for the AI responder — never the
provider call in the inbound Lambda. The job is delayed by the debounce (``AI_DEBOUNCE_SECONDS``, 3 s):
a customer who sends three messages in a burst gets one answer, made by the job of the burst's last
turn (ai/responder.py). Two reads (the conversation, the shop's active agent) and one SendMessage.
"""

from __future__ import annotations

import json

from mkt_whatsapp.core import aws
from mkt_whatsapp.core.settings import get_settings
from mkt_whatsapp.store import ai_agents as agent_store
from mkt_whatsapp.store import get_table, keys
from mkt_whatsapp.store.conversations import CLOSED
from mkt_whatsapp.store.table import Item


def ai_may_answer(conversation: Item | None) -> bool:
    """An open conversation no human holds and no handoff stopped."""
    return bool(
        conversation is not None
        and conversation.get("status") != CLOSED
        and not conversation.get("assignedAgentId")
        and not conversation.get("automationStopped")
        and not conversation.get("aiStopped")
    )


def offer(shop_id: str, conversation_id: str, message_id: str) -> bool:
    """Queue an AI job for the stored message if the shop's active agent should answer it."""
    settings = get_settings()
    if not settings.ai_queue_url:
        return False
    table = get_table()
    agent_id = agent_store.active_agent_id(table, shop_id)  # first: most shops have none (one cheap read)
    if agent_id is None:
        return False
    conversation = table.get(keys.conversation_pk(conversation_id), keys.CONVERSATION_SK, consistent=True)
    if not ai_may_answer(conversation) or conversation is None:
        return False
    job = {
        "shopId": shop_id,
        "conversationId": conversation_id,
        "messageId": message_id,
        "agentId": agent_id,
        "turnAt": str(conversation.get("lastInboundAt", "")),
    }
    aws.sqs().send_message(
        QueueUrl=settings.ai_queue_url,
        MessageBody=json.dumps(job, separators=(",", ":")),
        DelaySeconds=settings.ai_debounce_seconds,
    )
    return True
