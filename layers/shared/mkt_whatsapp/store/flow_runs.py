"""Flow executions in the single table (docs/data-model.md, "Flow executions").

- The conversation's ``flowRun`` (on ``CONV#<id>`` / ``CONVERSATION``): the execution running on it —
  ``execution`` (its name), ``executionArn``, ``flowId``, ``version``, ``steps`` (executed so far, as of its
  last wait) and, while it waits for the customer, ``wait`` (``token``, ``step``, ``seq``); ``pending``: the
  customer's latest message that came while it ran without waiting (an AI step answers it). Set on start
  only where none is (one execution per conversation at a time); removed when the execution ends.
- ``FLOW#<flow>`` / ``RUNNING#<execution>``: the flow's running executions (to stop them when the flow is
  deleted), put at start and deleted at the end in the same transactions as the counters — so the end of
  an execution is counted once however often it is recorded (a retried Lambda, a stop racing an end).
- ``FLOW#<flow>`` / ``RUN#<execution>``: how it ended (outcome, reason, steps), kept 90 days.
- ``SHOP#<shop>`` / ``FLOWONCE#<flow>#<customer>``: a ``oncePerCustomer`` flow started for the customer
  (by which message), put in the start transaction.
- The flow item's counters: ``executionsStarted`` (at start), ``executionsFinished``,
  ``executionsCompleted``, ``executionsFallback``, ``executionsStopped``, ``executionsErrored`` and
  ``stepsExecuted`` (at the end): ``GET /flows`` computes the stats from them and reads no execution.
- The same counts by UTC day, every flow of the shop in one item a day (``SHOP#<shop>`` /
  ``FLOWSTATS#<day>``: ``<flowId>#started``, ``#finished``, ``#completed``, ``#fallback``, ``#stopped``,
  ``#error``, ``#steps``), in the same transactions: ``GET /analytics/automations`` over a range reads one
  item a day.
"""

from __future__ import annotations

from typing import Any

from mkt_whatsapp.core.clock import parse_iso
from mkt_whatsapp.store import keys
from mkt_whatsapp.store.table import ConditionFailed, Item, Table, TransactionCancelled, Write

RUN_RECORD_DAYS = 90


class ConversationBusy(ConditionFailed):
    """Another execution runs on the conversation (or it is not open)."""


class AlreadyStartedForCustomer(ConditionFailed):
    """A ``oncePerCustomer`` flow already started for this customer, by another message."""


class FlowNotActive(ConditionFailed):
    """The flow was deactivated or deleted since the index was read."""


class AlreadyEnded(ConditionFailed):
    """The execution's end was recorded already."""


class FlowGone(ConditionFailed):
    """The flow was deleted: its counters are gone with it."""


def start(
    table: Table,
    *,
    shop_id: str,
    flow_id: str,
    version: int,
    conversation_id: str,
    customer_key: str,
    execution: str,
    execution_arn: str,
    message_id: str,
    once_per_customer: bool,
    at: str,
) -> None:
    """Claim the conversation for the execution, count its start and mark it running, in one transaction."""
    run = {
        "execution": execution,
        "executionArn": execution_arn,
        "flowId": flow_id,
        "version": version,
        "steps": 0,
        "startedAt": at,
    }
    writes = [
        table.update_op(
            keys.conversation_pk(conversation_id),
            keys.CONVERSATION_SK,
            "SET flowRun = :run",
            {":run": run, ":open": "open"},
            condition="attribute_exists(PK) AND attribute_not_exists(flowRun) AND #status = :open",
            names={"#status": "status"},
            fails_with=ConversationBusy,
        ),
        table.update_op(
            keys.flow_pk(flow_id),
            keys.FLOW_SK,
            "ADD executionsStarted :one",
            {":one": 1, ":true": True},
            condition="isActive = :true",
            fails_with=FlowNotActive,
        ),
        _day_counters(table, shop_id, flow_id, at, {"started": 1}),
        table.put_op(
            {
                "PK": keys.flow_pk(flow_id),
                "SK": keys.flow_running_sk(execution),
                "shopId": shop_id,
                "conversationId": conversation_id,
                "executionArn": execution_arn,
                "startedAt": at,
            },
            condition="attribute_not_exists(PK)",
            fails_with=ConversationBusy,
        ),
    ]
    if once_per_customer:
        writes.append(
            table.put_op(
                {
                    "PK": keys.shop_pk(shop_id),
                    "SK": keys.flow_once_sk(flow_id, customer_key),
                    "messageId": message_id,
                    "at": at,
                },
                condition="attribute_not_exists(PK)",
                fails_with=AlreadyStartedForCustomer,
            )
        )
    table.transact_write(writes)


def _day_counters(table: Table, shop_id: str, flow_id: str, at: str, counts: dict[str, int]) -> Write:
    """ADD ``counts`` to the flow's counters of ``at``'s UTC day (the shop's day item: keys.flow_stats_sk)."""
    names = {f"#c{index}": f"{flow_id}#{name}" for index, name in enumerate(counts)}
    values = {f":c{index}": value for index, value in enumerate(counts.values())}
    return table.update_op(
        keys.shop_pk(shop_id),
        keys.flow_stats_sk(at[:10]),
        "ADD " + ", ".join(f"#c{index} :c{index}" for index in range(len(counts))),
        values,
        names=names,
    )


def day_counters(table: Table, shop_id: str, days: list[str]) -> list[Item]:
    """The shop's flow counters of these UTC days (``yyyy-mm-dd``), one item a day (absent days missing)."""
    return table.batch_get([(keys.shop_pk(shop_id), keys.flow_stats_sk(day)) for day in days])


def once_started_by(table: Table, shop_id: str, flow_id: str, customer_key: str) -> str | None:
    """The message that started the ``oncePerCustomer`` flow for the customer, if it ever started."""
    item = table.get(keys.shop_pk(shop_id), keys.flow_once_sk(flow_id, customer_key), consistent=True)
    return str(item["messageId"]) if item else None


def set_wait(table: Table, conversation_id: str, execution: str, wait: dict[str, Any], steps: int) -> Item | None:
    """The execution waits for the customer (``wait``: token, step, seq): returns the conversation as it
    was (its ``flowRun.pending``: a message that came while the execution ran, now taken off), or None if
    the execution no longer runs here."""
    return table.update_if(
        keys.conversation_pk(conversation_id),
        keys.CONVERSATION_SK,
        "SET flowRun.#wait = :wait, flowRun.steps = :steps REMOVE flowRun.pending",
        {":wait": wait, ":steps": steps, ":me": execution},
        names={"#wait": "wait"},
        condition="flowRun.execution = :me",
        return_values="ALL_OLD",
    )


def keep_pending(table: Table, conversation_id: str, execution: str, reply: dict[str, Any]) -> bool:
    """A customer's message came while the execution runs without waiting: keep it for its next wait
    (the latest one wins); False if the execution waits now (or no longer runs here)."""
    return (
        table.update_if(
            keys.conversation_pk(conversation_id),
            keys.CONVERSATION_SK,
            "SET flowRun.pending = :reply",
            {":reply": reply, ":me": execution},
            names={"#wait": "wait"},
            condition="flowRun.execution = :me AND attribute_not_exists(flowRun.#wait)",
        )
        is not None
    )


def set_steps(table: Table, conversation_id: str, execution: str, steps: int) -> bool:
    """Record the steps executed so far (before a delay); False if the execution no longer runs here."""
    return (
        table.update_if(
            keys.conversation_pk(conversation_id),
            keys.CONVERSATION_SK,
            "SET flowRun.steps = :steps REMOVE flowRun.#wait",
            {":steps": steps, ":me": execution},
            names={"#wait": "wait"},
            condition="flowRun.execution = :me",
        )
        is not None
    )


def take_wait(table: Table, conversation_id: str, token: str, message_id: str) -> bool:
    """The customer's message answers the wait holding ``token``: the wait is removed (the message kept
    as ``replied``, so a redelivery knows it answered); False if another message took it first."""
    taken = table.update_if(
        keys.conversation_pk(conversation_id),
        keys.CONVERSATION_SK,
        "SET flowRun.replied = :replied REMOVE flowRun.#wait",
        {":replied": {"messageId": message_id, "token": token}, ":token": token},
        names={"#wait": "wait", "#token": "token"},
        condition="flowRun.#wait.#token = :token",
    )
    return taken is not None


def clear_wait(table: Table, conversation_id: str, execution: str, seq: int) -> str | None:
    """Remove the execution's wait ``seq`` (its question failed); returns its token, or None if that wait
    is over already."""
    item = table.update_if(
        keys.conversation_pk(conversation_id),
        keys.CONVERSATION_SK,
        "REMOVE flowRun.#wait",
        {":me": execution, ":seq": seq},
        names={"#wait": "wait"},
        condition="flowRun.execution = :me AND flowRun.#wait.seq = :seq",
        return_values="ALL_OLD",
    )
    if item is None:
        return None
    wait = ((item.get("flowRun") or {}).get("wait")) or {}
    return str(wait.get("token")) if wait.get("token") else None


def running_of_flow(table: Table, flow_id: str) -> list[Item]:
    return table.query_prefix(keys.flow_pk(flow_id), keys.RUNNING_PREFIX, consistent=True)


def get_run(table: Table, flow_id: str, execution: str) -> Item | None:
    return table.get(keys.flow_pk(flow_id), keys.flow_run_sk(execution), consistent=True)


def finish(
    table: Table,
    *,
    shop_id: str,
    flow_id: str,
    conversation_id: str,
    execution: str,
    outcome: str,
    reason: str | None,
    steps: int,
    at: str,
) -> bool:
    """Record how the execution ended, count it and free the conversation. Returns False (nothing
    changed) if its end was recorded already."""
    counters = {
        "completed": "executionsCompleted",
        "fallback": "executionsFallback",
        "error": "executionsErrored",
        "stopped": "executionsStopped",
    }
    adds = ["executionsFinished :one", f"{counters[outcome]} :one", "stepsExecuted :steps"]
    if outcome == "error":  # an error is a fallback too (the guide's fallbackRate)
        adds.append("executionsFallback :one")
    record = {
        "PK": keys.flow_pk(flow_id),
        "SK": keys.flow_run_sk(execution),
        "entity": "flowRun",
        "execution": execution,
        "conversationId": conversation_id,
        "outcome": outcome,
        "reason": reason,
        "steps": steps,
        "endedAt": at,
        "expiresAt": int(parse_iso(at).timestamp()) + RUN_RECORD_DAYS * 86400,
    }
    ending = table.delete_op(
        keys.flow_pk(flow_id),
        keys.flow_running_sk(execution),
        condition="attribute_exists(PK)",
        fails_with=AlreadyEnded,
    )
    counting = table.update_op(
        keys.flow_pk(flow_id),
        keys.FLOW_SK,
        "ADD " + ", ".join(adds),
        {":one": 1, ":steps": steps},
        condition="attribute_exists(PK)",
        fails_with=FlowGone,
    )
    by_day = {"finished": 1, outcome: 1, "steps": steps}
    if outcome == "error":
        by_day["fallback"] = 1
    daily = _day_counters(table, shop_id, flow_id, at, by_day)
    try:
        table.transact_write([ending, table.put_op(record), counting, daily])
    except AlreadyEnded:
        return False
    except FlowGone:
        try:
            table.transact_write([ending, table.put_op(record), daily])
        except (AlreadyEnded, TransactionCancelled):
            return False
    table.update_if(
        keys.conversation_pk(conversation_id),
        keys.CONVERSATION_SK,
        "REMOVE flowRun SET lastFlowRun = :last",
        {":me": execution, ":last": {"execution": execution, "flowId": flow_id, "outcome": outcome, "endedAt": at}},
        condition="flowRun.execution = :me",
    )
    return True


def release(table: Table, conversation_id: str, execution: str) -> None:
    """Free the conversation of an execution whose end is recorded (a retried end, a lost one)."""
    table.update_if(
        keys.conversation_pk(conversation_id),
        keys.CONVERSATION_SK,
        "REMOVE flowRun",
        {":me": execution},
        condition="flowRun.execution = :me",
    )
