"""Automation flows: what one execution of the welcome example (docs/flows/welcome-menu.json) costs, and how
soon its first message leaves.

The execution measured: a customer says "hi", the flow greets and asks (buttons), the customer presses
``menu_buy``, the flow tags the customer and sends the catalog message, and ends.

1. In process (moto with Step Functions execution on, the state machine's Lambda tasks run by the
   in-process step runner as local/stepfunctions.py routes them; the customers' messages handed to the
   inbound processor as its queue would), on a warm container (one execution before the measured one):
   - **state transitions** per execution: the execution history's ``*StateEntered`` events (what Step
     Functions Standard bills), against the target of 3 per wait plus 3;
   - **Lambda invocations** of the step runner per execution, by action (``run``, ``park``), counted where
     the state machine invokes it (and checked against the history's ``TaskScheduled`` events);
   - **AWS calls** the runner makes (DynamoDB, SQS, KMS, Step Functions), per executed step (the steps of
     the execution's ``RUN#`` record); DynamoDB write units (bench/dynamo_cost.py) and read units (from
     the items each read returned: 4 KB per unit, half for an eventually consistent read);
   - the **inbound processor's dispatch cost**: its calls for the message that starts the flow and for
     the reply that resumes it, each against the same customer's message that matches no flow;
   - the same for variants: 10 more non-waiting steps (5 ``send_message``, 5 ``add_tags``) before the
     question, which must not add a transition or an invocation, and a ``delay`` step before the question
     (a ``Wait`` state: 3 transitions, but 1 invocation, not 2).
2. The local stack as ``make dev`` runs it (``python -m local.stack`` in a subprocess, started as the
   end-to-end tests start it): the seconds from the signed webhook POST of a new customer's "hi" to the
   flow's first message at the stack's Graph simulator (its ``at``, on the same clock), polled from the
   simulator's ``/_simulator/requests``; p50 and p99 over 50 customers, one after the other, after one
   run that warms the stack (not counted).
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import statistics
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WELCOME = ROOT / "docs" / "flows" / "welcome-menu.json"
EXTRA_STEPS = 10
LATENCY_RUNS = 50
# Flows wait 1/1000 of their seconds here (the delay variant's minute in 1 s).
TIME_SCALE = "0.001"
READS = ("GetItem", "Query", "BatchGetItem")
WRITES = ("TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem")
RUNNER = "FlowRunnerFunction"
PROCESSOR = "InboundProcessorFunction"


# --- the flows -----------------------------------------------------------------------------------------


def welcome(shop_id: str) -> dict[str, Any]:
    flow: dict[str, Any] = json.loads(WELCOME.read_text())
    flow["shopId"] = shop_id
    return flow


def with_extra_steps(flow: dict[str, Any], count: int = EXTRA_STEPS) -> dict[str, Any]:
    """``flow`` with ``count`` non-waiting steps (``send_message`` and ``add_tags`` in turn) between the
    greeting and the question."""
    flow = copy.deepcopy(flow)
    steps = flow["steps"]
    greet = next(step for step in steps if step["id"] == "greet")
    extra: list[dict[str, Any]] = []
    for n in range(1, count + 1):
        following = f"extra_{n + 1}" if n < count else greet["next"]
        if n % 2:
            content = {"type": "text", "text": f"Tin {n}: ưu đãi cho {{{{customer.name}}}}"}
            extra.append({"id": f"extra_{n}", "type": "send_message", "content": content, "next": following})
        else:
            extra.append({"id": f"extra_{n}", "type": "add_tags", "tags": [f"step-{n}"], "next": following})
    greet["next"] = "extra_1"
    steps[steps.index(greet) + 1 : steps.index(greet) + 1] = extra
    flow["settings"] = {**flow.get("settings", {}), "maxSteps": 50}
    flow["flowName"] += f" (+{count} steps)"
    return flow


def with_delay(flow: dict[str, Any], seconds: int = 60) -> dict[str, Any]:
    """``flow`` with a ``delay`` step between the greeting and the question."""
    flow = copy.deepcopy(flow)
    steps = flow["steps"]
    greet = next(step for step in steps if step["id"] == "greet")
    steps.insert(steps.index(greet) + 1, {"id": "pause", "type": "delay", "seconds": seconds, "next": greet["next"]})
    greet["next"] = "pause"
    flow["flowName"] += " (+delay)"
    return flow


# --- what an execution's history says ------------------------------------------------------------------


def count_history(events: list[dict[str, Any]]) -> dict[str, Any]:
    """State transitions (``*StateEntered`` events), the states in order, and the Lambda tasks scheduled."""
    entered = [event for event in events if event["type"].endswith("StateEntered")]
    return {
        "state_transitions": len(entered),
        "states": [event["stateEnteredEventDetails"]["name"] for event in entered],
        "lambda_tasks_scheduled": sum(
            event["type"] in ("TaskScheduled", "LambdaFunctionScheduled") for event in events
        ),
    }


def transition_target(waits: int) -> int:
    """The state machine's design: Run, Route and Done (3), and per wait its state, Run and Route (3)."""
    return 3 + 3 * waits


def history(client: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = client.get_execution_history(**kwargs)
        events += page["events"]
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


# --- 1. in process: what one execution costs -------------------------------------------------------------


def _raw_item_size(raw: dict[str, Any]) -> int:
    from bench.ai_reply import _raw_item_size as size

    return size(raw)


class _Ledger:
    """The service's AWS calls, DynamoDB writes and read units, by who made them: the function (and the
    runner's action) running in the calling thread — the state machine runs the runner in moto's threads,
    the bench hands messages to the inbound processor in its own."""

    def __init__(self) -> None:
        self.local = threading.local()
        self.calls: dict[str, Counter[str]] = defaultdict(Counter)
        self.writes: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
        self.read_units: dict[str, float] = defaultdict(float)
        self.invocations: Counter[str] = Counter()
        self.finished: Counter[str] = Counter()
        self.invocation_ms: dict[str, list[float]] = defaultdict(list)

    def clear(self) -> None:
        for ledger in (self.calls, self.writes, self.read_units, self.invocation_ms):
            ledger.clear()
        self.invocations.clear()
        self.finished.clear()

    @property
    def label(self) -> str:
        return str(getattr(self.local, "label", None) or "bench")

    def wrap(self, lambdas: Any) -> None:
        original = lambdas.invoke

        def invoke(name: str, event: dict[str, Any]) -> Any:
            label = f"{name}:{event.get('action')}" if name == RUNNER else name
            previous = getattr(self.local, "label", None)
            self.local.label = label
            self.invocations[label] += 1
            started = time.perf_counter()
            try:
                return original(name, event)
            finally:
                self.invocation_ms[label].append((time.perf_counter() - started) * 1000)
                self.finished[label] += 1
                self.local.label = previous

        lambdas.invoke = invoke

    def register(self, events: Any) -> None:
        def on_call(model: Any, **_: Any) -> None:
            self.calls[self.label][f"{model.service_model.service_name}:{model.name}"] += 1

        def on_parameters(model: Any, params: dict[str, Any], **_: Any) -> None:
            if model.name in WRITES:
                self.writes[self.label].append((model.name, json.loads(json.dumps(params, default=str))))
            elif model.name in READS:
                self.local.consistent = bool(params.get("ConsistentRead"))

        def on_read(model: Any, parsed: dict[str, Any], **_: Any) -> None:
            if model.name not in READS:
                return
            raw_items = [parsed["Item"]] if parsed.get("Item") else list(parsed.get("Items", []))
            for table_items in (parsed.get("Responses") or {}).values():
                raw_items += table_items
            units = max(1, math.ceil(sum(_raw_item_size(raw) for raw in raw_items) / 4096))
            self.read_units[self.label] += units if getattr(self.local, "consistent", False) else units / 2

        events.register("before-call", on_call)
        events.register("before-parameter-build.dynamodb", on_parameters)
        events.register("after-call.dynamodb", on_read)


def _wait_for(predicate: Any, what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.01)
    return found


def _create_flow(stack: Any, body: dict[str, Any]) -> str:
    from local.make_events import http_event

    created = stack.lambdas.invoke(
        "FlowsFunction",
        http_event("POST", "/flows", "/flows", headers=stack.auth_headers(), body=json.dumps(body).encode()),
    )
    assert created["statusCode"] == 201, created
    flow_id = str(json.loads(created["body"])["data"]["flowId"])
    activated = stack.lambdas.invoke(
        "FlowsFunction",
        http_event(
            "POST",
            "/flows/{flowId}/activate",
            f"/flows/{flow_id}/activate",
            headers=stack.auth_headers(),
            path_parameters={"flowId": flow_id},
        ),
    )
    assert activated["statusCode"] == 200, activated
    return flow_id


_WAMIDS = iter(range(1, 1_000_000))
_last_second = 0


def _next_second() -> int:
    """A timestamp (Meta's: whole seconds) later than the bench's previous message's: a customer's next
    message moves its conversation's ``lastMessageAt``, the GSI1 sort key, as it does when it comes a
    second or more later. Sent in the same second, it would not, and its write units would be a GSI1
    write fewer than a message's usually are."""
    global _last_second
    while int(time.time()) <= _last_second:
        time.sleep(0.02)
    _last_second = int(time.time())
    return _last_second


def _message(stack: Any, wa_id: str, message: dict[str, Any]) -> None:
    """Hand the customer's message to the inbound processor, as its queue would."""
    from bench.stack import delivery
    from local.make_events import sqs_event

    body = {"from": wa_id, "id": f"wamid.BENCH.FLOW.{next(_WAMIDS)}", "timestamp": str(_next_second()), **message}
    value = json.loads(delivery({"contacts": [{"profile": {"name": "Chị Hoa"}, "wa_id": wa_id}], "messages": [body]}))
    change = value["entry"][0]["changes"][0]
    outcome = stack.lambdas.invoke(
        PROCESSOR, sqs_event([json.dumps({"entryId": "1", "field": "messages", "value": change["value"]})])
    )
    assert outcome == {"batchItemFailures": []}, outcome


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": {"body": text}}


def _button(reply_id: str, title: str) -> dict[str, Any]:
    return {
        "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": {"id": reply_id, "title": title}},
    }


def _conversation_run(table: Any, wa_id: str) -> dict[str, Any]:
    """The customer's conversation's ``flowRun`` (read with the bench's own client: not counted)."""
    from boto3.dynamodb.conditions import Attr

    items = table.scan(FilterExpression=Attr("entity").eq("conversation") & Attr("customerWaId").eq(wa_id))["Items"]
    return dict((items[0].get("flowRun") if items else None) or {})


def _run_record(table: Any, flow_id: str, execution: str) -> dict[str, Any]:
    from mkt_whatsapp.store import keys

    item = table.get_item(Key={"PK": keys.flow_pk(flow_id), "SK": f"RUN#{execution}"}, ConsistentRead=True)
    return dict(item.get("Item") or {})


def _execution(stack: Any, ledger: _Ledger, flow_id: str, wa_id: str, *, delay: bool = False) -> dict[str, Any]:
    """One execution of the welcome path ("hi", then ``menu_buy``) for a customer the shop knows, with the
    processor's cost of a message that matches no flow measured first."""
    from bench import dynamo_cost

    table = stack.session.resource("dynamodb").Table(stack.physical["Table"])
    sfn = stack.session.client("stepfunctions")
    _message(stack, wa_id, _text("alo"))  # the customer is known from now on
    ledger.clear()
    before = dynamo_cost.snapshot(stack.physical["Table"])
    _message(stack, wa_id, _text("alo"))
    baseline = dict(ledger.calls[PROCESSOR])
    baseline_wru = dynamo_cost.write_units_of(
        ledger.writes[PROCESSOR], before, dynamo_cost.snapshot(stack.physical["Table"])
    )["total"]
    ledger.clear()
    before = dynamo_cost.snapshot(stack.physical["Table"])
    _message(stack, wa_id, _text("hi"))
    started = dict(ledger.calls[PROCESSOR])
    start_writes = list(ledger.writes[PROCESSOR])
    run = _wait_for(lambda: (r := _conversation_run(table, wa_id)) and r.get("wait") and r, "the question's wait")
    _wait_for(lambda: ledger.finished[f"{RUNNER}:park"] >= 1, "the question to be sent")
    processor_before = Counter(ledger.calls[PROCESSOR])
    _message(stack, wa_id, _button("menu_buy", "Mua hàng"))
    resumed = dict(Counter(ledger.calls[PROCESSOR]) - processor_before)
    resume_writes = ledger.writes[PROCESSOR][len(start_writes) :]
    arn = str(run["executionArn"])
    _wait_for(lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING", "the execution to end")
    after = dynamo_cost.snapshot(stack.physical["Table"])
    assert sfn.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
    record = _run_record(table, flow_id, str(run["execution"]))
    assert record.get("outcome") == "completed", record
    steps = int(record["steps"])
    counted = count_history(history(sfn, arn))
    runner_labels = [label for label in ledger.calls if label.startswith(RUNNER)]
    runner_calls: Counter[str] = Counter()
    runner_writes: list[tuple[str, dict[str, Any]]] = []
    for label in runner_labels:
        runner_calls.update(ledger.calls[label])
        runner_writes += ledger.writes[label]
    calls = sum(runner_calls.values())
    invocations = {
        label.removeprefix(f"{RUNNER}:"): n
        for label, n in sorted(ledger.invocations.items())
        if label.startswith(RUNNER)
    }
    waits = 1
    return {
        "steps_executed": steps,
        "waits": {"customer": waits, "delay": 1 if delay else 0},
        **counted,
        "transition_target": transition_target(waits + (1 if delay else 0)),
        "runner_invocations": sum(invocations.values()),
        "runner_invocations_by_action": invocations,
        "runner_invocation_ms": {
            label.removeprefix(f"{RUNNER}:"): [round(ms, 1) for ms in samples]
            for label, samples in sorted(ledger.invocation_ms.items())
            if label.startswith(RUNNER)
        },
        "runner_aws_calls": calls,
        "runner_aws_calls_by_operation": dict(sorted(runner_calls.items())),
        "runner_aws_calls_per_step": round(calls / steps, 2),
        "runner_write_units": dynamo_cost.write_units_of(runner_writes, before, after)["total"],
        "runner_read_units": round(
            sum(units for label, units in ledger.read_units.items() if label.startswith(RUNNER)), 1
        ),
        "dispatch": {
            "processor_calls_no_flow": {
                "aws_calls": sum(baseline.values()),
                "by_operation": dict(sorted(baseline.items())),
            },
            "processor_calls_start": {
                "aws_calls": sum(started.values()),
                "by_operation": dict(sorted(started.items())),
            },
            "processor_calls_resume": {
                "aws_calls": sum(resumed.values()),
                "by_operation": dict(sorted(resumed.items())),
            },
            "extra_calls_to_start": _difference(started, baseline),
            "extra_calls_to_resume": _difference(resumed, baseline),
            "processor_write_units_no_flow": baseline_wru,
            "processor_write_units_start": dynamo_cost.write_units_of(start_writes, before, after)["total"],
            "processor_write_units_resume": dynamo_cost.write_units_of(resume_writes, before, after)["total"],
        },
    }


def _difference(measured: dict[str, int], baseline: dict[str, int]) -> dict[str, Any]:
    operations = sorted(set(measured) | set(baseline))
    by_operation = {op: measured.get(op, 0) - baseline.get(op, 0) for op in operations}
    return {
        "aws_calls": sum(measured.values()) - sum(baseline.values()),
        "by_operation": {op: n for op, n in by_operation.items() if n},
    }


def measure_executions() -> dict[str, Any]:
    from bench.stack import SHOP, bench_stack
    from mkt_whatsapp.core import aws

    os.environ["FLOW_TIME_SCALE"] = TIME_SCALE
    ledger = _Ledger()
    results: dict[str, Any] = {}
    with bench_stack("bench-flows", flows=True) as stack:
        # Registered before any client exists: clients copy the session's hooks when made.
        ledger.register(aws.session().events)
        ledger.wrap(stack.lambdas)
        stack.connect_account()
        variants = {
            "welcome-menu": welcome(SHOP),
            f"welcome-menu + {EXTRA_STEPS} non-waiting steps": with_extra_steps(welcome(SHOP)),
            "welcome-menu + a delay": with_delay(welcome(SHOP)),
        }
        for n, (label, body) in enumerate(variants.items()):
            flow_id = _create_flow(stack, body)
            delay = "delay" in label
            _execution(stack, ledger, flow_id, f"849300{n}0000", delay=delay)  # warms the container
            results[label] = _execution(stack, ledger, flow_id, f"849300{n}0001", delay=delay)
            # One flow active at a time: the next variant's "hi" must start the next variant.
            from local.make_events import http_event

            stack.lambdas.invoke(
                "FlowsFunction",
                http_event(
                    "POST",
                    "/flows/{flowId}/deactivate",
                    f"/flows/{flow_id}/deactivate",
                    headers=stack.auth_headers(),
                    path_parameters={"flowId": flow_id},
                ),
            )
    base, extra = results["welcome-menu"], results[f"welcome-menu + {EXTRA_STEPS} non-waiting steps"]
    results["extra_steps_add_no_transition"] = (base["state_transitions"], base["runner_invocations"]) == (
        extra["state_transitions"],
        extra["runner_invocations"],
    )
    return results


# --- 2. the local stack: webhook to the first message ------------------------------------------------------


def measure_latency(runs: int = LATENCY_RUNS) -> dict[str, Any]:
    import httpx

    from bench.bulk import _local_stack
    from bench.inbound import percentile
    from local import defaults
    from mkt_whatsapp.whatsapp.signature import sign

    shop, phone = "bench-flows", "5550201"
    from bench import bulk

    bulk.PHONE_NUMBERS.setdefault(shop, phone)
    with _local_stack(shop) as (stack, _client):
        found = re.search(r"Graph API: (\S+)", stack.ready_line)
        assert found, stack.ready_line
        graph = found.group(1)
        auth = {"Authorization": f"Bearer {stack.token(shop)}"}
        body = welcome(shop)
        created = httpx.post(f"{stack.api}/flows", json=body, headers=auth, timeout=30)
        assert created.status_code == 201, created.text
        flow_id = created.json()["data"]["flowId"]
        activated = httpx.post(f"{stack.api}/flows/{flow_id}/activate", headers=auth, timeout=30)
        assert activated.status_code == 200, activated.text
        secret = stack.env.get("META_APP_SECRET") or defaults.LOCAL_DEFAULTS["META_APP_SECRET"]
        http = httpx.Client(timeout=30)

        def first_message_at(wa_id: str) -> float | None:
            for request in http.get(f"{graph}/_simulator/requests").json()["requests"]:
                sent = request.get("body")
                if (
                    request["path"].endswith("/messages")
                    and isinstance(sent, dict)
                    and sent.get("to") == wa_id
                    and sent.get("type") == "text"  # the greeting
                ):
                    return float(request["at"])
            return None

        def one(n: int) -> tuple[float, float]:
            wa_id = f"84940{n:06d}"
            message = {"from": wa_id, "id": f"wamid.BENCH.LATENCY.{n}", "timestamp": str(int(time.time()))}
            raw = json.dumps(
                {
                    "object": "whatsapp_business_account",
                    "entry": [
                        {
                            "id": "1",
                            "changes": [
                                {
                                    "field": "messages",
                                    "value": {
                                        "messaging_product": "whatsapp",
                                        "metadata": {"display_phone_number": "15550201", "phone_number_id": phone},
                                        "contacts": [{"profile": {"name": "Khách"}, "wa_id": wa_id}],
                                        "messages": [{**message, "type": "text", "text": {"body": "hi"}}],
                                    },
                                }
                            ],
                        }
                    ],
                },
                ensure_ascii=True,
            ).encode()
            headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw, secret)}
            posted = time.time()
            answer = http.post(f"{stack.api}/webhooks", content=raw, headers=headers)
            answered = time.time() - posted
            assert answer.status_code == 200, answer.text
            at = _wait_for(lambda: first_message_at(wa_id), f"the first message to {wa_id}", timeout=60)
            return at - posted, answered

        one(0)  # warms the stack's containers: not counted
        samples = [one(n) for n in range(1, runs + 1)]
        http.close()
    seconds = [s for s, _ in samples]
    answers = [a for _, a in samples]
    return {
        "runs": runs,
        "p50_ms": round(percentile(seconds, 0.5) * 1000, 1),
        "p99_ms": round(percentile(seconds, 0.99) * 1000, 1),
        "mean_ms": round(statistics.mean(seconds) * 1000, 1),
        "max_ms": round(max(seconds) * 1000, 1),
        "webhook_answer_p50_ms": round(percentile(answers, 0.5) * 1000, 1),
        "note": "local stack (moto's server, SQS pollers long-polling 1 s, in-process Lambdas); not AWS latency",
    }


def measure() -> dict[str, Any]:
    return {"executions": measure_executions(), "first_message_latency": measure_latency()}


def measure_apart() -> dict[str, Any]:
    """:func:`measure` in a process of its own: moto with Step Functions execution on and the Lambda seam
    installed, which the other benchmarks' in-process stacks must not inherit (nor this one theirs)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "bench.flows", "--json"], capture_output=True, text=True, timeout=1800, check=True
    )
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def report(figures: dict[str, Any]) -> None:
    executions = figures["executions"]
    print('\nFlows: one execution of the welcome example ("hi", greeting, question, menu_buy, tag, catalog)')
    print("  (moto in-process executing statemachines/flow.asl.json, the step runner in-process, warm)")
    for label, run in executions.items():
        if not isinstance(run, dict):
            continue
        target = run["transition_target"]
        mark = "ok " if run["state_transitions"] <= target else "OVER"
        print(
            f"  {mark} {label}: {run['steps_executed']} steps; {run['state_transitions']} state transitions"
            f" (target <= {target}) {run['states']}; {run['runner_invocations']} runner invocations"
            f" {run['runner_invocations_by_action']} (history: {run['lambda_tasks_scheduled']} Lambda tasks)"
        )
        print(
            f"      runner: {run['runner_aws_calls']} AWS calls = {run['runner_aws_calls_per_step']} per step"
            f" {run['runner_aws_calls_by_operation']}; {run['runner_write_units']} WRU, {run['runner_read_units']} RRU;"
            f" ms per invocation (in-process, moto) {run['runner_invocation_ms']}"
        )
        dispatch = run["dispatch"]
        no_flow = dispatch["processor_calls_no_flow"]["aws_calls"]
        print(
            f"      inbound processor: a message that matches no flow {no_flow} calls,"
            f" {dispatch['processor_write_units_no_flow']} WRU; extra to start {dispatch['extra_calls_to_start']}"
            f" ({dispatch['processor_write_units_start']} WRU in all); extra to resume"
            f" {dispatch['extra_calls_to_resume']} ({dispatch['processor_write_units_resume']} WRU in all)"
        )
    print(
        f"  extra non-waiting steps add no transition and no invocation: {executions['extra_steps_add_no_transition']}"
    )
    latency = figures["first_message_latency"]
    print(
        f"  webhook POST to the first message at the Graph simulator (local stack, {latency['runs']} new customers):"
        f" p50 {latency['p50_ms']} ms, p99 {latency['p99_ms']} ms (mean {latency['mean_ms']}, max {latency['max_ms']});"
        f" webhook answered p50 {latency['webhook_answer_p50_ms']} ms"
    )


if __name__ == "__main__":
    import sys

    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Bench")
    part = measure_executions if "--executions" in sys.argv else measure
    if "--json" in sys.argv:
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):  # the handlers' metric lines
            figures = part()
        print(json.dumps(figures))
    else:
        figures = part()
        if part is measure:
            report(figures)
        else:
            print(json.dumps(figures, indent=2))
