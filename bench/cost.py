"""``make cost``: the AWS cost per 1,000,000 inbound messages, per 1,000,000 sent messages, per 1,000
executions of each example flow, per 1,000 AI replies and per 1,000 campaign messages, and the idle cost per
month.

The counts are ``make bench``'s (bench/results/latest.json: AWS calls, write and read units from item
sizes, state transitions, SQS requests, the handlers' measured milliseconds; its ``campaigns`` section
``python -m bench campaign-messages``'s), the sizes and batch sizes template.yaml's (read with local/template.py),
the prices bench/prices.py's (the one place for them), the AI provider's token prices
layers/shared/mkt_whatsapp/ai/pricing.py's and Meta's per-message rates
layers/shared/mkt_whatsapp/analytics/campaigns.py's, each shown apart from AWS's. Where
the bench measured nothing (Lambda duration in AWS, read units of some reads), the assumption is a named
constant below and is printed beside the figure it feeds. Every line prints its arithmetic.
"""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench import prices as p

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "latest.json"
if str(ROOT / "layers" / "shared") not in sys.path:
    sys.path.insert(0, str(ROOT / "layers" / "shared"))

MILLION = 1_000_000
TARGET_INBOUND_PER_MILLION = 4.00  # issue 13: ≤ $4 per million inbound messages, analytics counters included

# Assumptions, where the bench measured nothing (printed beside the figures they feed).
AWS_CALL_MS = 10.0  # one DynamoDB/SQS call from Lambda in-region, including the client's work
GRAPH_ROUND_TRIP_MS = 300.0  # one Graph API send; a batch's sends are concurrent (docs/cost-model.md)
PROVIDER_ROUND_TRIP_MS = 2000.0  # one AI provider call (docs/cost-model.md)
STATS_BATCH_MS = 200.0  # one stats function invocation on a batch of up to 1,000 changes
RRU_PER_READ_CALL = 1.0  # a read call whose units were not metered: items < 4 KB, strongly consistent
STATUS_WEBHOOKS_PER_SENT = 3  # Meta's sent, delivered and read statuses for each message it accepted
COMPLETION_TOKENS = 150  # an AI reply's completion tokens (the simulator does not model them)
PROVIDER_MODELS = ("gpt-4o-mini", "gpt-4.1-mini", "gpt-5-mini")
CAMPAIGN_POLL_SECONDS = 30  # template.yaml: CampaignRunnerFunction's CAMPAIGN_POLL_SECONDS
SQS_IDLE_POLLERS = 5  # Lambda's pollers per SQS event source mapping, each a 20 s long poll
SECONDS_PER_MONTH = 30 * 24 * 3600


class MissingMeasurement(SystemExit):
    pass


def section(results: dict[str, Any], *path: str) -> Any:
    node: Any = results
    for key in path:
        if not isinstance(node, dict) or key not in node:
            where = " → ".join(path)
            raise MissingMeasurement(
                f"bench/results/latest.json has no {where!r}: run `make bench` (the whole bench writes every "
                "section; `make bench BENCH=flows`, `BENCH=ai`, `BENCH=analytics` or `BENCH=inbound` refresh one)"
            )
        node = node[key]
    return node


# ---------------------------------------------------------------------------------------------- template


@dataclass(frozen=True)
class Facts:
    """What template.yaml says that the bill depends on."""

    memory_mb: dict[str, int]
    batch_size: dict[str, int]
    kms_keys: int
    secrets: int
    alarms: int
    alarm_metrics: int
    dashboards: int
    sqs_mappings: int
    webhook_function_url: bool

    @classmethod
    def from_template(cls, template: dict[str, Any]) -> Facts:
        default_memory = int(template.get("Globals", {}).get("Function", {}).get("MemorySize", 128))
        memory: dict[str, int] = {}
        batch: dict[str, int] = {}
        types: dict[str, int] = {}
        alarm_metrics = 0
        sqs_mappings = 0
        url = False
        for name, resource in template["Resources"].items():
            kind = resource["Type"]
            types[kind] = types.get(kind, 0) + 1
            props = resource.get("Properties", {})
            if kind == "AWS::Serverless::Function":
                memory[name] = int(props.get("MemorySize", default_memory))
                url = url or (name == "WebhooksFunction" and "FunctionUrlConfig" in props)
                for event in (props.get("Events") or {}).values():
                    if event["Type"] in ("SQS", "DynamoDB"):
                        batch[name] = int(event["Properties"].get("BatchSize", 10))
                        sqs_mappings += event["Type"] == "SQS"
            elif kind == "AWS::CloudWatch::Alarm":
                stats = [m for m in props.get("Metrics", []) if "MetricStat" in m]
                alarm_metrics += max(1, len(stats))
        return cls(
            memory_mb=memory,
            batch_size=batch,
            kms_keys=types.get("AWS::KMS::Key", 0),
            secrets=types.get("AWS::SecretsManager::Secret", 0),
            alarms=types.get("AWS::CloudWatch::Alarm", 0),
            alarm_metrics=alarm_metrics,
            dashboards=types.get("AWS::CloudWatch::Dashboard", 0),
            sqs_mappings=sqs_mappings,
            webhook_function_url=url,
        )


def template_facts() -> Facts:
    from local.template import load

    return Facts.from_template(load())


# ---------------------------------------------------------------------------------------------- arithmetic


@dataclass
class Line:
    item: str
    inputs: str
    usd: float


@dataclass
class Table:
    title: str
    lines: list[Line] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    verdict: str = ""
    details: list[str] = field(default_factory=list)  # printed as they are, under the verdict

    def add(self, item: str, inputs: str, usd: float) -> None:
        self.lines.append(Line(item, inputs, usd))

    @property
    def total(self) -> float:
        return sum(line.usd for line in self.lines)

    def line(self, item: str) -> Line:
        return next(line for line in self.lines if line.item == item)


def n(value: float) -> str:
    """A count as the table prints it: thousands separated, up to 4 decimals, no trailing zeros."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.4f}".rstrip("0").rstrip(".")


def price(value: float) -> str:
    """A unit price as written on the pricing page: no exponent, no trailing zeros."""
    return "$" + (format(Decimal(str(value)), "f").rstrip("0").rstrip(".") or "0")


def usd(value: float) -> str:
    return f"${value:,.4f}" if value < 10 else f"${value:,.2f}"


def billed_ms(ms: float) -> int:
    """Lambda bills duration by the millisecond, rounded up."""
    return max(1, math.ceil(ms))


def lambda_requests(table: Table, item: str, count: float, how: str) -> None:
    table.add(
        item,
        f"{how} = {n(count)} × {price(p.LAMBDA_PER_MILLION_REQUESTS)} / 1M",
        count * p.LAMBDA_PER_MILLION_REQUESTS / MILLION,
    )


def lambda_duration(table: Table, item: str, count: float, memory_mb: int, ms: float, how: str) -> None:
    gb_s = count * memory_mb / 1024 * ms / 1000
    table.add(
        item,
        f"{n(count)} × {memory_mb} MB × {n(ms)} ms ({how}) = {n(round(gb_s, 2))} GB-s"
        f" × {price(p.LAMBDA_ARM_PER_GB_SECOND)}",
        gb_s * p.LAMBDA_ARM_PER_GB_SECOND,
    )


def sqs(table: Table, item: str, requests: float, how: str) -> None:
    table.add(
        item,
        f"{how} = {n(requests)} × {price(p.SQS_PER_MILLION_REQUESTS)} / 1M",
        requests * p.SQS_PER_MILLION_REQUESTS / MILLION,
    )


def wru(table: Table, item: str, units: float, how: str) -> None:
    table.add(
        item,
        f"{how} = {n(units)} WRU × {price(p.DYNAMODB_PER_MILLION_WRU)} / 1M",
        units * p.DYNAMODB_PER_MILLION_WRU / MILLION,
    )


def rru(table: Table, item: str, units: float, how: str) -> None:
    table.add(
        item,
        f"{how} = {n(units)} RRU × {price(p.DYNAMODB_PER_MILLION_RRU)} / 1M",
        units * p.DYNAMODB_PER_MILLION_RRU / MILLION,
    )


def read_calls(by_operation: dict[str, float]) -> float:
    return sum(
        v for k, v in by_operation.items() if k in ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query")
    )


def counter_wru_per_message(results: dict[str, Any]) -> tuple[float, str]:
    """The analytics counters' write units per message: the costliest measured traffic mix (conservative)."""
    writes = section(results, "analytics", "counter_writes")
    label, figures = max(writes.items(), key=lambda kv: kv[1]["write_units_per_message"])
    return float(figures["write_units_per_message"]), label


def warm_reply(results: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The AI bench's warm reply with the largest knowledge measured (the last entry)."""
    live = section(results, "ai_agents", "live_replies")
    label, figures = [(k, v) for k, v in live.items() if isinstance(v, dict)][-1]
    reply: dict[str, Any] = figures["warm_reply"]
    return label, reply


# ---------------------------------------------------------------------------------------------- inbound


def processor_figures(results: dict[str, Any]) -> tuple[float, dict[str, float], float, str]:
    """The inbound processor's AWS calls, by operation, and WRU per known customer's message matching no
    flow. The calls: the flows bench's (newest: the flow dispatch's reads included) if present, else the
    ingestion's. The write units: the ingestion's itemised breakdown (what each buys) if present, else the
    flows bench's, else the ingestion's total."""
    breakdown = results.get("webhook_ingestion", {}).get("write_units_breakdown")
    itemised = (float(breakdown["total"]), "webhook_ingestion → write_units_breakdown") if breakdown else None
    executions = results.get("flows", {}).get("executions", {})
    for name, figures in executions.items():
        dispatch = figures.get("dispatch", {})
        if "processor_calls_no_flow" in dispatch:
            calls = dispatch["processor_calls_no_flow"]
            units, source = itemised or (
                float(dispatch["processor_write_units_no_flow"]),
                f"flows → {name} → dispatch, no flow",
            )
            return float(calls["aws_calls"]), calls["by_operation"], units, source
    per_message = section(results, "webhook_ingestion", "aws_calls_per_inbound_message")
    by_operation = {k: v for k, v in per_message["by_operation"].items() if not k.startswith("sqs:")}
    units, source = itemised or (
        float(section(results, "webhook_ingestion", "write_units_per_inbound_message", "total")),
        "webhook_ingestion",
    )
    return float(sum(by_operation.values())), by_operation, units, source


def inbound(results: dict[str, Any], facts: Facts, count: int = MILLION) -> Table:
    table = Table(f"Inbound messages: AWS cost per {n(count)} (a known customer's text, matching no flow)")
    ingestion = section(results, "webhook_ingestion")
    receiver_ms = float(section(ingestion, "receiver_handler_ms", "p50"))
    sends = float(section(ingestion, "aws_calls_per_inbound_message", "by_operation").get("sqs:SendMessage", 1))
    webhook_mb = facts.memory_mb["WebhooksFunction"]
    lambda_requests(table, "webhook receiver: Lambda requests", count, f"{n(count)} deliveries, one message each")
    lambda_duration(
        table, "webhook receiver: Lambda duration", count, webhook_mb, billed_ms(receiver_ms), "bench p50, warm"
    )
    if facts.webhook_function_url:
        table.add(
            "webhook entry: function URL",
            f"{n(count)} × {price(p.LAMBDA_FUNCTION_URL_PER_MILLION)} (no charge of its own)",
            0.0,
        )
    else:
        table.add(
            "webhook entry: HTTP API",
            f"{n(count)} × {price(p.HTTP_API_PER_MILLION_REQUESTS)} / 1M",
            count * p.HTTP_API_PER_MILLION_REQUESTS / MILLION,
        )

    batch = facts.batch_size["InboundProcessorFunction"]
    sqs(
        table,
        "inbound queue: SQS requests",
        count * (sends + 2 / batch),
        f"{n(count)} × ({n(sends)} send + 2 / batch of {batch}: receive, delete)",
    )
    calls, by_operation, units, source = processor_figures(results)
    processor_mb = facts.memory_mb["InboundProcessorFunction"]
    lambda_requests(table, "inbound processor: Lambda requests", count / batch, f"{n(count)} / batch of {batch}")
    lambda_duration(
        table,
        "inbound processor: Lambda duration",
        count,
        processor_mb,
        calls * AWS_CALL_MS,
        f"assumed: {n(calls)} AWS calls per message × {n(AWS_CALL_MS)} ms",
    )
    wru(table, "inbound processor: DynamoDB writes", count * units, f"{n(count)} × {n(units)} WRU ({source})")
    reads = read_calls(by_operation)
    rru(
        table,
        "inbound processor: DynamoDB reads",
        count * reads * RRU_PER_READ_CALL,
        f"{n(count)} × {n(reads)} read calls × {n(RRU_PER_READ_CALL)} RRU (assumed)",
    )

    stats_mb = facts.memory_mb["StatsFunction"]
    per_thousand = float(section(results, "analytics", "stats_invocations_per_1000_messages", "inbound"))
    invocations = count * per_thousand / 1000
    lambda_requests(table, "stats function: Lambda requests", invocations, f"{n(count)} × {n(per_thousand)} / 1,000")
    lambda_duration(
        table, "stats function: Lambda duration", invocations, stats_mb, STATS_BATCH_MS, "assumed per batch"
    )
    counter, mix = counter_wru_per_message(results)
    wru(
        table,
        "analytics counters: DynamoDB writes",
        count * counter,
        f"{n(count)} × {n(counter)} WRU (analytics, {mix})",
    )

    met = table.total <= TARGET_INBOUND_PER_MILLION * count / MILLION
    table.verdict = (
        f"target ≤ {usd(TARGET_INBOUND_PER_MILLION)} per million inbound with the analytics counters: "
        f"{'MET' if met else 'NOT MET'} ({usd(table.total * MILLION / count)} per million)"
    )
    if not met:
        gap = table.total * MILLION / count - TARGET_INBOUND_PER_MILLION
        table.notes.append(
            f"to meet it: {usd(gap)} less per million = {n(round(gap / p.DYNAMODB_PER_MILLION_WRU, 2))} WRU fewer per "
            "message if it all came from DynamoDB writes (the largest line)"
        )
    if "write_units_breakdown" in ingestion and "designs" in ingestion:
        table.details += write_units_bought(table, ingestion, facts, count)
    if facts.webhook_function_url:
        with_api = table.total + count * p.HTTP_API_PER_MILLION_REQUESTS / MILLION
        table.notes.append(
            f"Meta's webhooks reach the function URL (template.yaml); through the HTTP API route instead: "
            f"+{usd(count * p.HTTP_API_PER_MILLION_REQUESTS / MILLION)} = {usd(with_api)}"
        )
    table.notes.append(
        "a new customer's first message writes more (webhook_ingestion → first_message_of_a_new_customer); "
        "Secrets Manager and KMS are read once per container per 5 minutes, not per message (see idle)"
    )
    return table


def design_cost(table: Table, design: dict[str, Any], today: dict[str, Any], facts: Facts, count: int) -> float:
    """The inbound table's total with its DynamoDB writes line at the design's write units, and the
    processor's duration changed by its write calls against today's (the assumed ms per AWS call)."""
    others = table.total - table.line("inbound processor: DynamoDB writes").usd
    writes = count * float(design["write_units"]) * p.DYNAMODB_PER_MILLION_WRU / MILLION
    extra_calls = int(design["write_calls"]) - int(today["write_calls"])
    gb_s = count * facts.memory_mb["InboundProcessorFunction"] / 1024 * extra_calls * AWS_CALL_MS / 1000
    return others + writes + gb_s * p.LAMBDA_ARM_PER_GB_SECOND


def write_units_bought(table: Table, ingestion: dict[str, Any], facts: Facts, count: int) -> list[str]:
    """The message's write units, each with what it buys and its cost; the designs' totals; the verdict."""
    rows = ingestion["write_units_breakdown"]["rows"]
    designs = ingestion["designs"]
    per_wru = count * p.DYNAMODB_PER_MILLION_WRU / MILLION
    item_width = max(len(row["item"]) for row in rows)
    target_width = max(len(row["target"]) for row in rows)
    out = [
        f"what each write unit of the message buys (webhook_ingestion → write_units_breakdown, "
        f"{n(ingestion['write_units_breakdown']['total'])} WRU; {usd(per_wru)} per WRU per {n(count)}):",
        f"    WRU  {'per ' + n(count):>13}  {'item':<{item_width}}  {'target':<{target_width}}  buys",
    ]
    out += [
        f"    {n(row['write_units']):>3}  {usd(row['write_units'] * per_wru):>13}  {row['item']:<{item_width}}"
        f"  {row['target']:<{target_width}}  {row['buys']}"
        for row in rows
    ]
    out.append(
        f"    {n(sum(row['write_units'] for row in rows)):>3}  "
        f"{usd(sum(row['write_units'] for row in rows) * per_wru):>13}  = the DynamoDB writes line above"
    )
    today = next(d for d in designs if d["design"] == "a")
    costs = {d["design"]: design_cost(table, d, today, facts, count) for d in designs}
    out.append(
        f"the same message's items written by other designs (webhook_ingestion → designs: WRU from the measured "
        f"item images; the table's other lines as above, the processor's duration ± {n(AWS_CALL_MS)} ms a write "
        f"call against today's {today['write_calls']}); per {n(count)} inbound:"
    )
    for d in designs:
        kept = "exactly-once    " if d["exactly_once"] else "NOT exactly-once"
        out.append(
            f"    ({d['design']}){' ' * (6 - len(d['design']))}{n(d['write_units']):>3} WRU  {d['write_calls']} write"
            f" calls  {usd(costs[d['design']]):>8}  {kept}  {d['statement']}"
        )
        out.append(f"    {' ' * 10}{d['why']}")
    kept_designs = [d for d in designs if d["exactly_once"]]
    cheapest = min(kept_designs, key=lambda d: costs[d["design"]])
    floor = next(d for d in designs if d["design"] == "floor")
    target = TARGET_INBOUND_PER_MILLION * count / MILLION
    meeting = [d["design"] for d in designs if costs[d["design"]] <= target]
    others = table.total - table.line("inbound processor: DynamoDB writes").usd
    allowed = (target - others) / per_wru
    out.append(
        f"verdict: the cheapest design that keeps exactly-once is ({cheapest['design']}),"
        f" {n(cheapest['write_units'])} WRU: {usd(costs[cheapest['design']])} per {n(count)} inbound"
        f" (today's ({today['design']}) {n(today['write_units'])} WRU: {usd(costs[today['design']])}); the target"
        f" ≤ {usd(target)} is "
        + (
            f"met by ({'), ('.join(meeting)})"
            if meeting
            else f"met by NO design, not even the floor with no exactly-once machinery ({floor['design']},"
            f" {n(floor['write_units'])} WRU: {usd(costs[floor['design']])})"
        )
        + f"; after the other lines it leaves {n(round(allowed, 2))} WRU a message"
    )
    return out


# ---------------------------------------------------------------------------------------------- sent


def sent(results: dict[str, Any], facts: Facts, count: int = MILLION) -> Table:
    table = Table(
        f"Sent messages: AWS cost per {n(count)} (queued, sent by the sender in batches, with their statuses)"
    )
    per_message = section(results, "aws_calls_per_request", "sender: per message, batches of 10")
    runs = section(results, "sender_throughput")
    label, run = max(runs.items(), key=lambda kv: kv[1]["configured_rate_per_second"])
    messages = float(run["messages"])
    service = run["service_aws_calls"]
    batch = facts.batch_size["SenderFunction"]
    visibility = service.get("sqs:ChangeMessageVisibility", 0) / messages
    sqs(
        table,
        "outbound queue: SQS requests",
        count * (1 + 2 / batch + visibility),
        f"{n(count)} × (1 send + 2 / batch of {batch} + {n(visibility)} visibility changes, {label})",
    )
    sender_mb = facts.memory_mb["SenderFunction"]
    cpu = float(run["sender_cpu_ms_per_message"])
    lambda_requests(table, "sender: Lambda requests", count / batch, f"{n(count)} / batch of {batch}")
    per_message_ms = cpu + GRAPH_ROUND_TRIP_MS / batch
    lambda_duration(
        table,
        "sender: Lambda duration",
        count,
        sender_mb,
        round(per_message_ms, 2),
        f"bench CPU {n(cpu)} ms + assumed Graph round trip {n(GRAPH_ROUND_TRIP_MS)} ms / batch of {batch}",
    )
    units = float(per_message["write_units"])
    wru(table, "sender: DynamoDB writes", count * units, f"{n(count)} × {n(units)} WRU (aws_calls_per_request)")
    gets = service.get("dynamodb:GetItem", 0) / messages
    rru(
        table,
        "sender: DynamoDB reads",
        count * gets * RRU_PER_READ_CALL,
        f"{n(count)} × {n(gets)} GetItem × {n(RRU_PER_READ_CALL)} RRU (assumed)",
    )
    decrypts = service.get("kms:Decrypt", 0) / messages
    table.add(
        "sender: KMS decrypts (token cache misses)",
        f"{n(count)} × {n(decrypts)} ({label}) = {n(count * decrypts)} × {price(p.KMS_PER_10K_REQUESTS)} / 10,000",
        count * decrypts * p.KMS_PER_10K_REQUESTS / 10_000,
    )

    status = section(results, "webhook_ingestion", "status_webhook_end_to_end")
    statuses = count * STATUS_WEBHOOKS_PER_SENT
    receiver_ms = float(section(results, "webhook_ingestion", "receiver_handler_ms", "p50"))
    lambda_requests(
        table,
        "status webhooks: receiver requests",
        statuses,
        f"{n(count)} × {STATUS_WEBHOOKS_PER_SENT} statuses (assumed)",
    )
    lambda_duration(
        table,
        "status webhooks: receiver duration",
        statuses,
        facts.memory_mb["WebhooksFunction"],
        billed_ms(receiver_ms),
        "bench p50",
    )
    inbound_batch = facts.batch_size["InboundProcessorFunction"]
    sqs(
        table,
        "status webhooks: SQS requests",
        statuses * (1 + 2 / inbound_batch),
        f"{n(statuses)} × (1 + 2 / {inbound_batch})",
    )
    status_calls = float(status["aws_calls"]) - status["by_operation"].get("sqs:SendMessage", 0)
    lambda_requests(
        table, "status webhooks: processor requests", statuses / inbound_batch, f"{n(statuses)} / {inbound_batch}"
    )
    lambda_duration(
        table,
        "status webhooks: processor duration",
        statuses,
        facts.memory_mb["InboundProcessorFunction"],
        status_calls * AWS_CALL_MS,
        f"assumed: {n(status_calls)} calls × {n(AWS_CALL_MS)} ms",
    )
    status_units = float(status["write_units"]["total"])
    wru(
        table,
        "status webhooks: DynamoDB writes",
        statuses * status_units,
        f"{n(statuses)} × {n(status_units)} WRU (status_webhook_end_to_end)",
    )
    status_reads = read_calls(status["by_operation"])
    rru(
        table,
        "status webhooks: DynamoDB reads",
        statuses * status_reads * RRU_PER_READ_CALL,
        f"{n(statuses)} × {n(status_reads)} read calls (assumed 1 RRU)",
    )

    per_thousand = float(section(results, "analytics", "stats_invocations_per_1000_messages", "sent_delivered_read"))
    invocations = count * per_thousand / 1000
    lambda_requests(table, "stats function: Lambda requests", invocations, f"{n(count)} × {n(per_thousand)} / 1,000")
    lambda_duration(
        table,
        "stats function: Lambda duration",
        invocations,
        facts.memory_mb["StatsFunction"],
        STATS_BATCH_MS,
        "assumed per batch",
    )
    counter, mix = counter_wru_per_message(results)
    wru(
        table,
        "analytics counters: DynamoDB writes",
        count * counter,
        f"{n(count)} × {n(counter)} WRU (analytics, {mix})",
    )
    table.notes.append(
        "a message sent within an API request instead of the queue: no SQS or sender lines, the request's "
        "13 WRU (webhook_ingestion → text_reply_sent_within_the_request) and one HTTP API request "
        f"({usd(count * p.HTTP_API_PER_MILLION_REQUESTS / MILLION)} per {n(count)})"
    )
    return table


# ---------------------------------------------------------------------------------------------- flows


@dataclass(frozen=True)
class FlowShape:
    """What an execution's cost depends on, by docs/cost-model.md's per-wait formula."""

    steps: int
    customer_waits: int
    delays: int
    ai_turns: int

    @property
    def transitions(self) -> int:
        return 3 + 3 * (self.customer_waits + self.delays)

    @property
    def invocations(self) -> int:
        return 1 + 2 * self.customer_waits + self.delays


def flow_shape(path: Path) -> FlowShape:
    """An example flow's path where every answer is valid: each ``ask`` waits once, an ``ai_reply`` answers
    at once and waits for ``maxTurns`` - 1 more turns, each ``delay`` waits. Every step is counted as run
    (an upper bound where a condition skips a branch)."""
    steps = json.loads(path.read_text())["steps"]
    asks = sum(1 for s in steps if s["type"] == "ask")
    ai_turns = sum(int(s.get("maxTurns", 1)) for s in steps if s["type"] == "ai_reply")
    ai_waits = sum(int(s.get("maxTurns", 1)) - 1 for s in steps if s["type"] == "ai_reply")
    delays = sum(1 for s in steps if s["type"] == "delay")
    other = sum(1 for s in steps if s["type"] != "ai_reply")
    return FlowShape(steps=other, customer_waits=asks + ai_waits, delays=delays, ai_turns=ai_turns)


def flow_tables(results: dict[str, Any], facts: Facts, count: int = 1000) -> list[Table]:
    executions = section(results, "flows", "executions")
    runner_mb = facts.memory_mb["FlowRunnerFunction"]
    tables: list[Table] = []
    measured_ms: list[float] = []
    per_step_wru: list[float] = []
    per_step_rru: list[float] = []
    dispatch_wru: tuple[float, float] | None = None  # (start, resume): the first measured execution's
    for name, e in executions.items():
        if not isinstance(e, dict):
            continue  # a flag beside the executions (extra_steps_add_no_transition)
        table = Table(f"Flow {name}: AWS cost per {n(count)} executions (MEASURED)")
        transitions = int(e["state_transitions"])
        table.add(
            "Step Functions transitions",
            f"{transitions} × {n(count)} = {n(transitions * count)}"
            f" × {price(p.STEP_FUNCTIONS_PER_THOUSAND_TRANSITIONS)} / 1,000",
            transitions * count * p.STEP_FUNCTIONS_PER_THOUSAND_TRANSITIONS / 1000,
        )
        invocations = int(e["runner_invocations"])
        lambda_requests(table, "flow runner: Lambda requests", invocations * count, f"{invocations} × {n(count)}")
        times = [t for ts in e["runner_invocation_ms"].values() for t in ts]
        measured_ms.extend(times)
        ms = sum(billed_ms(t) for t in times)
        lambda_duration(
            table,
            "flow runner: Lambda duration",
            count,
            runner_mb,
            ms,
            "sum of the bench's invocations, in process against moto",
        )
        d = e["dispatch"]
        start = d["processor_write_units_start"] - d["processor_write_units_no_flow"]
        resume = d["processor_write_units_resume"] - d["processor_write_units_no_flow"]
        waits = int(e["waits"]["customer"])
        units = e["runner_write_units"] + start + waits * resume
        wru(
            table,
            "DynamoDB writes",
            units * count,
            f"({n(e['runner_write_units'])} runner + {n(start)} start + {waits} × {n(resume)} resume) × {n(count)}",
        )
        reads = float(e["runner_read_units"])
        rru(table, "DynamoDB reads", reads * count, f"{n(reads)} runner × {n(count)}")
        table.notes.append(
            "the customer's messages themselves are inbound messages (above); their dispatch is counted here"
        )
        per_step_wru.append(e["runner_write_units"] / e["steps_executed"])
        per_step_rru.append(e["runner_read_units"] / e["steps_executed"])
        dispatch_wru = dispatch_wru or (start, resume)
        tables.append(table)
    if dispatch_wru is None:
        raise MissingMeasurement("bench/results/latest.json has no flow execution: run `make bench BENCH=flows`")
    start_wru, resume_wru = dispatch_wru

    step_wru = sum(per_step_wru) / len(per_step_wru)
    step_rru = sum(per_step_rru) / len(per_step_rru)
    invocation_ms = sum(measured_ms) / len(measured_ms)
    measured_names = {name for name, e in executions.items() if isinstance(e, dict)}
    _, ai_reply = warm_reply(results)
    for path in sorted((ROOT / "docs" / "flows").glob("*.json")):
        name = path.stem
        if name in measured_names:
            continue
        shape = flow_shape(path)
        table = Table(
            f"Flow {name}: AWS cost per {n(count)} executions (COMPUTED from docs/cost-model.md's per-wait formula; "
            f"{shape.steps} steps, {shape.customer_waits} customer waits, {shape.delays} delay(s), "
            f"{shape.ai_turns} AI turns; every step counted as run)"
        )
        table.add(
            "Step Functions transitions",
            f"(3 + 3 × ({shape.customer_waits} + {shape.delays})) = {shape.transitions} × {n(count)} × "
            f"{price(p.STEP_FUNCTIONS_PER_THOUSAND_TRANSITIONS)} / 1,000",
            shape.transitions * count * p.STEP_FUNCTIONS_PER_THOUSAND_TRANSITIONS / 1000,
        )
        lambda_requests(
            table,
            "flow runner: Lambda requests",
            shape.invocations * count,
            f"(1 + 2 × {shape.customer_waits} + {shape.delays}) = {shape.invocations} × {n(count)}",
        )
        ms = shape.invocations * billed_ms(invocation_ms) + shape.ai_turns * PROVIDER_ROUND_TRIP_MS
        lambda_duration(
            table,
            "flow runner: Lambda duration",
            count,
            runner_mb,
            ms,
            f"{shape.invocations} × {billed_ms(invocation_ms)} ms (measured mean) + {shape.ai_turns} AI turns × "
            f"{n(PROVIDER_ROUND_TRIP_MS)} ms (assumed)",
        )
        units = (
            shape.steps * step_wru
            + shape.ai_turns * ai_reply["write_units"]
            + start_wru
            + shape.customer_waits * resume_wru
        )
        wru(
            table,
            "DynamoDB writes",
            units * count,
            f"({shape.steps} steps × {n(round(step_wru, 2))} (measured mean) + {shape.ai_turns} AI × "
            f"{n(ai_reply['write_units'])} + {n(start_wru)} start + {shape.customer_waits} × {n(resume_wru)} resume)"
            f" × {n(count)}",
        )
        reads = shape.steps * step_rru + shape.ai_turns * ai_reply["read_units"]
        rru(
            table,
            "DynamoDB reads",
            reads * count,
            f"({shape.steps} × {n(round(step_rru, 2))} + {shape.ai_turns} AI × {n(ai_reply['read_units'])})"
            f" × {n(count)}",
        )
        if shape.ai_turns:
            table.notes.append("plus the AI provider's tokens (see AI replies)")
        tables.append(table)
    return tables


# ---------------------------------------------------------------------------------------------- AI


def ai_replies(results: dict[str, Any], facts: Facts, count: int = 1000) -> Table:
    from mkt_whatsapp.ai import pricing

    label, reply = warm_reply(results)
    agents = section(results, "ai_agents")
    table = Table(f"AI replies: AWS cost per {n(count)} (warm, knowledge {label}; the provider apart)")
    batch = facts.batch_size["AiResponderFunction"]
    sqs(
        table,
        "AI queue: SQS requests",
        count * 3,
        f"{n(count)} × (1 send + receive + delete, one reply a batch: assumed)",
    )
    lambda_requests(
        table,
        "AI responder: Lambda requests",
        count,
        f"{n(count)}, one invocation each (batches of up to {batch} at low rates hold one)",
    )
    ranking = float(agents["ranking_ms_per_message"]["p50"])
    prompt = float(agents["prompt_build_ms"]["p50"])
    calls = float(reply["aws_calls"])
    ms = ranking + prompt + calls * AWS_CALL_MS + PROVIDER_ROUND_TRIP_MS
    lambda_duration(
        table,
        "AI responder: Lambda duration",
        count,
        facts.memory_mb["AiResponderFunction"],
        billed_ms(ms),
        f"ranking {n(ranking)} + prompt {n(prompt)} ms (bench p50) + {n(calls)} calls × {n(AWS_CALL_MS)} ms + "
        f"provider {n(PROVIDER_ROUND_TRIP_MS)} ms (assumed)",
    )
    wru(
        table, "DynamoDB writes", count * reply["write_units"], f"{n(count)} × {n(reply['write_units'])} WRU (measured)"
    )
    rru(table, "DynamoDB reads", count * reply["read_units"], f"{n(count)} × {n(reply['read_units'])} RRU (measured)")
    tokens = float(agents["prompt_tokens"]["large_median"])
    for model in PROVIDER_MODELS:
        one = pricing.estimate(model, int(tokens), COMPLETION_TOKENS)
        rate = pricing.price_of(model)
        if one is None or rate is None:
            continue
        table.notes.append(
            f"provider, NOT in the AWS total — {model}: ({n(tokens)} prompt × {price(rate.input)} + "
            f"{COMPLETION_TOKENS} completion (assumed) × {price(rate.output)}) / 1M × {n(count)}"
            f" = {usd(one * count)} (ai/pricing.py)"
        )
    table.notes.append("the customer's message is an inbound message and the reply's statuses are sent-message costs")
    return table


# ---------------------------------------------------------------------------------------------- campaigns

# bench/campaign_messages.py's phases by what they are a part of, in the order they are printed.
CAMPAIGN_STAGES = {
    "CampaignsFunction": "campaign API (create, launch)",
    "CampaignRunnerFunction": "campaign runner (fan-out, polls)",
    "SenderFunction": "sender",
    "WebhooksFunction": "status webhooks: receiver",
    "InboundProcessorFunction": "status webhooks: processor",
    "StatsFunction": "stats function (counters)",
}
CAMPAIGN_QUEUES = {
    "outbound queue": ("CampaignRunnerFunction", "SenderFunction"),
    "inbound queue": ("WebhooksFunction", "InboundProcessorFunction"),
}
# Calls whose service bills something else: Step Functions bills the state transitions, not StartExecution.
CAMPAIGN_UNBILLED_CALLS = ("stepfunctions:StartExecution",)


def short_stage(function: str) -> str:
    return CAMPAIGN_STAGES[function].split(" (")[0]


def campaign_run(results: dict[str, Any]) -> dict[str, Any]:
    if "campaign_messages" not in results:
        raise MissingMeasurement(
            "bench/results/latest.json has no 'campaign_messages': run `python -m bench campaign-messages`"
            " (bench/campaign_messages.py; refreshes that section alone)"
        )
    run: dict[str, Any] = results["campaign_messages"]
    if not run.get("sent_once_each") or run.get("campaign_status") != "completed":
        raise MissingMeasurement(
            f"bench/results/latest.json's campaign did not send each customer once and complete "
            f"(sent_once_each {run.get('sent_once_each')}, status {run.get('campaign_status')}): nothing to price"
        )
    return run


def campaign_by_function(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The run's phases added up by function: invocations, billed ms, calls by operation (the service's and
    its event source mapping's), write and read units."""
    totals: dict[str, dict[str, Any]] = {}
    for phase in run["phases"].values():
        function = phase["function"]
        if function not in CAMPAIGN_STAGES:
            raise ValueError(f"bench/campaign_messages.py measured {function}, which make cost does not price")
        total = totals.setdefault(
            function, {"invocations": 0, "billed_ms": 0, "calls": Counter(), "write_units": 0, "read_units": 0.0}
        )
        total["invocations"] += phase["invocations"]
        total["billed_ms"] += phase["billed_ms"]
        total["calls"].update(phase["by_operation"])
        total["calls"].update(phase["event_source_mapping_requests"])
        total["write_units"] += phase["write_units"].get("total", 0)
        total["read_units"] += phase["read_units"]
    return {function: totals[function] for function in CAMPAIGN_STAGES if function in totals}


def campaign_messages(results: dict[str, Any], facts: Facts, count: int = 1000) -> Table:
    run = campaign_run(results)
    messages = int(run["messages_sent"])
    scale = count / messages
    per = f"× {n(count)} / {n(messages)}"
    table = Table(
        f"Campaign messages: AWS cost per {n(count)} (MEASURED: one campaign to {n(run['customers'])} customers, "
        f"launch to Meta's read statuses and their counters; bench/campaign_messages.py)"
    )
    transitions = int(run["state_transitions"])
    states = Counter(run["states"])
    table.add(
        "Step Functions transitions",
        f"{transitions} ({', '.join(f'{s} {k}' for s, k in states.items())}) {per} = {n(transitions * scale)}"
        f" × {price(p.STEP_FUNCTIONS_PER_THOUSAND_TRANSITIONS)} / 1,000",
        transitions * scale * p.STEP_FUNCTIONS_PER_THOUSAND_TRANSITIONS / 1000,
    )
    functions = campaign_by_function(run)
    api = functions["CampaignsFunction"]["invocations"]
    table.add(
        "campaign API: HTTP API requests",
        f"{api} {per} = {n(api * scale)} × {price(p.HTTP_API_PER_MILLION_REQUESTS)} / 1M",
        api * scale * p.HTTP_API_PER_MILLION_REQUESTS / MILLION,
    )
    if facts.webhook_function_url:
        statuses = functions["WebhooksFunction"]["invocations"]
        table.add(
            "status webhooks: function URL",
            f"{n(statuses * scale)} × {price(p.LAMBDA_FUNCTION_URL_PER_MILLION)} (no charge of its own)",
            0.0,
        )
    sender_batches = functions["SenderFunction"]["invocations"]
    for function, stage in CAMPAIGN_STAGES.items():
        figures = functions[function]
        invocations = figures["invocations"]
        lambda_requests(table, f"{stage}: Lambda requests", invocations * scale, f"{invocations} {per}")
        ms = figures["billed_ms"] / messages
        how = "measured in process against moto, an upper bound: DynamoDB requests one at a time"
        if function == "SenderFunction":
            ms += sender_batches * GRAPH_ROUND_TRIP_MS / messages
            how += f", + {sender_batches} batches × Graph {n(GRAPH_ROUND_TRIP_MS)} ms (assumed)"
        lambda_duration(
            table, f"{stage}: Lambda duration", count, facts.memory_mb[function], round(ms, 2), f"{how}, per message"
        )
    for queue, owners in CAMPAIGN_QUEUES.items():
        calls: Counter[str] = Counter()
        for function in owners:
            calls.update({k: v for k, v in functions[function]["calls"].items() if k.startswith("sqs:")})
        requests = sum(calls.values())
        detail = " + ".join(f"{v} {k.removeprefix('sqs:')}" for k, v in sorted(calls.items()))
        sqs(table, f"{queue}: SQS requests", requests * scale, f"({detail}) {per}")
    decrypts = sum(f["calls"].get("kms:Decrypt", 0) for f in functions.values())
    table.add(
        "KMS decrypts (token cache misses)",
        f"{decrypts} {per} = {n(decrypts * scale)} × {price(p.KMS_PER_10K_REQUESTS)} / 10,000",
        decrypts * scale * p.KMS_PER_10K_REQUESTS / 10_000,
    )
    for function, stage in CAMPAIGN_STAGES.items():
        units = functions[function]["write_units"]
        if units:
            wru(table, f"{stage}: DynamoDB writes", units * scale, f"{n(units)} WRU {per}")
    reads = {function: f["read_units"] for function, f in functions.items() if f["read_units"]}
    total_reads = sum(reads.values())
    rru(
        table,
        "DynamoDB reads",
        total_reads * scale,
        f"({' + '.join(f'{n(round(v, 1))} {short_stage(k)}' for k, v in reads.items())}) RRU"
        f" (measured: item sizes, consistency) {per}",
    )

    priced = {"dynamodb", "sqs", "kms"}
    unbilled = Counter(
        {k: v for f in functions.values() for k, v in f["calls"].items() if k in CAMPAIGN_UNBILLED_CALLS}
    )
    unknown = {k for f in functions.values() for k in f["calls"] if k.split(":")[0] not in priced and k not in unbilled}
    if unknown:
        raise ValueError(f"bench/campaign_messages.py measured calls make cost has no price for: {sorted(unknown)}")
    calls_per_message = {
        short_stage(function): round(sum(f["calls"].values()) / messages, 2) for function, f in functions.items()
    }
    units_per_message = sum(f["write_units"] for f in functions.values()) / messages
    table.details.append(
        f"per message: {n(round(sum(calls_per_message.values()), 2))} AWS requests {calls_per_message},"
        f" {n(round(units_per_message, 2))} WRU, {n(round(total_reads / messages, 2))} RRU; the runner answered"
        f" {', '.join(run['runner_answers'])} for {n(run['customers'])} customers in pages of {run['page_size']}"
    )
    table.notes.append(
        f"{', '.join(f'{k} ×{v}' for k, v in unbilled.items())} {per}: no charge of its own (Step Functions bills"
        " the transitions)"
    )
    rate = int(run["send_rate_per_second"])
    table.notes.append(
        f"the execution polls every {CAMPAIGN_POLL_SECONDS} s while the sender sends (3 transitions and an invocation"
        f" each): {n(messages)} sends at {rate}/s take {n(round(messages / rate, 1))} s in AWS, one poll"
        f" ({n(run['send_seconds'])} s in process, moto the slow part); a larger campaign polls about once per"
        f" {n(rate * CAMPAIGN_POLL_SECONDS)} messages"
    )
    table.notes.append(
        f"once per campaign, counted {n(scale)} times here: the launch (2 API requests, StartExecution), the poll"
        f" that completes it and Done; a campaign of {n(count)} pays them once"
    )
    table.notes.append(
        "stats batches as local/stream_worker.py delivers them after each phase (Lambda fills a batch of up to "
        "1,000 after its filter: at most these invocations); each status a webhook of its own"
    )
    table.notes.append("Meta's charge for the messages is NOT in this total: see the next table")
    return table


def meta_charge(results: dict[str, Any], count: int = 1000) -> Table:
    """Meta's charge, apart from AWS's: the rate card the service's funnel estimate uses."""
    from mkt_whatsapp.analytics.campaigns import META_RATES_USD

    run = campaign_run(results)
    rate = float(META_RATES_USD["marketing"])
    table = Table(
        f"Campaign messages: META's charge per {n(count)} delivered marketing messages (NOT AWS's; "
        "ASSUMED rates: layers/shared/mkt_whatsapp/analytics/campaigns.py META_RATES_USD)"
    )
    table.add(
        "Meta: marketing messages delivered",
        f"{n(count)} × {price(rate)} (META_RATES_USD['marketing'])",
        count * rate,
    )
    funnel = run["funnel"]
    billable = int(funnel["billable"].get("marketing", 0))
    table.notes.append(
        "Meta bills a marketing message when it is delivered, at the rate of the recipient's market: the "
        "table is the service's estimate for the shops' market, not Meta's invoice"
    )
    table.notes.append(
        f"the measured campaign's funnel (from the stats function's counters): {n(funnel['delivered'])} delivered,"
        f" {n(billable)} billable marketing, estimated {usd(funnel['estimatedMetaChargeUsd'])}"
        f" = {usd(funnel['estimatedMetaChargeUsd'] * count / billable) if billable else '-'} per {n(count)}"
    )
    return table


# ---------------------------------------------------------------------------------------------- idle


def idle(facts: Facts) -> Table:
    from mkt_whatsapp.core.metric_names import CATALOGUE

    table = Table("Idle: AWS cost per month with no traffic")
    table.add("KMS key", f"{facts.kms_keys} × {price(p.KMS_PER_KEY_MONTH)}", facts.kms_keys * p.KMS_PER_KEY_MONTH)
    table.add(
        "Secrets Manager secrets",
        f"{facts.secrets} × {price(p.SECRETS_MANAGER_PER_SECRET_MONTH)}",
        facts.secrets * p.SECRETS_MANAGER_PER_SECRET_MONTH,
    )
    table.add(
        "CloudWatch alarms",
        f"{facts.alarms} alarms = {facts.alarm_metrics} alarm metrics (metric math per metric)"
        f" × {price(p.CLOUDWATCH_PER_ALARM_METRIC_MONTH)}",
        facts.alarm_metrics * p.CLOUDWATCH_PER_ALARM_METRIC_MONTH,
    )
    table.add(
        "CloudWatch dashboard",
        f"{facts.dashboards} × {price(p.CLOUDWATCH_PER_DASHBOARD_MONTH)} ($0 if among the account's first 3)",
        facts.dashboards * p.CLOUDWATCH_PER_DASHBOARD_MONTH,
    )
    polls = facts.sqs_mappings * SQS_IDLE_POLLERS * SECONDS_PER_MONTH / 20
    sqs(
        table,
        "SQS long polling by Lambda (estimate)",
        polls,
        f"{facts.sqs_mappings} queues × {SQS_IDLE_POLLERS} pollers (assumed) × 1 / 20 s × 30 days",
    )
    table.add("custom metrics (EMF)", "billed by the hour a metric is published: none when idle", 0.0)
    series = sum(math.prod(len(d.values) for d in m.dimensions) for m in CATALOGUE.values())
    table.notes.append(
        f"custom metrics when traffic flows: up to {series} series ({len(CATALOGUE)} metrics × their dimension "
        f"values) × {price(p.CLOUDWATCH_PER_METRIC_MONTH)} = {usd(series * p.CLOUDWATCH_PER_METRIC_MONTH)}"
        " a month at most"
    )
    table.notes.append(
        "KMS key rotation (on) adds $1 a month at each of the first two yearly rotations; "
        "Secrets Manager calls ($0.05 / 10,000) and KMS decrypts are per container per 5 minutes, only with traffic"
    )
    table.notes.append(
        "$0 idle: Lambda, HTTP API, function URL, Step Functions, SNS topic (alarm e-mails "
        f"{price(p.SNS_PER_100K_EMAIL)} / 100,000), the empty S3 bucket; DynamoDB storage "
        f"({price(p.DYNAMODB_STORAGE_PER_GB_MONTH)}/GB-month), PITR and logs storage grow with the data"
    )
    return table


# ---------------------------------------------------------------------------------------------- output


def build(results: dict[str, Any], facts: Facts) -> list[Table]:
    return [
        inbound(results, facts),
        sent(results, facts),
        *flow_tables(results, facts),
        ai_replies(results, facts),
        campaign_messages(results, facts),
        meta_charge(results),
        idle(facts),
    ]


def render(tables: list[Table], results: dict[str, Any]) -> str:
    measured_at = results.get("measured_at", "?")
    flows_at = results.get("flows", {}).get("measured_at", "?")
    analytics_at = results.get("analytics", {}).get("measured_at", "?")
    inbound_at = results.get("webhook_ingestion", {}).get("measured_at", measured_at)
    campaigns_at = results.get("campaign_messages", {}).get("measured_at", "?")
    out = [
        f"AWS cost at public on-demand prices ({p.REGION}; bench/prices.py, taken {p.TAKEN})",
        f"counts: bench/results/latest.json (measured {measured_at}; webhook ingestion {inbound_at}, "
        f"flows {flows_at}, analytics {analytics_at}, campaigns {campaigns_at})",
        f"assumed where nothing was measured: {n(AWS_CALL_MS)} ms per AWS call, Graph {n(GRAPH_ROUND_TRIP_MS)} ms, "
        f"AI provider {n(PROVIDER_ROUND_TRIP_MS)} ms, stats batch {n(STATS_BATCH_MS)} ms, "
        f"{n(RRU_PER_READ_CALL)} RRU per unmetered read call; Lambda arm64; free tiers ignored",
        f"not measured, not included: CloudWatch Logs ingestion ({price(p.CLOUDWATCH_LOGS_INGESTION_PER_GB)}/GB), "
        f"X-Ray ({price(p.XRAY_PER_MILLION_TRACES_RECORDED)}/M traces recorded, sampled)",
    ]
    width = max(len(line.item) for t in tables for line in t.lines)
    for table in tables:
        out.append("")
        out.append(f"== {table.title}")
        for line in table.lines:
            out.append(f"  {line.item:<{width}}  {usd(line.usd):>10}   {line.inputs}")
        out.append(f"  {'total':<{width}}  {usd(table.total):>10}")
        if table.verdict:
            out.append(f"  {table.verdict}")
        out.extend(f"  {line}" for line in table.details)
        out.extend(f"  · {note}" for note in table.notes)
    return "\n".join(out)


def load_results(path: Path = RESULTS) -> dict[str, Any]:
    if not path.exists():
        raise MissingMeasurement(f"{path} does not exist: run `make bench` first")
    results: dict[str, Any] = json.loads(path.read_text())
    return results


def main() -> None:
    results = load_results()
    print(render(build(results, template_facts()), results))


if __name__ == "__main__":
    main()
