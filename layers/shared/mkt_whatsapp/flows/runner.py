"""The step runner: what the flow state machine (statemachines/flow.asl.json) asks a Lambda to do.

**One invocation runs every consecutive step that does not wait** — sends, tags, fields, consent,
conditions, placeholders — and returns what comes next: ``delay`` (the machine's ``Wait`` state, for
``seconds``), ``wait`` (a callback task: the customer's reply to a question, or the next turn of an AI
conversation, within ``seconds``), or ``end``. So an execution's state transitions (the Step Functions bill)
grow with its waits, never with its steps: 3 to start and end, 3 per wait.

The execution's state is the machine's JSON (``run``): the flow and version it runs on, the conversation
and customer, where it is (``at``), the steps executed (``steps``), the variables (``vars``), a counter of
the sends and waits it made (``seq``: what makes every send idempotent, so a retried invocation never
sends twice), and, while waiting, what for (``waiting``).

- ``run`` executes steps from ``at``, or first settles the wait it comes back from: the customer's reply
  (``reply``, from the inbound processor's ``SendTaskSuccess``), the timeout (``interrupt``:
  ``States.Timeout``) or the question's failed delivery (``interrupt``: ``DeliveryFailed``, from the status
  webhook or the sender). It records the end itself, so ending costs no extra invocation.
- ``park`` is the callback task's Lambda: it keeps the task token on the conversation (where the inbound
  processor finds it), then sends the question — in that order, so a reply can never come before the
  token is kept. A question Meta refuses at once fails the wait at once (``onDeliveryFailed``). A message
  the customer sent while the execution ran without waiting (kept as ``pending`` by the inbound
  processor) is the next turn of an AI conversation at once; a question ignores it (it was typed before
  the question was asked).
- A ``run`` that fails for a passing reason (a throttled table, a write conflict) is retried by the machine
  (twice, backing off): it starts again from the same state, and every effect is idempotent — sends are
  keyed on ``seq``, tags and fields set to a value, an AI turn claimed — so a retry never sends twice.
  ``StepFailed`` (a step that cannot work) is not retried.
- ``error`` is the machine's catch-all: the execution ends as a fallback (``error``) and the conversation is
  flagged for a human — never a silent stop.

Where the guide is silent:
- A reply that fails ``expect`` is asked again with ``retryContent`` (else ``content``) up to ``retries``
  times; after that it is treated as no answer (``onTimeout``, else a fallback ``invalid_reply``).
- ``expect: any`` takes any message; a button or list reply saves its id, other messages their text (a
  photo without a caption saves its type). ``number`` saves the number as typed (``,`` or ``.`` decimals),
  ``email`` the address lower-cased, ``phone`` the digits with a leading ``+`` when given, ``choice`` the
  chosen id (a reply id, or a typed title or id, case and accents aside).
- ``ai_reply`` answers the customer's latest message right away when the flow got there straight from the
  customer's message (its trigger or a reply); else it waits for the customer's next message. Between
  turns it waits up to the customer-service window (24 h); a customer who goes quiet moves the flow to
  ``next``. A handoff (by the agent's rules or the model) ends the execution as a fallback.
- Condition operators compare text with case and Vietnamese accents aside (``equals``, ``contains``,
  ``starts_with``, ``in``); ``gt``/``lt`` compare numbers (false when either side is not one); ``matches`` is
  a Python regular expression searched in the text as written; ``exists`` is true for non-empty text.
- A ``send_message`` whose send the outbound rules refuse (outside the window, the customer opted out of
  marketing) ends the execution as a fallback (``send_refused``) and flags the conversation for a human.
- Placeholders render in every string of a step; an unknown one renders empty; a rendered message must
  still be valid (else the step fails: an error).
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger

from mkt_whatsapp.core.clock import now_iso
from mkt_whatsapp.core.errors import ApiError, BusinessRuleViolation
from mkt_whatsapp.core.settings import get_settings
from mkt_whatsapp.core.text import fold
from mkt_whatsapp.customers import placeholders
from mkt_whatsapp.messaging import send as messaging
from mkt_whatsapp.messaging import waits
from mkt_whatsapp.store import customers as customer_store
from mkt_whatsapp.store import flow_runs, get_table, keys
from mkt_whatsapp.store import flows as flow_store
from mkt_whatsapp.store.table import Item

logger = Logger(child=True)

AI_TURN_WAIT_SECONDS = 24 * 3600
DEFAULT_MAX_STEPS = 50
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ().\-]{5,20}$")


class StepFailed(Exception):
    """A step could not run (a rendered message no longer valid, a flow version gone): the execution ends
    as an error."""


def scaled(seconds: int, *, minimum: int) -> int:
    """The seconds the machine waits for ``seconds`` of the definition (``FLOW_TIME_SCALE``)."""
    return max(minimum, math.ceil(seconds * get_settings().flow_time_scale))


@lru_cache(maxsize=256)
def _definition(flow_id: str, version: int) -> str:
    document = flow_store.get_version(get_table(), flow_id, version)
    if document is None:
        raise StepFailed(f"flow {flow_id} has no version {version}")
    return json.dumps(document)  # versions never change: cached per container, as text (callers get copies)


def definition(flow_id: str, version: int) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(_definition(flow_id, version))
    return document


@dataclass
class _Execution:
    """One invocation's view of the execution: its state (changed as steps run) and what it read."""

    state: dict[str, Any]
    flow: dict[str, Any]
    conversation: Item
    deadline: float | None
    _customer: Item | None = None
    via_else: bool = False
    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_id = {str(step["id"]): step for step in self.flow.get("steps") or []}

    @property
    def shop_id(self) -> str:
        return str(self.state["shopId"])

    @property
    def actor(self) -> str:
        return f"flow:{self.state['flowId']}"

    def customer(self) -> Item:
        if self._customer is None:
            found = customer_store.get(get_table(), self.shop_id, str(self.state["customerKey"]))
            self._customer = found or {}
        return self._customer

    def forget_customer(self) -> None:
        self._customer = None

    def next_seq(self) -> int:
        self.state["seq"] = int(self.state.get("seq", 0)) + 1
        return int(self.state["seq"])

    # --- placeholders ----------------------------------------------------------------------------------

    def value_of(self, name: str) -> str:
        parts = name.split(".")
        if parts[0] == "vars" and len(parts) >= 2:
            value = (self.state.get("vars") or {}).get(".".join(parts[1:]))
            return "" if value is None else str(value)
        if parts[0] == "message" and parts[1:] == ["text"]:
            return str(self.state.get("text") or "")
        if parts[0] == "customer" and len(parts) >= 2:
            value = placeholders.customer_value(self.customer(), parts[1:])
            if not value and parts[1:] in (["name"], ["waId"]):  # as the conversation knows them
                value = str(self.conversation.get("customerName" if parts[1] == "name" else "customerWaId") or "")
            return value or ""
        return ""

    def render(self, value: Any) -> Any:
        if isinstance(value, str):
            return _PLACEHOLDER.sub(lambda found: self.value_of(found.group(1)), value)
        if isinstance(value, list):
            return [self.render(item) for item in value]
        if isinstance(value, dict):
            return {key: self.render(item) for key, item in value.items()}
        return value


# --- the machine's three actions -----------------------------------------------------------------------


def run(state: dict[str, Any], *, deadline: float | None) -> dict[str, Any]:
    """Run the execution from where it is until it waits or ends; returns the machine's next state."""
    state = dict(state)
    incoming = {"reply": state.pop("reply", None), "interrupt": state.pop("interrupt", None)}
    for transient in ("error", "kind", "seconds", "outcome", "reason"):
        state.pop(transient, None)
    table = get_table()
    conversation = table.get(keys.conversation_pk(str(state["conversationId"])), keys.CONVERSATION_SK, consistent=True)
    if conversation is None or (conversation.get("flowRun") or {}).get("execution") != state["execution"]:
        # Stopped (an agent assigned or closed the conversation, the flow was deleted): the stop recorded it.
        return {**state, "kind": "end", "outcome": "stopped", "reason": "no longer runs on the conversation"}
    execution = _Execution(
        state=state,
        flow=definition(str(state["flowId"]), int(state["version"])),
        conversation=conversation,
        deadline=deadline,
    )
    waiting = state.pop("waiting", None)
    if waiting is not None:
        settled = _settle_wait(execution, waiting, incoming)
        if settled is not None:
            return settled
    return _steps(execution)


def _steps(execution: _Execution) -> dict[str, Any]:
    state = execution.state
    max_steps = int((execution.flow.get("settings") or {}).get("maxSteps") or DEFAULT_MAX_STEPS)
    while True:
        at = state.get("at")
        if at is None:
            return _end(execution, "completed", None)
        step = execution.by_id.get(str(at))
        if step is None:
            raise StepFailed(f"step {at} is not in version {state['version']}")
        if int(state.get("steps", 0)) >= max_steps:
            return _end(execution, "fallback", "loop_guard")
        state["steps"] = int(state.get("steps", 0)) + 1
        via_else, execution.via_else = execution.via_else, False
        outcome = _execute(execution, step, via_else)
        if outcome is not None:
            return outcome


def _execute(execution: _Execution, step: dict[str, Any], via_else: bool) -> dict[str, Any] | None:
    """Run one step; returns the machine's next state when the step waits or ends the execution, None to
    go on with ``state["at"]``."""
    state = execution.state
    kind = step["type"]
    state["at"] = step.get("next")
    if kind == "send_message":
        refused = _send(execution, step["content"], step_id=str(step["id"]))
        if refused is not None:
            return _end(execution, "fallback", f"send_refused:{refused}", needs_human=True)
        state["fresh"] = False
        return None
    if kind == "ask":
        state["at"] = step["id"]
        return _wait(
            execution, {"kind": "ask", "step": step["id"], "attempt": 0}, int(step.get("timeoutSeconds") or 86400)
        )
    if kind == "condition":
        for branch in step.get("branches") or []:
            if _holds(execution, branch["if"]):
                state["at"] = branch.get("next")
                return None
        state["at"] = step.get("else")
        execution.via_else = True
        return None
    if kind in ("add_tags", "remove_tags"):
        _tags(execution, [execution.render(tag) for tag in step["tags"]], add=kind == "add_tags")
        return None
    if kind == "set_field":
        _set_field(execution, str(step["field"]), str(execution.render(step["value"])))
        return None
    if kind == "set_consent":
        from mkt_whatsapp.messaging import consent

        consent.set_consent(
            execution.shop_id,
            str(state["customerKey"]),
            str(step["status"]),
            "flow",
            actor=execution.actor,
            customer=execution.customer() or None,
        )
        execution.forget_customer()
        return None
    if kind == "assign_agent":
        _assign(execution, step.get("agentId"))
        return _end(execution, "fallback" if via_else else "completed", "else_to_human" if via_else else None)
    if kind == "close_conversation":
        _close(execution)
        return _end(execution, "completed", None)
    if kind == "delay":
        flow_runs.set_steps(get_table(), str(state["conversationId"]), str(state["execution"]), int(state["steps"]))
        state["fresh"] = False  # after the delay the customer's last message is old news
        return {**state, "kind": "delay", "seconds": scaled(int(step["seconds"]), minimum=0)}
    if kind == "ai_reply":
        state["at"] = step["id"]
        if state.get("fresh"):
            answered = _ai_turn(execution, step)
            if answered is not None:
                return answered
            turns = 1
        else:
            turns = 0
        if turns >= int(step.get("maxTurns") or 10):
            state["at"] = step.get("next")
            return None
        return _wait(execution, {"kind": "ai", "step": step["id"], "turns": turns}, AI_TURN_WAIT_SECONDS)
    raise StepFailed(f"unknown step type {kind}")


# --- waits ---------------------------------------------------------------------------------------------


def _wait(execution: _Execution, waiting: dict[str, Any], seconds: int) -> dict[str, Any]:
    state = execution.state
    waiting["seq"] = execution.next_seq()
    return {**state, "waiting": waiting, "kind": "wait", "seconds": scaled(seconds, minimum=1)}


def _settle_wait(execution: _Execution, waiting: dict[str, Any], incoming: dict[str, Any]) -> dict[str, Any] | None:
    """Settle the wait the execution comes back from; returns the machine's next state, or None to run
    steps from ``state["at"]``."""
    state = execution.state
    step = execution.by_id[str(waiting["step"])]
    reply, interrupt = incoming.get("reply"), incoming.get("interrupt")
    if reply is None:
        # Over without an answer: remove the wait (its token is spent) before going on.
        flow_runs.set_steps(get_table(), str(state["conversationId"]), str(state["execution"]), int(state["steps"]))
    error = str((interrupt or {}).get("Error") or "")
    if waiting["kind"] == "ai":
        if reply is None:  # the customer went quiet
            state["at"] = step.get("next")
            return None
        _take_reply(state, reply)
        answered = _ai_turn(execution, step)
        if answered is not None:
            return answered
        turns = int(waiting.get("turns", 0)) + 1
        if turns >= int(step.get("maxTurns") or 10):
            state["at"] = step.get("next")
            return None
        return _wait(execution, {"kind": "ai", "step": step["id"], "turns": turns}, AI_TURN_WAIT_SECONDS)
    if reply is None:
        if error == "DeliveryFailed":
            return _jump(execution, step.get("onDeliveryFailed"), "delivery_failed")
        return _jump(execution, step.get("onTimeout"), "timeout")
    _take_reply(state, reply)
    value = accepted(step, reply)
    if value is None:
        attempt = int(waiting.get("attempt", 0)) + 1
        if attempt <= int(step.get("retries") or 0):
            return _wait(
                execution,
                {"kind": "ask", "step": step["id"], "attempt": attempt},
                int(step.get("timeoutSeconds") or 86400),
            )
        return _jump(execution, step.get("onTimeout"), "invalid_reply")
    if step.get("saveAs"):
        state.setdefault("vars", {})[str(step["saveAs"])] = value
    state["at"] = step.get("next")
    return None


def _jump(execution: _Execution, target: Any, reason: str) -> dict[str, Any] | None:
    if target is None:
        return _end(execution, "fallback", reason)
    execution.state["at"] = target
    return None


def _take_reply(state: dict[str, Any], reply: dict[str, Any]) -> None:
    state["text"] = reply.get("text") or ""
    state["messageId"] = reply.get("messageId")
    state["fresh"] = True


def _choices(content: dict[str, Any]) -> list[tuple[str, str]]:
    """The (id, title) choices a question offers: reply buttons, list rows, template quick replies."""
    if content.get("type") == "interactive":
        interactive = content.get("interactive") or {}
        action = interactive.get("action") or {}
        found = [(str(b.get("id")), str(b.get("title", ""))) for b in action.get("buttons") or []]
        for section in action.get("sections") or []:
            found += [(str(r.get("id")), str(r.get("title", ""))) for r in section.get("rows") or []]
        return found
    if content.get("type") == "template":
        found = []
        for component in (content.get("template") or {}).get("components") or []:
            for parameter in component.get("parameters") or []:
                if parameter.get("type") == "payload" and parameter.get("payload"):
                    found.append((str(parameter["payload"]), str(parameter["payload"])))
        return found
    return []


def accepted(step: dict[str, Any], reply: dict[str, Any]) -> str | None:
    """The value a reply gives the question ``step`` (what ``saveAs`` keeps), or None if ``expect`` refuses it."""
    expect = step.get("expect") or "any"
    text = str(reply.get("text") or "").strip()
    reply_id = reply.get("replyId")
    if expect == "any":
        return str(reply_id) if reply_id else (text or str(reply.get("type") or ""))
    if expect == "choice":
        choices = _choices(step.get("content") or {}) + _choices(step.get("retryContent") or {})
        if reply_id and any(reply_id == choice_id for choice_id, _ in choices):
            return str(reply_id)
        typed = fold(text)
        for choice_id, title in choices:
            if typed and typed in (fold(choice_id), fold(title)):
                return choice_id
        return None
    if expect == "number":
        candidate = text.replace(" ", "")
        if candidate.count(",") == 1 and "." not in candidate:
            candidate = candidate.replace(",", ".")
        try:
            number = float(candidate)
        except ValueError:
            return None
        return candidate if math.isfinite(number) else None
    if expect == "email":
        return text.lower() if _EMAIL.match(text) else None
    if expect == "phone":
        if not _PHONE.match(text):
            return None
        digits = re.sub(r"\D", "", text)
        if not 7 <= len(digits) <= 15:
            return None
        return ("+" if text.startswith("+") else "") + digits
    return None


# --- conditions ----------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    try:
        number = float(str(value).strip().replace(",", "."))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _holds(execution: _Execution, test: dict[str, Any]) -> bool:
    op = test["op"]
    right = execution.render(test.get("right"))
    if op == "has_tag":
        return fold(str(right)) in {fold(str(tag)) for tag in execution.customer().get("tags") or []}
    left = str(execution.render(test.get("left") or ""))
    if op == "exists":
        return bool(left.strip())
    if op in ("gt", "lt"):
        a, b = _number(left), _number(right)
        if a is None or b is None:
            return False
        return a > b if op == "gt" else a < b
    if op == "matches":
        try:
            return re.search(str(right), left) is not None
        except re.error:
            return False
    if op == "in":
        options = right if isinstance(right, list) else [right]
        return fold(left) in {fold(str(option)) for option in options}
    folded_left, folded_right = fold(left), fold(str(right if right is not None else ""))
    if op == "equals":
        return folded_left == folded_right
    if op == "not_equals":
        return folded_left != folded_right
    if op == "contains":
        return folded_right in folded_left
    if op == "starts_with":
        return folded_left.startswith(folded_right)
    return False


# --- effects -------------------------------------------------------------------------------------------


def _send(execution: _Execution, content: dict[str, Any], *, step_id: str, wait_seq: int | None = None) -> str | None:
    """Send rendered ``content`` once (idempotent on the execution's ``seq``); returns the refusing rule's
    code, or None when sent (or queued, or failed: the message records it)."""
    from pydantic import ValidationError

    from mkt_whatsapp.whatsapp.outbound_content import SendMessageRequest

    state = execution.state
    seq = wait_seq if wait_seq is not None else execution.next_seq()
    try:
        request = SendMessageRequest.model_validate({"content": execution.render(content)})
    except ValidationError as invalid:
        raise StepFailed(
            f"step {step_id}: the rendered message is not valid ({invalid.error_count()} errors)"
        ) from None
    annotations: dict[str, Any] = {
        "flow": {"flowId": state["flowId"], "execution": state["execution"], "step": step_id, "seq": seq}
    }
    if wait_seq is not None:
        annotations["flow"]["waits"] = True
    try:
        _status, sent = messaging.send_once(
            execution.shop_id,
            execution.conversation,
            request,
            f"flow:{state['execution']}:{seq}",
            actor=execution.actor,
            deadline=execution.deadline,
            annotations=annotations,
        )
    except BusinessRuleViolation as refused:
        return refused.code
    if wait_seq is not None and sent.get("status") == "failed":
        return "SEND_FAILED"
    return None


def _tags(execution: _Execution, tags: list[str], *, add: bool) -> None:
    from mkt_whatsapp.customers import actions

    wa_id = execution.value_of("customer.waId")
    actions.update_tags(execution.shop_id, wa_id, tags if add else [], [] if add else tags, actor=execution.actor)
    execution.forget_customer()


def _set_field(execution: _Execution, name: str, value: str) -> None:
    table = get_table()
    table.update(
        keys.shop_pk(execution.shop_id),
        keys.customer_sk(str(execution.state["customerKey"])),
        "SET customFields.#name = :value, fieldsUpdatedBy = :actor",
        {":value": value, ":actor": execution.actor},
        names={"#name": name},
        condition="attribute_exists(PK)",
    )
    execution.forget_customer()


def _assign(execution: _Execution, agent_id: str | None) -> None:
    from mkt_whatsapp.conversations import actions

    if agent_id:
        with contextlib.suppress(BusinessRuleViolation):  # closed meanwhile: nobody to hand it to
            actions.assign(execution.shop_id, execution.conversation, str(agent_id), actor=execution.actor)
        return
    get_table().update(
        keys.conversation_pk(str(execution.state["conversationId"])),
        keys.CONVERSATION_SK,
        "SET needsHuman = :true, automationStopped = :true, handoff = :handoff",
        {":true": True, ":handoff": {"reason": "flow", "detail": execution.state["flowId"], "at": now_iso()}},
    )


def _close(execution: _Execution) -> None:
    from mkt_whatsapp.conversations import actions

    actions.close(execution.shop_id, execution.conversation, actor=execution.actor)


def _ai_turn(execution: _Execution, step: dict[str, Any]) -> dict[str, Any] | None:
    """Let the step's AI agent answer the customer's latest turn; returns the end of the execution when it
    handed the conversation to a human (or could not answer), else None."""
    from mkt_whatsapp.ai import responder

    state = execution.state
    conversation = get_table().get(
        keys.conversation_pk(str(state["conversationId"])), keys.CONVERSATION_SK, consistent=True
    )
    if conversation is None:
        raise StepFailed("the conversation is gone")
    job = responder.Job(
        shop_id=execution.shop_id,
        conversation_id=str(state["conversationId"]),
        message_id=str(state.get("messageId") or state["execution"]),
        agent_id=str(step["aiAgentId"]),
        # The turn is the customer's message the flow holds: its time and id (two messages of one second
        # are two turns).
        turn_at=f"{conversation.get('lastInboundAt', '')}#{state.get('messageId') or state['execution']}",
        only_message=True,
    )
    try:
        outcome = responder.respond(job, deadline=execution.deadline, pinned=True)
    except ApiError as failure:
        logger.warning("AI step failed", extra={"code": failure.code})
        outcome = "handed_off"
    state["fresh"] = False
    if outcome in ("answered", "done", "superseded"):
        return None
    return _end(execution, "fallback", "ai_handoff" if outcome == "handed_off" else f"ai_{outcome}")


# --- the end -------------------------------------------------------------------------------------------


def _end(execution: _Execution, outcome: str, reason: str | None, *, needs_human: bool = False) -> dict[str, Any]:
    state = execution.state
    record(state, outcome, reason, needs_human=needs_human)
    return {**state, "kind": "end", "outcome": outcome, "reason": reason}


def record(state: dict[str, Any], outcome: str, reason: str | None, *, needs_human: bool = False) -> bool:
    """Record the execution's end once (counters, outcome, the conversation freed); flag the conversation
    for a human when asked."""
    table = get_table()
    recorded = flow_runs.finish(
        table,
        shop_id=str(state["shopId"]),
        flow_id=str(state["flowId"]),
        conversation_id=str(state["conversationId"]),
        execution=str(state["execution"]),
        outcome=outcome,
        reason=reason,
        steps=int(state.get("steps", 0)),
        at=now_iso(),
    )
    if recorded and needs_human:
        table.update_if(
            keys.conversation_pk(str(state["conversationId"])),
            keys.CONVERSATION_SK,
            "SET needsHuman = :true, handoff = :handoff",
            {":true": True, ":handoff": {"reason": "flow_" + outcome, "detail": reason, "at": now_iso()}},
            condition="attribute_exists(PK)",
        )
    logger.info(
        "flow execution ended",
        extra={"flowId": state["flowId"], "execution": state["execution"], "outcome": outcome, "reason": reason},
    )
    return recorded


def park(state: dict[str, Any], token: str, *, deadline: float | None) -> dict[str, Any]:
    """The callback task: keep the token where the customer's reply will find it, then ask the question."""
    table = get_table()
    waiting = dict(state.get("waiting") or {})
    seq = int(waiting.get("seq", 0))
    wait = {"token": token, "step": waiting.get("step"), "seq": seq, "kind": waiting.get("kind"), "since": now_iso()}
    before = flow_runs.set_wait(table, str(state["conversationId"]), str(state["execution"]), wait, int(state["steps"]))
    if before is None:
        return {"parked": False}  # stopped meanwhile: its StopExecution ends this task
    if waiting.get("kind") != "ask":
        # An AI conversation: a message the customer sent while the AI was answering is the next turn.
        pending = (before.get("flowRun") or {}).get("pending")
        if pending and pending.get("messageId") != state.get("messageId"):
            conversation_id = str(state["conversationId"])
            if flow_runs.take_wait(table, conversation_id, token, str(pending["messageId"])):
                waits.resume(token, pending)
        return {"parked": True}
    flow = definition(str(state["flowId"]), int(state["version"]))
    step = next(s for s in flow["steps"] if s["id"] == waiting.get("step"))
    content = step["content"]
    if int(waiting.get("attempt", 0)) > 0 and step.get("retryContent"):
        content = step["retryContent"]
    # The conversation as set_wait found it (read consistently by that very write): the send reads its
    # shop, status, window and customer, which the wait does not change.
    execution = _Execution(state=dict(state), flow=flow, conversation=before, deadline=deadline)
    refused = _send(execution, content, step_id=str(step["id"]), wait_seq=seq)
    if refused is not None:
        waits.question_failed(str(state["conversationId"]), str(state["execution"]), seq, refused)
    return {"parked": True}


def failed(state: dict[str, Any]) -> dict[str, Any]:
    """The machine's catch-all: the execution ends as an error (a fallback) and the conversation is
    flagged for a human."""
    error = state.get("error") or {}
    cause = str(error.get("Cause", ""))
    try:  # a Lambda error's cause is its JSON report: keep the type and message, not the stack trace
        report = json.loads(cause)
        cause = str(report.get("errorMessage", cause)) if isinstance(report, dict) else cause
    except ValueError:
        pass
    reason = f"{error.get('Error', 'error')}: {cause[:200]}"
    logger.error("flow step failed", extra={"execution": state.get("execution"), "reason": reason})
    record(state, "error", reason, needs_human=True)
    return {"recorded": True}
