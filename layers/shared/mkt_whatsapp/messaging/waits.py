"""A flow's question that fails to reach the customer fails the flow's wait for the reply.

A flow's ``ask`` keeps its wait (the callback task's token) on the conversation and sends its question
with the annotation ``flow: {execution, seq, waits: true}``. When that message ends ``failed`` — Meta
refused it at once, the sender gave up on it, or a status webhook says so — the wait is removed (only if
it is still that question's: ``seq``) and the execution resumed with ``SendTaskFailure(DeliveryFailed)``,
which takes the step's ``onDeliveryFailed``. Here, in ``messaging``, because every path that fails a message
(the send itself, the outbound sender, the inbound status processor) reaches it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mkt_whatsapp.core import aws
from mkt_whatsapp.store import flow_runs, get_table


def question_failed(conversation_id: str, execution: str, seq: int, why: str) -> bool:
    """Fail the execution's wait ``seq`` if it is still on; returns whether it was."""
    token = flow_runs.clear_wait(get_table(), conversation_id, execution, seq)
    if token is None:
        return False
    client = aws.stepfunctions()
    try:
        client.send_task_failure(taskToken=token, error="DeliveryFailed", cause=why[:256])
    except (client.exceptions.TaskTimedOut, client.exceptions.InvalidToken, client.exceptions.TaskDoesNotExist):
        return False
    return True


def resume(token: str, reply: Mapping[str, Any]) -> bool:
    """Resume a waiting execution with the customer's message (``SendTaskSuccess``); False if its wait was
    over already (timed out, stopped, or resumed by this very message before)."""
    import json

    client = aws.stepfunctions()
    try:
        client.send_task_success(taskToken=token, output=json.dumps(dict(reply), ensure_ascii=False))
    except (client.exceptions.TaskTimedOut, client.exceptions.InvalidToken, client.exceptions.TaskDoesNotExist):
        return False
    return True


def message_failed(message: Mapping[str, Any]) -> bool:
    """``message`` (as stored, now ``failed``) was a flow's question: fail its wait."""
    flow = message.get("flow") or {}
    if not flow.get("waits") or not message.get("conversationId"):
        return False
    errors = message.get("errors") or []
    why = str((errors[0] or {}).get("code", "failed")) if errors else "failed"
    return question_failed(str(message["conversationId"]), str(flow["execution"]), int(flow["seq"]), why)
