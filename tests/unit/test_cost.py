"""``make cost`` (bench/cost.py): the arithmetic on a small fixture of counts, and the committed
bench/results/latest.json producing the whole table."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bench import cost
from bench import prices as p

FACTS = cost.Facts(
    memory_mb={
        "WebhooksFunction": 512,
        "InboundProcessorFunction": 512,
        "StatsFunction": 512,
        "SenderFunction": 1024,
        "FlowRunnerFunction": 512,
        "AiResponderFunction": 512,
    },
    batch_size={"InboundProcessorFunction": 10, "SenderFunction": 10, "AiResponderFunction": 5, "StatsFunction": 1000},
    kms_keys=1,
    secrets=2,
    alarms=3,
    alarm_metrics=5,
    dashboards=1,
    sqs_mappings=3,
    webhook_function_url=True,
)

COUNTS: dict[str, Any] = {
    "webhook_ingestion": {
        "receiver_handler_ms": {"p50": 4.2},
        "aws_calls_per_inbound_message": {
            "by_operation": {"sqs:SendMessage": 1, "dynamodb:GetItem": 1, "dynamodb:TransactWriteItems": 1}
        },
        "write_units_per_inbound_message": {"total": 8},
        "status_webhook_end_to_end": {
            "aws_calls": 3,
            "by_operation": {"sqs:SendMessage": 1, "dynamodb:GetItem": 1, "dynamodb:UpdateItem": 1},
            "write_units": {"total": 2},
        },
    },
    "aws_calls_per_request": {"sender: per message, batches of 10": {"write_units": 3}},
    "sender_throughput": {
        "rate_10": {
            "messages": 100,
            "configured_rate_per_second": 10,
            "service_aws_calls": {"dynamodb:UpdateItem": 200, "dynamodb:PutItem": 100},
            "sender_cpu_ms_per_message": 5.0,
        }
    },
    "analytics": {
        "stats_invocations_per_1000_messages": {"inbound": 2.0, "sent_delivered_read": 4.0},
        "counter_writes": {"one_shop": {"write_units_per_message": 0.01}},
    },
    "flows": {
        "executions": {
            "welcome-menu": {
                "steps_executed": 4,
                "waits": {"customer": 1, "delay": 0},
                "state_transitions": 6,
                "runner_invocations": 3,
                "runner_invocation_ms": {"run": [100.0, 50.0], "park": [49.5]},
                "runner_write_units": 40,
                "runner_read_units": 4.0,
                "dispatch": {
                    "processor_calls_no_flow": {"aws_calls": 3, "by_operation": {"dynamodb:GetItem": 2}},
                    "processor_write_units_no_flow": 8,
                    "processor_write_units_start": 18,
                    "processor_write_units_resume": 12,
                },
            },
            "extra_steps_add_no_transition": True,
        }
    },
    "ai_agents": {
        "ranking_ms_per_message": {"p50": 2.0},
        "prompt_build_ms": {"p50": 1.0},
        "prompt_tokens": {"large_median": 1000.0},
        "live_replies": {"small": {"warm_reply": {"aws_calls": 10, "read_units": 5.0, "write_units": 20}}},
    },
}


def test_inbound_dynamodb_writes_line() -> None:
    table = cost.inbound(COUNTS, FACTS)
    line = table.line("inbound processor: DynamoDB writes")
    # The processor's figures come from the flows bench's no-flow dispatch when it is there: 8 WRU.
    assert line.inputs == ("1,000,000 × 8 WRU (flows → welcome-menu → dispatch, no flow) = 8,000,000 WRU × $0.625 / 1M")
    assert line.usd == pytest.approx(8_000_000 * 0.625 / 1_000_000, abs=1e-12)
    assert line.usd == pytest.approx(5.0, abs=1e-12)
    # Without a flows section, the ingestion's 8 WRU (the same here) from webhook_ingestion.
    without_flows = {k: v for k, v in COUNTS.items() if k != "flows"}
    assert "(webhook_ingestion)" in cost.inbound(without_flows, FACTS).line("inbound processor: DynamoDB writes").inputs


def test_flow_transitions_and_writes_lines() -> None:
    welcome = cost.flow_tables(COUNTS, FACTS)[0]
    assert welcome.title.startswith("Flow welcome-menu")
    assert "MEASURED" in welcome.title
    transitions = welcome.line("Step Functions transitions")
    assert transitions.inputs == "6 × 1,000 = 6,000 × $0.025 / 1,000"
    assert transitions.usd == pytest.approx(0.15, abs=1e-12)
    writes = welcome.line("DynamoDB writes")
    # runner 40 + start (18 - 8) + 1 resume × (12 - 8) = 54 WRU an execution
    assert writes.inputs == "(40 runner + 10 start + 1 × 4 resume) × 1,000 = 54,000 WRU × $0.625 / 1M"
    assert writes.usd == pytest.approx(54_000 * p.DYNAMODB_PER_MILLION_WRU / 1_000_000, abs=1e-12)
    duration = welcome.line("flow runner: Lambda duration")
    # 100 + 50 + 50 (49.5 billed as 50) = 200 ms, × 0.5 GB × 1,000 = 100 GB-s
    assert "200 ms" in duration.inputs
    assert "= 100 GB-s" in duration.inputs
    computed = [t for t in cost.flow_tables(COUNTS, FACTS) if "COMPUTED" in t.title]
    assert {t.title.split(":")[0] for t in computed} == {"Flow lead-capture", "Flow ad-offer"}


def test_target_verdict_is_computed_not_claimed() -> None:
    table = cost.inbound(COUNTS, FACTS)
    expected = "MET" if table.total <= cost.TARGET_INBOUND_PER_MILLION else "NOT MET"
    assert f": {expected} (" in table.verdict


def test_a_missing_section_names_make_bench() -> None:
    counts = copy.deepcopy(COUNTS)
    del counts["analytics"]
    with pytest.raises(cost.MissingMeasurement, match="make bench"):
        cost.inbound(counts, FACTS)


def test_the_committed_results_produce_the_table() -> None:
    results = cost.load_results()
    facts = cost.template_facts()
    text = cost.render(cost.build(results, facts), results)
    for heading in ("== Inbound messages", "== Sent messages", "== Flow welcome-menu", "== AI replies", "== Idle"):
        assert heading in text
    assert "target ≤ $4.0000 per million inbound" in text
    assert facts.kms_keys >= 1
    assert facts.alarms >= 1
