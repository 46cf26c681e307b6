"""Campaigns (issue 14): what one campaign message costs in AWS, measured on one real campaign run in
process (moto, the Graph simulator, the functions loaded as Lambda would), from the launch to Meta's last
status and the analytics counters. ``make cost`` prices the figures (bench/cost.py, per 1,000 messages).

Set up, not counted: a shop connected with its WhatsApp Business Account, its templates synced from the
Graph simulator (``spring_sale``: marketing, approved), and :data:`CUSTOMERS` opted-in customers tagged
``vip`` written to the table directly, as the inbound processor keeps them.

Counted, phase by phase — each phase one function's invocations (their wall time in process, the modules
imported beforehand; AWS calls; DynamoDB write units by bench/dynamo_cost.py, each written item billed against
its image before the phase's first write to it and at the phase's end; read units from the items each read
returned), and the SQS requests its event source mapping makes (ReceiveMessage with messages,
DeleteMessageBatch):

- **launch**: ``POST /campaigns`` and ``POST /campaigns/{id}/launch`` through CampaignsFunction (an HTTP
  API event each); the launch starts the campaign's execution (moto records it, does not run it).
- **fan-out**: functions/campaign_runner invoked as statemachines/campaign.asl.json invokes it — its first
  input the execution's input, read from Step Functions, each next one its answer — while it answers
  ``step``: a page of the audience (250, the setting's default; template.yaml sets none) a step, each
  recipient put and enqueued on the outbound queue (SendMessageBatch, ten a call).
- **send**: the outbound queue drained to SenderFunction in its template batches (10), as the event source
  mapping delivers them, at the send rate's pace (80 a second per number, template.yaml's default); its
  container starts with nothing cached (account, token: one KMS decrypt).
- **poll**: the runner's step after its ``Pause`` (the wait it asked for while the sender sends): nothing
  queued any more, the campaign ``completed``, ``end``. A wait again (something still queued) drains the
  queue again and steps again.
- **statuses**: Meta's ``sent``, ``delivered`` and ``read`` for every message, each status a signed webhook
  of its own (with ``pricing``: billable, marketing) to WebhooksFunction, then the inbound queue drained to
  InboundProcessorFunction in its batches of 10; one phase per status and function.
- **counters**: after the sends and after each status, the table's stream delivered to StatsFunction as its
  event source mapping does (template.yaml's filter; local/stream_worker.py reads 1,000 records a batch and
  delivers the filter's survivors — Lambda fills a batch after filtering, so at most these invocations).

State transitions are counted by following the ASL file through the run: entering ``Step``, ``Route``, the
state ``Route`` chooses for the runner's answer (``Pause``/``WaitUntil``, then ``Step`` again), ``Done``.

``python -m bench campaign-messages`` (or ``python -m bench.campaign_messages``) refreshes this section
(``campaign_messages``) of bench/results/latest.json alone; ``python -m bench.campaign_messages --json``
prints the figures instead; ``--customers N``, ``--page-size N`` measure another size.
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import dynamo_cost

SECTION = "campaign_messages"
# One page of the audience at the page size's default: about two minutes in process (moto's DynamoDB is the
# bench's cost, growing with the table); make cost scales the campaign to 1,000 messages.
CUSTOMERS = 250
TEMPLATE = "spring_sale"  # the Graph simulator's approved marketing template (header image, name, button)
SPRING_IMAGE = "https://cdn.example.com/bench/spring.jpg"
STATUSES = ("sent", "delivered", "read")
PRICING = {"billable": True, "pricing_model": "PMP", "category": "marketing", "type": "regular"}
ASL = Path(__file__).resolve().parents[1] / "statemachines" / "campaign.asl.json"
READS = ("GetItem", "BatchGetItem", "Query")

RUNNER = "CampaignRunnerFunction"
SENDER = "SenderFunction"
RECEIVER = "WebhooksFunction"
PROCESSOR = "InboundProcessorFunction"
STATS = "StatsFunction"
CAMPAIGNS = "CampaignsFunction"


# --- the state machine, as its ASL file says ------------------------------------------------------------


@dataclass
class StateMachine:
    """statemachines/campaign.asl.json followed through a run: the states entered (each a Standard state
    transition), the task's state and the choice that routes on its answer's ``next``."""

    definition: dict[str, Any]
    entered: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path = ASL) -> StateMachine:
        return cls(json.loads(path.read_text()))

    @property
    def task(self) -> str:
        return str(self.definition["StartAt"])

    def enter(self, state: str) -> dict[str, Any]:
        self.entered.append(state)
        found: dict[str, Any] = self.definition["States"][state]
        return found

    def start(self) -> None:
        """The execution starts: its first state (the task) is entered."""
        self.enter(self.task)

    def after_task(self, answer: dict[str, Any]) -> str:
        """The task answered ``answer``: enter its ``Next`` (the choice) and the state the choice picks for
        the answer's ``next`` (the task again, a wait, or the end); returns that state."""
        choice = self.enter(str(self.definition["States"][self.task]["Next"]))
        chosen = str(choice["Default"])
        for rule in choice["Choices"]:
            if answer.get(str(rule["Variable"]).removeprefix("$.")) == rule["StringEquals"]:
                chosen = str(rule["Next"])
                break
        self.enter(chosen)
        return chosen

    def resume(self, wait: str) -> None:
        """A wait is over: enter its ``Next`` (the task)."""
        following = str(self.definition["States"][wait]["Next"])
        if following != self.task:
            raise ValueError(f"{wait} does not lead back to {self.task}")
        self.enter(following)

    def is_wait(self, state: str) -> bool:
        return bool(self.definition["States"][state]["Type"] == "Wait")

    def is_end(self, state: str) -> bool:
        return bool(self.definition["States"][state]["Type"] in ("Succeed", "Fail"))


# --- what each phase costs --------------------------------------------------------------------------------


@dataclass
class Phase:
    function: str
    invocations: int = 0
    invocation_ms: list[float] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    mapping_requests: Counter[str] = field(default_factory=Counter)
    empty_receives: int = 0
    read_units: float = 0.0
    write_units: dict[str, Any] = field(default_factory=dict)
    writes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    seconds: float = 0.0  # the phase's wall time in the bench (the emulator's and the bench's own work included)

    def figures(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "invocations": self.invocations,
            "billed_ms": sum(max(1, math.ceil(ms)) for ms in self.invocation_ms),
            "mean_ms": round(sum(self.invocation_ms) / len(self.invocation_ms), 2) if self.invocation_ms else 0,
            "aws_calls": sum(self.calls.values()),
            "by_operation": dict(sorted(self.calls.items())),
            "event_source_mapping_requests": dict(sorted(self.mapping_requests.items())),
            "empty_receives_not_counted": self.empty_receives,
            "write_units": self.write_units,
            "read_units": round(self.read_units, 1),
            "bench_seconds": round(self.seconds, 2),
        }


class Ledger:
    """The service's AWS calls, writes and read units, and the functions' invocations, by phase. The bench
    runs one phase at a time, so whatever the service does meanwhile (the sender's threads included) is the
    phase's. Nothing is counted outside a phase (the set-up)."""

    def __init__(self, stack: Any) -> None:
        self.stack = stack
        self.phases: dict[str, Phase] = {}
        self.current: Phase | None = None
        self.images = dynamo_cost.ItemImages()
        self.lock = threading.Lock()
        self.local = threading.local()

    @contextmanager
    def phase(self, name: str, function: str) -> Iterator[Phase]:
        """Count what happens in the block as phase ``name`` (again: added to it)."""
        phase = self.phases.setdefault(name, Phase(function))
        self.stack.calls.clear()
        self.images = dynamo_cost.ItemImages()
        writes: list[tuple[str, dict[str, Any]]] = []
        phase.writes = writes
        self.current = phase
        started = time.perf_counter()
        try:
            yield phase
        finally:
            self.current = None
            phase.seconds += time.perf_counter() - started
            phase.calls.update(self.stack.calls)
            units = dynamo_cost.write_units_of(writes, self.images.before, self.images.after())
            phase.write_units = _add_units(phase.write_units, units)

    def watch_dynamodb(self, events: Any) -> None:
        """Record the service's writes (each item's image read before its first write of the phase) and
        meter its reads; registered on its session before any client of it exists."""

        def on_parameters(model: Any, params: dict[str, Any], **_: Any) -> None:
            phase = self.current
            if phase is None:
                return
            plain_params = json.loads(json.dumps(params, default=str))
            if model.name in dynamo_cost.WRITES:
                self.images.note(model.name, plain_params)
                with self.lock:
                    phase.writes.append((model.name, plain_params))
            elif model.name in READS:
                self.local.params = plain_params

        def on_read(model: Any, parsed: dict[str, Any], **_: Any) -> None:
            if model.name in READS and self.current is not None:
                units = dynamo_cost.read_units(model.name, self.local.params, parsed)
                with self.lock:
                    self.current.read_units += units

        events.register("before-parameter-build.dynamodb", on_parameters)
        events.register("after-call.dynamodb", on_read)

    def watch_mapping(self, client: Any) -> None:
        """Count the requests the event source mappings make on ``client`` (the bench's own SQS client): a
        receive that found nothing is Lambda's idle polling (``make cost``'s idle table), counted apart."""

        def on_call(model: Any, parsed: dict[str, Any], **_: Any) -> None:
            if self.current is None:
                return
            if model.name == "ReceiveMessage" and not parsed.get("Messages"):
                self.current.empty_receives += 1
            else:
                self.current.mapping_requests[f"sqs:{model.name}"] += 1

        client.meta.events.register("after-call.sqs", on_call)

    def watch_invocations(self, lambdas: Any) -> None:
        original = lambdas.invoke

        def invoke(name: str, event: dict[str, Any]) -> Any:
            started = time.perf_counter()
            try:
                return original(name, event)
            finally:
                phase = self.current
                if phase is not None:
                    if name != phase.function:
                        raise AssertionError(f"{name} ran in a phase of {phase.function}")
                    phase.invocations += 1
                    phase.invocation_ms.append((time.perf_counter() - started) * 1000)

        lambdas.invoke = invoke


def _add_units(total: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    by_target = Counter(total.get("by_target", {}))
    by_target.update(more["by_target"])
    return {
        "total": int(total.get("total", 0)) + int(more["total"]),
        "by_target": dict(by_target),
        "items_written": int(total.get("items_written", 0)) + int(more["items_written"]),
    }


# --- the set-up (not counted) ----------------------------------------------------------------------------


def add_customers(shop_id: str, count: int) -> list[str]:
    """``count`` opted-in customers tagged ``vip``, written as the inbound processor keeps them (their last
    conversation closed), created a second apart; returns their WhatsApp ids."""
    from mkt_whatsapp.core import text
    from mkt_whatsapp.store import customers as customer_store
    from mkt_whatsapp.store import get_table

    table = get_table()
    wa_ids = []
    for n in range(count):
        wa_id, name = f"8497{n:07d}", f"Khách {n}"
        created = (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        item = {
            "customerKey": wa_id,
            "id": str(uuid.uuid4()),
            "shopId": shop_id,
            "waId": wa_id,
            "bsuid": None,
            "name": name,
            "searchName": text.fold(name),
            "phoneDigits": wa_id,
            "tags": ["vip"],
            "customFields": {},
            "consent": {"status": "opted_in", "timestamp": created, "source": "web"},
            "createdAt": created,
            "lastContactedAt": "2026-11-01T00:00:00Z",
            "conversationCount": 0,
            "version": 1,
        }
        table.transact_write(
            [
                customer_store.new_customer_op(table, shop_id, item),
                customer_store.identity_op(table, shop_id, wa_id, wa_id),
            ]
        )
        wa_ids.append(wa_id)
    return wa_ids


def campaign_body(shop_id: str) -> dict[str, Any]:
    return {
        "shopId": shop_id,
        "name": "Bench: spring sale",
        "template": {
            "name": TEMPLATE,
            "language": "vi",
            "components": [
                {"type": "header", "parameters": [{"type": "image", "image": {"link": SPRING_IMAGE}}]},
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "{{customer.name|bạn}}"},
                        {"type": "text", "text": "20%"},
                    ],
                },
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": "0",
                    "parameters": [{"type": "payload", "payload": "spring_view"}],
                },
            ],
        },
        "audience": {"tags": ["vip"]},
    }


def _api(stack: Any, method: str, route: str, path: str, function: str, **kwargs: Any) -> dict[str, Any]:
    from local.make_events import http_event

    body = kwargs.pop("body", None)
    event = http_event(
        method,
        route,
        path,
        headers=stack.auth_headers(),
        body=json.dumps(body).encode() if body is not None else None,
        **kwargs,
    )
    answer = stack.lambdas.invoke(function, event)
    assert answer["statusCode"] in (200, 201), answer
    data: dict[str, Any] = json.loads(answer["body"])["data"]
    return data


# --- the event sources --------------------------------------------------------------------------------


def queue_poller(stack: Any, queue: str, function: str, client: Any) -> Any:
    """Lambda's event source mapping of ``function`` on ``queue`` as template.yaml describes it."""
    from local import template as tpl
    from local.sqs_worker import EventSourceMapping, SqsPoller

    [props] = [e["Properties"] for e in tpl.functions()[function].events.values() if e["Type"] == "SQS"]
    url = stack.physical[queue]
    arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    mapping = EventSourceMapping(
        function=function,
        queue_url=url,
        queue_arn=arn,
        batch_size=int(props.get("BatchSize", 10)),
        report_batch_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
    )
    return SqsPoller(stack.lambdas, mapping, client, "us-east-1", wait_seconds=0)


def stream_poller(stack: Any) -> Any:
    """Lambda's event source mapping of the stats function on the table's stream, as template.yaml says."""
    from local import template as tpl
    from local.stream_worker import StreamPoller, stream_mapping

    [props] = [e["Properties"] for e in tpl.functions()[STATS].events.values() if e["Type"] == "DynamoDB"]
    mapping = stream_mapping(STATS, stack.physical["Table"], props)
    return StreamPoller(
        stack.lambdas, mapping, stack.session.client("dynamodb"), stack.session.client("dynamodbstreams"), "us-east-1"
    )


def drain(poller: Any) -> int:
    delivered = 0
    while received := poller.poll_once():
        delivered += received
    return delivered


# --- the run ----------------------------------------------------------------------------------------------


def run_campaign(stack: Any, customers: int) -> dict[str, Any]:
    """One campaign to ``customers`` customers, from its launch to Meta's read statuses and their counters,
    counted phase by phase (see the module)."""
    from bench.stack import PHONE_NUMBER_ID, SHOP
    from local.lambdas import forget_container_state
    from mkt_whatsapp.analytics import campaigns as campaign_analytics
    from mkt_whatsapp.core import aws
    from mkt_whatsapp.core.settings import get_settings
    from mkt_whatsapp.store import campaigns as campaign_store
    from mkt_whatsapp.store import get_table

    ledger = Ledger(stack)
    ledger.watch_dynamodb(aws.session().events)  # before any client of the service's exists
    ledger.watch_invocations(stack.lambdas)
    mapping_sqs = stack.session.client("sqs")
    ledger.watch_mapping(mapping_sqs)
    outbound = queue_poller(stack, "OutboundQueue", SENDER, mapping_sqs)
    inbound = queue_poller(stack, "InboundQueue", PROCESSOR, mapping_sqs)
    stats = stream_poller(stack)

    waba_id = "9" + PHONE_NUMBER_ID
    stack.connect_account(waba_id)
    _api(stack, "POST", "/templates/sync", "/templates/sync", "TemplatesFunction", body={"shopId": SHOP})
    wa_ids = add_customers(SHOP, customers)
    for function in (CAMPAIGNS, RUNNER, SENDER, RECEIVER, PROCESSOR, STATS):
        stack.lambdas.module(function)  # imported, as a warm container's: the phases time invocations alone
    drain(stats)  # the set-up's changes: none for the counters, passed over
    stack.simulator.state.requests.clear()

    with ledger.phase("launch", CAMPAIGNS):
        created = _api(stack, "POST", "/campaigns", "/campaigns", CAMPAIGNS, body=campaign_body(SHOP))
        campaign_id = str(created["campaignId"])
        _api(
            stack,
            "POST",
            "/campaigns/{campaignId}/launch",
            f"/campaigns/{campaign_id}/launch",
            CAMPAIGNS,
            path_parameters={"campaignId": campaign_id},
        )
    sfn = stack.session.client("stepfunctions")
    [execution] = sfn.list_executions(stateMachineArn=stack.physical["CampaignStateMachine"])["executions"]
    run: dict[str, Any] = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])

    machine = StateMachine.load()
    answers: list[str] = []

    def steps(phase: str) -> str:
        """The runner's steps as the state machine runs them (the task entered already), until it waits or
        ends; returns the state it waits or ends in."""
        nonlocal run
        with ledger.phase(phase, RUNNER):
            while True:
                run = stack.lambdas.invoke(RUNNER, {"action": "step", "run": run})
                answers.append(str(run["next"]))
                state = machine.after_task(run)
                if state != machine.task:
                    return state

    machine.start()
    state = steps("fan-out")
    # The sender's container starts with nothing cached (another Lambda's than the API's that connected the
    # shop): its first batch reads the account and decrypts the token, as a new container does.
    forget_container_state(clients=False)
    sends_started = time.perf_counter()
    while machine.is_wait(state):
        with ledger.phase("send", SENDER):  # the sender sends while the execution waits
            drain(outbound)
        machine.resume(state)
        state = steps("poll")
    send_seconds = time.perf_counter() - sends_started
    if not machine.is_end(state):
        raise AssertionError(f"the campaign's execution stopped in {state}")
    with ledger.phase("counters: sends", STATS):
        drain(stats)

    # What reached Meta: one template message per customer, each with the wamid it answered.
    sends = [
        r
        for r in list(stack.simulator.state.requests)
        if r["path"].endswith("/messages") and isinstance(r.get("body"), dict) and r["body"].get("type") == "template"
    ]
    sent_to = Counter(str(r["body"]["to"]) for r in sends)
    for status_number, status in enumerate(STATUSES, start=1):
        with ledger.phase(f"statuses {status}: receiver", RECEIVER):
            for r in sends:
                webhook(stack, status_webhook(str(r["wamid"]), str(r["body"]["to"]), status, status_number))
        with ledger.phase(f"statuses {status}: processor", PROCESSOR):
            drain(inbound)
        with ledger.phase(f"counters: {status}", STATS):
            drain(stats)

    table = get_table()
    campaign = campaign_store.get(table, campaign_id, consistent=True) or {}
    funnel = campaign_analytics.funnel(table, campaign_id)
    return {
        "customers": customers,
        "page_size": get_settings().campaign_page_size,
        "send_rate_per_second": get_settings().send_rate_per_second,
        "campaign_status": campaign.get("status"),
        "messages_sent": len(sends),
        "sent_once_each": sorted(sent_to) == sorted(wa_ids) and set(sent_to.values()) == {1},
        "send_seconds": round(send_seconds, 2),
        "runner_answers": answers,
        "states": machine.entered,
        "state_transitions": len(machine.entered),
        "funnel": funnel,
        "phases": {name: phase.figures() for name, phase in ledger.phases.items()},
    }


def status_webhook(wamid: str, wa_id: str, status: str, seconds_later: int) -> bytes:
    from bench.stack import delivery

    at = str(int(time.time()) + seconds_later)
    entry = {"id": wamid, "status": status, "timestamp": at, "recipient_id": wa_id, "pricing": PRICING}
    return delivery({"statuses": [entry]})


def webhook(stack: Any, raw: bytes) -> None:
    from local.make_events import http_event
    from mkt_whatsapp.whatsapp.signature import sign

    headers = {"content-type": "application/json", "x-hub-signature-256": sign(raw, os.environ["META_APP_SECRET"])}
    answer = stack.lambdas.invoke(RECEIVER, http_event("POST", "/webhooks", "/webhooks", body=raw, headers=headers))
    assert answer["statusCode"] == 200, answer


def measure(customers: int = CUSTOMERS, page_size: int | None = None) -> dict[str, Any]:
    from bench.stack import bench_stack

    if page_size is not None:
        os.environ["CAMPAIGN_PAGE_SIZE"] = str(page_size)
    with bench_stack("bench-campaign", campaigns=True) as stack:
        return run_campaign(stack, customers)


def measure_apart(customers: int = CUSTOMERS, page_size: int | None = None) -> dict[str, Any]:
    """:func:`measure` in a process of its own (moto, its environment and the functions' module state are
    this process's alone): for ``make bench`` and the tests."""
    import subprocess

    command = [sys.executable, "-m", "bench.campaign_messages", "--json", "--customers", str(customers)]
    if page_size is not None:
        command += ["--page-size", str(page_size)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=True)
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def report(figures: dict[str, Any]) -> None:
    print(
        f"\nCampaign: one campaign of {TEMPLATE} to {figures['customers']} customers (pages of"
        f" {figures['page_size']}, {figures['send_rate_per_second']} sends a second), moto in-process"
    )
    print(
        f"  {figures['messages_sent']} messages sent, once each: {figures['sent_once_each']}; campaign"
        f" {figures['campaign_status']}; sends took {figures['send_seconds']} s"
    )
    print(f"  {figures['state_transitions']} state transitions {figures['states']}")
    print(f"  runner answers {figures['runner_answers']}")
    for name, phase in figures["phases"].items():
        print(
            f"  {name:28} {phase['function']:24} {phase['invocations']:>5} invocations, {phase['billed_ms']} ms billed;"
            f" {phase['aws_calls']} calls {phase['by_operation']}; mapping {phase['event_source_mapping_requests']};"
            f" {phase['write_units'].get('total', 0)} WRU, {phase['read_units']} RRU"
        )
    print(f"  funnel {figures['funnel']}")


def _arguments(argv: list[str]) -> tuple[int, int | None]:
    def value(flag: str) -> int | None:
        return int(argv[argv.index(flag) + 1]) if flag in argv else None

    return value("--customers") or CUSTOMERS, value("--page-size")


def main(argv: list[str]) -> None:
    customers, page_size = _arguments(argv)
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Bench")
    if "--json" in argv:
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):  # the handlers' metric lines
            figures = measure(customers, page_size)
        print(json.dumps(figures))
        return
    # The section refreshed as ``python -m bench campaign-messages`` refreshes it (bench/__main__.py), with
    # the customers and page size asked for.
    from bench import __main__ as bench_main

    measure_quietly: Callable[[], dict[str, Any]] = lambda: measure_apart(customers, page_size)  # noqa: E731
    bench_main.SECTIONS["campaign-messages"] = (SECTION, measure_quietly, report)
    bench_main.refresh("campaign-messages")


if __name__ == "__main__":
    main(sys.argv[1:])
