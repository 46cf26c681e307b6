"""The catalogue of the service's CloudWatch metrics: every metric the functions emit (EMF through
Powertools, namespace ``POWERTOOLS_METRICS_NAMESPACE``), its unit, what it counts and the dimensions it
may carry. Emitters name a :class:`MetricName` from here (``observability.record``); nothing else is
emitted. docs/operations.md shows this table; the dashboard and alarms in template.yaml read these names.
The names are stable: a renamed metric starts a new time series and breaks the dashboard and alarms.

**Dimensions are few and low-cardinality.** Besides Powertools' ``service``, a metric may carry only the
dimensions declared here, each with a closed set of values (anything else is recorded as ``other``).
Never a shop id, a phone number, a conversation, flow or agent id: CloudWatch bills every unique
combination of name and dimension values as one custom metric (about $0.30 a month each), so a per-shop
dimension would make the bill grow with the number of shops (thousands of shops × a dozen metrics), and
EMF would write a separate metric document per shop per invocation. Per-shop numbers are the analytics
counters' job (``/analytics/*``), which cost the same at any number of shops; logs carry the ids for
looking into one shop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_lambda_powertools.metrics import MetricUnit

OTHER = "other"


@dataclass(frozen=True)
class Dimension:
    """A dimension and its closed set of values (``other`` always among them)."""

    name: str
    values: frozenset[str]

    def normalise(self, value: object) -> str:
        text = str(value)
        return text if text in self.values else OTHER


def _dimension(name: str, *values: str) -> Dimension:
    return Dimension(name, frozenset((*values, OTHER)))


# Why a send failed, from Meta's error code (see ``error_class``).
ERROR_CLASS = _dimension("errorClass", "rate_limit", "recipient", "template", "account", "transient")
# How a flow took an inbound message (flows.runs: STARTED, RESUMED, RUNNING).
FLOW_TAKEN = _dimension("taken", "started", "resumed", "running")
# How a flow execution ended (flows.runner: _end and failed).
FLOW_OUTCOME = _dimension("outcome", "completed", "fallback", "error", "stopped")
# What the AI responder did with a customer turn (ai.responder.respond).
AI_TURN_OUTCOME = _dimension("outcome", "answered", "handed_off", "skipped", "superseded", "done")
# Whether a call to the AI provider answered.
AI_CALL_OUTCOME = _dimension("outcome", "ok", "error")
# Why the AI handed a conversation to a human (ai.responder: hand_off reasons).
AI_HANDOFF_REASON = _dimension(
    "reason",
    "keyword",
    "max_turns",
    "budget",
    "unsupported_message",
    "provider_error",
    "model",
    "outbound_refused",
    "send_failed",
)


@dataclass(frozen=True)
class MetricName:
    name: str
    unit: MetricUnit
    description: str
    emitted_by: str
    dimensions: tuple[Dimension, ...] = field(default=())


WEBHOOK_DELIVERIES = MetricName(
    "WebhookDeliveries",
    MetricUnit.Count,
    "Signed Meta deliveries acknowledged (queued for the inbound processor)",
    "webhooks",
)
WEBHOOK_LATENCY = MetricName(
    "WebhookLatency",
    MetricUnit.Milliseconds,
    "Time from the webhook request reaching the handler to its answer (Meta waits at most a few seconds)",
    "webhooks",
)
INBOUND_MESSAGES = MetricName(
    "InboundMessagesStored", MetricUnit.Count, "Customer messages the inbound processor stored (first time)", "inbound"
)
STATUSES_APPLIED = MetricName(
    "StatusesApplied",
    MetricUnit.Count,
    "Delivery statuses (sent, delivered, read, failed) applied to messages",
    "inbound",
)
FLOW_MESSAGES = MetricName(
    "FlowMessages",
    MetricUnit.Count,
    "Inbound messages a flow took: taken=started is a flow execution started",
    "inbound",
    (FLOW_TAKEN,),
)
FLOW_RUN_INVOCATIONS = MetricName(
    "FlowRunInvocations",
    MetricUnit.Count,
    "Step runner invocations (runs until the next wait or the end)",
    "flow_runner",
)
FLOW_EXECUTIONS = MetricName(
    "FlowExecutions",
    MetricUnit.Count,
    "Flow executions ended, by outcome (completed, fallback, error, stopped)",
    "flow_runner",
    (FLOW_OUTCOME,),
)
OUTBOUND_SENT = MetricName(
    "OutboundSent", MetricUnit.Count, "Messages Meta accepted (any path: API, sender, flows, AI)", "messaging.delivery"
)
OUTBOUND_FAILED = MetricName(
    "OutboundFailed",
    MetricUnit.Count,
    "Messages that failed for good, by Meta error class",
    "messaging.delivery",
    (ERROR_CLASS,),
)
MESSAGES_SENT = MetricName(
    "MessagesSent", MetricUnit.Count, "Send requests through POST /conversations/{id}/messages", "conversations"
)
AI_TURNS = MetricName(
    "AiTurns",
    MetricUnit.Count,
    "Customer turns the AI responder settled, by outcome",
    "ai.responder",
    (AI_TURN_OUTCOME,),
)
AI_CALLS = MetricName(
    "AiCalls", MetricUnit.Count, "Calls to the AI provider, by outcome (ok, error)", "ai.responder", (AI_CALL_OUTCOME,)
)
AI_PROMPT_TOKENS = MetricName("AiPromptTokens", MetricUnit.Count, "Prompt tokens the provider billed", "ai.responder")
AI_COMPLETION_TOKENS = MetricName(
    "AiCompletionTokens", MetricUnit.Count, "Completion tokens the provider billed", "ai.responder"
)
AI_COST = MetricName(
    "AiEstimatedCostUsd",
    MetricUnit.NoUnit,
    "Estimated provider cost in USD (ai/pricing.py's price table)",
    "ai.responder",
)
AI_HANDOFFS = MetricName(
    "AiHandoffs",
    MetricUnit.Count,
    "Conversations the AI handed to a human, by reason",
    "ai.responder",
    (AI_HANDOFF_REASON,),
)
STATS_RECORDS = MetricName(
    "StatsRecordsCounted",
    MetricUnit.Count,
    "Table changes (stream records past the filter) the stats aggregator counted, retried batches included",
    "stats",
)
ACCOUNTS_CONNECTED = MetricName("AccountsConnected", MetricUnit.Count, "WhatsApp accounts connected", "accounts")
FLOWS_CREATED = MetricName("FlowsCreated", MetricUnit.Count, "Flows created", "flows")
AI_AGENTS_CREATED = MetricName("AiAgentsCreated", MetricUnit.Count, "AI agents created", "ai_agents")

CATALOGUE: dict[str, MetricName] = {
    metric.name: metric
    for metric in (
        WEBHOOK_DELIVERIES,
        WEBHOOK_LATENCY,
        INBOUND_MESSAGES,
        STATUSES_APPLIED,
        FLOW_MESSAGES,
        FLOW_RUN_INVOCATIONS,
        FLOW_EXECUTIONS,
        OUTBOUND_SENT,
        OUTBOUND_FAILED,
        MESSAGES_SENT,
        AI_TURNS,
        AI_CALLS,
        AI_PROMPT_TOKENS,
        AI_COMPLETION_TOKENS,
        AI_COST,
        AI_HANDOFFS,
        STATS_RECORDS,
        ACCOUNTS_CONNECTED,
        FLOWS_CREATED,
        AI_AGENTS_CREATED,
    )
}
# Powertools adds ``service`` (POWERTOOLS_SERVICE_NAME) to every metric document.
DEFAULT_DIMENSIONS = frozenset({"service"})


# Meta's error codes by class (Meta's WhatsApp Cloud API error-code reference; whatsapp/graph.py keeps the
# codes a sender retries and the account-level ones). The service's own codes are classed too.
_RATE_LIMIT = frozenset({4, 613, 80007, 130429, 131048, 131056})
_TRANSIENT = frozenset({1, 2, 131000, 131016, 131057, "RETRIES_EXHAUSTED", "SEND_UNCONFIRMED"})
_ACCOUNT = frozenset(
    {0, 3, 10, 190, 200, 368, 131031, 131042, 131045, 133010, "ACCOUNT_ACTION_REQUIRED", "ACCOUNT_DISCONNECTED"}
)
_RECIPIENT = frozenset({131021, 131026, 131030, 131047, 131049, 131050})


def error_class(code: object) -> str:
    """The ``errorClass`` of a failed send's error code: ``rate_limit`` (Meta throttled the number or the
    pair), ``recipient`` (the customer cannot get it: not on WhatsApp, outside the 24-hour window, opted
    out of marketing), ``template`` (132xxx: a template missing, paused or with wrong parameters),
    ``account`` (the shop's token or account: reconnect), ``transient`` (retries exhausted, a send left
    unconfirmed) or ``other``."""
    key: object = code
    if isinstance(code, str) and code.isdigit():
        key = int(code)
    if key in _RATE_LIMIT:
        return "rate_limit"
    if key in _TRANSIENT:
        return "transient"
    if key in _ACCOUNT:
        return "account"
    if key in _RECIPIENT:
        return "recipient"
    if isinstance(key, int) and 132000 <= key < 133000:
        return "template"
    return OTHER
