"""bench/campaign_messages.py's counting, small: a campaign to 12 customers in pages of 5, run as ``make
cost``'s campaign figures are measured (a process of its own: its own moto, the runner stepped as the state
machine steps it), sends each customer once and is counted whole — every runner step, queue request, send,
status webhook and stats batch, with calls and write units per message within sane bounds — and ``make cost``
prices it."""

from __future__ import annotations

import math
from typing import Any

import pytest

from bench import campaign_messages, cost
from bench import prices as p

CUSTOMERS, PAGE = 12, 5


@pytest.fixture(scope="module")
def measured() -> dict[str, Any]:
    return campaign_messages.measure_apart(CUSTOMERS, PAGE)


def phase_total(figures: dict[str, Any], function: str, key: str) -> Any:
    phases = [p for p in figures["phases"].values() if p["function"] == function]
    assert phases, function
    if key in ("by_operation", "event_source_mapping_requests"):
        total: dict[str, int] = {}
        for phase in phases:
            for operation, count in phase[key].items():
                total[operation] = total.get(operation, 0) + count
        return total
    if key == "write_units":
        return sum(p["write_units"].get("total", 0) for p in phases)
    return sum(p[key] for p in phases)


def test_each_customer_gets_the_campaign_once_and_meta_counts_each_message(measured: dict[str, Any]) -> None:
    assert (measured["campaign_status"], measured["messages_sent"], measured["sent_once_each"]) == (
        "completed",
        CUSTOMERS,
        True,
    )
    funnel = measured["funnel"]
    assert (funnel["messages"], funnel["sent"], funnel["delivered"], funnel["read"]) == (CUSTOMERS,) * 4
    assert funnel["billable"] == {"marketing": CUSTOMERS}


def test_the_state_machine_is_followed_step_by_step(measured: dict[str, Any]) -> None:
    pages = math.ceil(CUSTOMERS / PAGE)
    # a step per page, one that finds the audience done and waits for the sender, one that completes it
    assert measured["runner_answers"] == ["step"] * pages + ["wait", "end"]
    assert measured["states"] == ["Step", "Route"] * (pages + 1) + ["Pause", "Step", "Route", "Done"]
    assert measured["state_transitions"] == len(measured["states"]) == 2 * (pages + 2) + 2
    assert phase_total(measured, campaign_messages.RUNNER, "invocations") == pages + 2


def test_every_queue_request_invocation_and_webhook_is_counted(measured: dict[str, Any]) -> None:
    batches = math.ceil(CUSTOMERS / 10)  # the sender's and the processor's batches (template.yaml: 10)
    pages = [min(PAGE, CUSTOMERS - start) for start in range(0, CUSTOMERS, PAGE)]
    runner = phase_total(measured, campaign_messages.RUNNER, "by_operation")
    assert runner["sqs:SendMessageBatch"] == sum(math.ceil(page / 10) for page in pages)
    assert phase_total(measured, campaign_messages.SENDER, "invocations") == batches
    assert phase_total(measured, campaign_messages.SENDER, "event_source_mapping_requests") == {
        "sqs:DeleteMessageBatch": batches,
        "sqs:ReceiveMessage": batches,
    }
    statuses = len(campaign_messages.STATUSES) * CUSTOMERS
    assert phase_total(measured, campaign_messages.RECEIVER, "invocations") == statuses
    assert phase_total(measured, campaign_messages.RECEIVER, "by_operation") == {"sqs:SendMessage": statuses}
    assert (
        phase_total(measured, campaign_messages.PROCESSOR, "invocations") == len(campaign_messages.STATUSES) * batches
    )
    assert phase_total(measured, campaign_messages.STATS, "invocations") >= 1
    assert phase_total(measured, campaign_messages.CAMPAIGNS, "by_operation")["stepfunctions:StartExecution"] == 1
    # the sender's container starts cold: its first batch decrypts the shop's token
    assert phase_total(measured, campaign_messages.SENDER, "by_operation").get("kms:Decrypt", 0) >= 1


def test_calls_and_units_per_message_are_within_sane_bounds(measured: dict[str, Any]) -> None:
    def per_message(function: str, key: str) -> float:
        value = phase_total(measured, function, key)
        return float(sum(value.values()) if isinstance(value, dict) else value) / CUSTOMERS

    # a send reads the recipient, customer, account, template, stores message and conversation, settles
    assert 8 <= per_message(campaign_messages.SENDER, "aws_calls") <= 30
    assert 10 <= per_message(campaign_messages.SENDER, "write_units") <= 60
    assert 1 <= per_message(campaign_messages.SENDER, "read_units") <= 20
    # three statuses: a couple of reads and an update or two each
    assert 6 <= per_message(campaign_messages.PROCESSOR, "aws_calls") <= 15
    assert 6 <= per_message(campaign_messages.PROCESSOR, "write_units") <= 30
    # the fan-out: a recipient put (in a transaction) per customer; a page's reads, puts and enqueues in a
    # dozen calls or so, whatever its size (pages of 5 here: a few calls a message; of 250, a fraction of one)
    assert 2 <= per_message(campaign_messages.RUNNER, "write_units") <= 6
    runner_calls = phase_total(measured, campaign_messages.RUNNER, "aws_calls")
    assert runner_calls <= 15 * phase_total(measured, campaign_messages.RUNNER, "invocations")
    total = sum(p["aws_calls"] + sum(p["event_source_mapping_requests"].values()) for p in measured["phases"].values())
    assert 20 <= total / CUSTOMERS <= 60


def test_make_cost_prices_the_measured_campaign(measured: dict[str, Any]) -> None:
    results = {"campaign_messages": measured}
    table = cost.campaign_messages(results, cost.template_facts())
    scale = 1000 / CUSTOMERS
    transitions = table.line("Step Functions transitions")
    assert transitions.usd == pytest.approx(
        measured["state_transitions"] * scale * p.STEP_FUNCTIONS_PER_THOUSAND_TRANSITIONS / 1000
    )
    writes = sum(line.usd for line in table.lines if line.item.endswith("DynamoDB writes"))
    units = sum(p["write_units"].get("total", 0) for p in measured["phases"].values())
    assert writes == pytest.approx(units * scale * p.DYNAMODB_PER_MILLION_WRU / 1_000_000)
    assert 0 < table.total < 1  # dollars per 1,000 campaign messages
