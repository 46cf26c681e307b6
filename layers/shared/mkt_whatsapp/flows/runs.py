"""Executions from the outside: what starts a flow, hands it the customer's reply, and stops it.

**The inbound dispatcher's flow responder** (:func:`offer`, registered by functions/inbound before the AI
agent's), once per stored message, in the guide's order:

1. A flow waiting on the conversation gets the message: its wait (the callback task's token, kept on the
   conversation) is taken with a conditional write and the execution resumed with ``SendTaskSuccess``.
   The message is recorded as the wait's reply, so a redelivery resumes it again instead of starting
   anything (a token completes once; a second completion is refused by Step Functions and ignored).
2. An execution that runs on the conversation without waiting (in a ``delay``, or between steps) keeps it:
   the message starts nothing and no AI answers it (one execution per conversation at a time). An
   execution the service lost track of (it ended without recording its end) is recorded as an error and
   the conversation freed.
3. A human-assigned (or handed-off, or closed) conversation starts nothing.
4. The shop's automation index (one GetItem) is matched (flows/matching.py); a match starts the flow.

**Starting exactly once.** The execution's name is the triggering message's id. One transaction claims the
conversation (``flowRun``, only where none is), counts the start on the flow (only while it is active),
marks the execution running and, for a ``oncePerCustomer`` flow, records the customer's start (only if
none is). Then ``StartExecution`` with that name: a retried start (the processor stopped in between and the
message is dispatched again) finds its own claim and starts the same name again, which Step Functions
answers with the running execution or ``ExecutionAlreadyExists`` — never a second execution.

**Stopping.** Assigning or closing a conversation (by anyone but the flow itself) and deleting a flow
record the execution ``stopped`` (the same end-once transaction the runner uses) and ``StopExecution``.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from aws_lambda_powertools import Logger

from mkt_whatsapp.core import aws
from mkt_whatsapp.core.clock import now_iso
from mkt_whatsapp.core.settings import get_settings
from mkt_whatsapp.flows import matching
from mkt_whatsapp.messaging import waits
from mkt_whatsapp.store import flow_runs, get_table, keys
from mkt_whatsapp.store import flows as flow_store
from mkt_whatsapp.store.conversations import CLOSED
from mkt_whatsapp.store.table import Item
from mkt_whatsapp.whatsapp.inbound_content import readable_text

logger = Logger(child=True)

# The reasons a flow responder claims a message (the dispatcher records who answered).
RESUMED = "resumed"
RUNNING = "running"
STARTED = "started"


def execution_name(message_id: str) -> str:
    """The execution a message starts: its own id (a uuid), so a retried start names the same one."""
    return message_id


def execution_arn(state_machine_arn: str, name: str) -> str:
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


def reply_of(message_id: str, content: dict[str, Any]) -> dict[str, Any]:
    """What a waiting execution receives of the customer's message (its ``reply``)."""
    return {
        "messageId": message_id,
        "type": content.get("type"),
        "text": readable_text(content) or "",
        "replyId": matching.reply_id(content),
    }


def offer(
    *,
    shop_id: str,
    message_id: str,
    conversation_id: str,
    customer_key: str,
    content: dict[str, Any],
    new_customer: bool,
    referral: dict[str, Any] | None,
) -> str | None:
    """Give a stored inbound message to the flows (see the module); returns how a flow took it
    (``resumed``, ``running``, ``started``) or None to leave it to the AI agent."""
    state_machine = get_settings().flow_state_machine_arn
    if not state_machine:
        return None
    table = get_table()
    conversation = table.get(keys.conversation_pk(conversation_id), keys.CONVERSATION_SK, consistent=True)
    if conversation is None or conversation.get("shopId") != shop_id:
        return None
    run = conversation.get("flowRun")
    if run and run.get("execution") == execution_name(message_id):
        # A retried start (the processor stopped after the claim): start the same name again.
        _start_execution(
            state_machine,
            _first_state(
                shop_id, str(run["flowId"]), int(run["version"]), conversation_id, customer_key, message_id, content
            ),
        )
        return STARTED
    if run:
        taken = _resume_or_keep(conversation, run, message_id, content)
        if taken is not None:
            return taken
    if conversation.get("status") == CLOSED or conversation.get("assignedAgentId"):
        return None
    if conversation.get("automationStopped") or conversation.get("needsHuman"):
        return None
    index = flow_store.automation_index(table, shop_id)
    if not index:
        return None
    found = matching.match(index, content, new_customer=new_customer, referral=referral)
    if found is None:
        return None
    return _start(
        found,
        shop_id=shop_id,
        message_id=message_id,
        conversation_id=conversation_id,
        customer_key=customer_key,
        content=content,
        state_machine=state_machine,
    )


def _resume_or_keep(conversation: Item, run: dict[str, Any], message_id: str, content: dict[str, Any]) -> str | None:
    table = get_table()
    conversation_id = str(conversation["id"])
    replied = run.get("replied") or {}
    if _take_wait(conversation_id, run, message_id, content):
        return RESUMED
    if replied.get("messageId") == message_id:  # a redelivered reply: resume again (refused if done)
        _complete(str(replied["token"]), reply_of(message_id, content))
        return RESUMED
    if _still_running(str(run.get("executionArn", ""))):
        # Kept for the execution's next wait (an AI conversation answers it); a race with its park is
        # settled by the park, which reads what this writes.
        if not flow_runs.keep_pending(table, conversation_id, str(run["execution"]), reply_of(message_id, content)):
            fresh = table.get(keys.conversation_pk(conversation_id), keys.CONVERSATION_SK, consistent=True) or {}
            if _take_wait(conversation_id, fresh.get("flowRun") or {}, message_id, content):
                return RESUMED
        return RUNNING
    logger.warning("a flow execution ended without recording its end", extra={"execution": run.get("execution")})
    flow_runs.finish(
        table,
        shop_id=str(conversation["shopId"]),
        flow_id=str(run["flowId"]),
        conversation_id=conversation_id,
        execution=str(run["execution"]),
        outcome="error",
        reason="lost",
        steps=int(run.get("steps", 0)),
        at=now_iso(),
    )
    flow_runs.release(table, conversation_id, str(run["execution"]))
    return None


def _take_wait(conversation_id: str, run: dict[str, Any], message_id: str, content: dict[str, Any]) -> bool:
    """The message answers the wait ``run`` holds, if it still does: taken (a conditional write), then the
    execution resumed with it."""
    token = (run.get("wait") or {}).get("token")
    if not token or not flow_runs.take_wait(get_table(), conversation_id, str(token), message_id):
        return False
    _complete(str(token), reply_of(message_id, content))
    return True


def _still_running(arn: str) -> bool:
    client = aws.stepfunctions()
    try:
        return client.describe_execution(executionArn=arn)["status"] == "RUNNING"
    except client.exceptions.ExecutionDoesNotExist:
        return False


def _complete(token: str, reply: dict[str, Any]) -> None:
    if not waits.resume(token, reply):
        # The wait ended meanwhile (timed out, stopped) or this reply resumed it already.
        logger.info("a flow's wait was over before the reply reached it")


def _start(
    found: matching.Match,
    *,
    shop_id: str,
    message_id: str,
    conversation_id: str,
    customer_key: str,
    content: dict[str, Any],
    state_machine: str,
) -> str | None:
    table = get_table()
    name = execution_name(message_id)
    arn = execution_arn(state_machine, name)
    try:
        flow_runs.start(
            table,
            shop_id=shop_id,
            flow_id=found.flow_id,
            version=found.version,
            conversation_id=conversation_id,
            customer_key=customer_key,
            execution=name,
            execution_arn=arn,
            message_id=message_id,
            once_per_customer=found.once_per_customer,
            at=now_iso(),
        )
    except flow_runs.ConversationBusy:
        return RUNNING  # another message started an execution on the conversation meanwhile
    except flow_runs.FlowNotActive:
        return None
    except flow_runs.AlreadyStartedForCustomer:
        logger.info("a once-per-customer flow already ran for this customer", extra={"flowId": found.flow_id})
        return None
    _start_execution(
        state_machine,
        _first_state(shop_id, found.flow_id, found.version, conversation_id, customer_key, message_id, content),
    )
    return STARTED


def _first_state(
    shop_id: str,
    flow_id: str,
    version: int,
    conversation_id: str,
    customer_key: str,
    message_id: str,
    content: dict[str, Any],
) -> dict[str, Any]:
    """The execution's input: the same for the same message, so a retried start is the same start."""
    from mkt_whatsapp.flows import runner

    return {
        "shopId": shop_id,
        "flowId": flow_id,
        "version": version,
        "conversationId": conversation_id,
        "customerKey": customer_key,
        "execution": execution_name(message_id),
        "messageId": message_id,
        "text": readable_text(content) or "",
        "at": runner.definition(flow_id, version)["steps"][0]["id"],
        "steps": 0,
        "seq": 0,
        "vars": {},
        "fresh": True,
    }


def _start_execution(state_machine: str, state: dict[str, Any]) -> None:
    client = aws.stepfunctions()
    name = str(state["execution"])
    try:
        client.start_execution(stateMachineArn=state_machine, name=name, input=json.dumps(state, ensure_ascii=False))
    except client.exceptions.ExecutionAlreadyExists:
        logger.info("the flow execution had started already", extra={"execution": name})


def stop_on(conversation: Item, *, reason: str, actor: str) -> bool:
    """The execution running on ``conversation`` (as read before it was assigned or closed) is stopped and
    recorded ``stopped``; nothing when none runs or when the flow itself acted. Returns whether one was."""
    run = conversation.get("flowRun")
    if not run or actor == f"flow:{run.get('flowId')}":
        return False
    return _stop(
        str(conversation["shopId"]),
        str(run["flowId"]),
        str(conversation["id"]),
        str(run["execution"]),
        str(run.get("executionArn")),
        int(run.get("steps", 0)),
        reason,
    )


def stop_flow(flow_id: str, *, reason: str) -> int:
    """Stop every running execution of the flow (it is being deleted); returns how many."""
    stopped = 0
    for running in flow_runs.running_of_flow(get_table(), flow_id):
        execution = str(running["SK"]).removeprefix(keys.RUNNING_PREFIX)
        conversation = get_table().get(
            keys.conversation_pk(str(running["conversationId"])), keys.CONVERSATION_SK, consistent=True
        )
        steps = int(((conversation or {}).get("flowRun") or {}).get("steps", 0))
        shop_id = str(running.get("shopId") or (conversation or {}).get("shopId", ""))
        stopped += _stop(
            shop_id, flow_id, str(running["conversationId"]), execution, str(running["executionArn"]), steps, reason
        )
    return stopped


def _stop(shop_id: str, flow_id: str, conversation_id: str, execution: str, arn: str, steps: int, reason: str) -> bool:
    recorded = flow_runs.finish(
        get_table(),
        shop_id=shop_id,
        flow_id=flow_id,
        conversation_id=conversation_id,
        execution=execution,
        outcome="stopped",
        reason=reason,
        steps=steps,
        at=now_iso(),
    )
    client = aws.stepfunctions()
    with contextlib.suppress(client.exceptions.ExecutionDoesNotExist):
        client.stop_execution(executionArn=arn, error="FlowStopped", cause=reason[:256])
    return recorded
