"""``make cost`` (bench/cost.py): the arithmetic on a small fixture of counts, and the committed
bench/results/latest.json producing the whole table."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
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
        "CampaignsFunction": 512,
        "CampaignRunnerFunction": 512,
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


def campaign_phase(function: str, invocations: int, billed_ms: int, **more: Any) -> dict[str, Any]:
    return {
        "function": function,
        "invocations": invocations,
        "billed_ms": billed_ms,
        "by_operation": more.get("calls", {}),
        "event_source_mapping_requests": more.get("mapping", {}),
        "write_units": {"total": more.get("wru", 0)},
        "read_units": more.get("rru", 0.0),
    }


# A campaign to 100 customers (the shape bench/campaign_messages.py writes): one page, a wait, the end.
CAMPAIGN: dict[str, Any] = {
    "customers": 100,
    "page_size": 250,
    "send_rate_per_second": 80,
    "campaign_status": "completed",
    "messages_sent": 100,
    "sent_once_each": True,
    "send_seconds": 2.5,
    "runner_answers": ["step", "wait", "end"],
    "states": ["Step", "Route", "Step", "Route", "Pause", "Step", "Route", "Done"],
    "state_transitions": 8,
    "funnel": {"delivered": 100, "billable": {"marketing": 100}, "estimatedMetaChargeUsd": 7.32},
    "phases": {
        "launch": campaign_phase(
            "CampaignsFunction", 2, 100, calls={"dynamodb:GetItem": 2, "stepfunctions:StartExecution": 1}, wru=7
        ),
        "fan-out": campaign_phase("CampaignRunnerFunction", 2, 400, calls={"sqs:SendMessageBatch": 10}, wru=200),
        "send": campaign_phase(
            "SenderFunction",
            10,
            2000,
            calls={"dynamodb:GetItem": 1000, "kms:Decrypt": 1},
            mapping={"sqs:ReceiveMessage": 10, "sqs:DeleteMessageBatch": 10},
            wru=3000,
            rru=700.0,
        ),
        "poll": campaign_phase("CampaignRunnerFunction", 1, 100, wru=2),
        "statuses: receiver": campaign_phase("WebhooksFunction", 300, 900, calls={"sqs:SendMessage": 300}),
        "statuses: processor": campaign_phase(
            "InboundProcessorFunction",
            30,
            3000,
            calls={"dynamodb:GetItem": 600},
            mapping={"sqs:ReceiveMessage": 30, "sqs:DeleteMessageBatch": 30},
            wru=1100,
            rru=300.0,
        ),
        "counters": campaign_phase("StatsFunction", 3, 60, wru=16),
    },
}
COUNTS["campaign_messages"] = CAMPAIGN


def test_campaign_lines_scale_the_measured_campaign_to_1000_messages() -> None:
    table = cost.campaign_messages(COUNTS, FACTS)
    transitions = table.line("Step Functions transitions")
    assert transitions.inputs == ("8 (Step 3, Route 3, Pause 1, Done 1) × 1,000 / 100 = 80 × $0.025 / 1,000")
    assert transitions.usd == pytest.approx(80 * p.STEP_FUNCTIONS_PER_THOUSAND_TRANSITIONS / 1000, abs=1e-12)
    # the runner's SendMessageBatch and the sender's mapping's receive and delete: 30 requests per 100 messages
    outbound = table.line("outbound queue: SQS requests")
    assert outbound.inputs.startswith("(10 DeleteMessageBatch + 10 ReceiveMessage + 10 SendMessageBatch) × 1,000 / 100")
    assert outbound.usd == pytest.approx(300 * p.SQS_PER_MILLION_REQUESTS / 1_000_000, abs=1e-12)
    inbound = table.line("inbound queue: SQS requests")
    assert inbound.usd == pytest.approx(3600 * p.SQS_PER_MILLION_REQUESTS / 1_000_000, abs=1e-12)
    assert table.line("sender: DynamoDB writes").usd == pytest.approx(
        30_000 * p.DYNAMODB_PER_MILLION_WRU / 1_000_000, abs=1e-12
    )
    # the sender's duration: 2,000 ms measured + 10 batches × the Graph round trip, per 100 messages
    duration = table.line("sender: Lambda duration")
    per_message = (2000 + 10 * cost.GRAPH_ROUND_TRIP_MS) / 100
    assert duration.usd == pytest.approx(1000 * 1.0 * per_message / 1000 * p.LAMBDA_ARM_PER_GB_SECOND, abs=1e-12)
    assert table.line("campaign API: HTTP API requests").usd == pytest.approx(
        20 * p.HTTP_API_PER_MILLION_REQUESTS / 1_000_000, abs=1e-12
    )
    assert table.line("KMS decrypts (token cache misses)").usd == pytest.approx(
        10 * p.KMS_PER_10K_REQUESTS / 10_000, abs=1e-12
    )
    reads = table.line("DynamoDB reads")
    assert reads.usd == pytest.approx(10_000 * p.DYNAMODB_PER_MILLION_RRU / 1_000_000, abs=1e-12)
    assert not any("Meta" in line.item for line in table.lines)  # Meta's charge is not AWS's


def test_metas_charge_is_apart_and_from_the_services_rate_card() -> None:
    from mkt_whatsapp.analytics.campaigns import META_RATES_USD

    table = cost.meta_charge(COUNTS)
    assert "NOT AWS's" in table.title
    assert "META_RATES_USD" in table.title
    [line] = table.lines
    assert line.usd == pytest.approx(1000 * float(META_RATES_USD["marketing"]), abs=1e-9)


def test_a_campaign_not_measured_or_not_sent_whole_is_refused() -> None:
    without = {k: v for k, v in COUNTS.items() if k != "campaign_messages"}
    with pytest.raises(cost.MissingMeasurement, match="python -m bench campaign-messages"):
        cost.campaign_messages(without, FACTS)
    twice = copy.deepcopy(COUNTS)
    twice["campaign_messages"]["sent_once_each"] = False
    with pytest.raises(cost.MissingMeasurement, match="once"):
        cost.campaign_messages(twice, FACTS)


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
    for heading in (
        "== Inbound messages",
        "== Sent messages",
        "== Flow welcome-menu",
        "== AI replies",
        "== Campaign messages: AWS cost per 1,000",
        "== Campaign messages: META's charge per 1,000 delivered marketing messages",
        "== Idle",
    ):
        assert heading in text
    assert "target ≤ $4.0000 per million inbound" in text
    assert facts.kms_keys >= 1
    assert facts.alarms >= 1


def with_breakdown(counts: dict[str, Any]) -> dict[str, Any]:
    """COUNTS with an itemised inbound message of 11 WRU (the shape bench/message_writes.py writes)."""
    counts = copy.deepcopy(counts)
    rows = [
        ("message", "table", 1),
        ("message", "transaction ×2", 1),
        ("message", "GSI1", 1),
        ("conversation", "table", 1),
        ("conversation", "transaction ×2", 1),
        ("conversation", "GSI1", 2),
        ("customer", "table", 1),
        ("customer", "transaction ×2", 1),
        ("automation outcome", "table", 1),
        ("automation outcome", "GSI1", 1),
    ]
    designs = [("a", 11, 2, True), ("b", 9, 2, True), ("b2", 10, 3, True), ("c", 8, 4, False), ("floor", 6, 3, False)]
    counts["webhook_ingestion"]["write_units_breakdown"] = {
        "total": 11,
        "rows": [{"item": i, "request": "r", "target": t, "write_units": u, "buys": f"{i} {t}"} for i, t, u in rows],
    }
    counts["webhook_ingestion"]["designs"] = [
        {"design": k, "statement": f"design {k}", "write_units": u, "write_calls": c, "exactly_once": e, "why": "w"}
        for k, u, c, e in designs
    ]
    return counts


def test_the_itemised_write_units_are_the_writes_line_and_each_is_priced() -> None:
    table = cost.inbound(with_breakdown(COUNTS), FACTS)
    line = table.line("inbound processor: DynamoDB writes")
    assert line.inputs.startswith("1,000,000 × 11 WRU (webhook_ingestion → write_units_breakdown)")
    assert line.usd == pytest.approx(11 * p.DYNAMODB_PER_MILLION_WRU, abs=1e-12)
    text = "\n".join(table.details)
    priced = [row for row in table.details if row.endswith(("table", "transaction ×2", "GSI1"))]
    assert len(priced) == 10
    # each row's $ is its WRU × $0.625 per million; the rows add up to the writes line
    dollars = [float(row.split()[1].lstrip("$")) for row in priced]
    assert dollars == [u * p.DYNAMODB_PER_MILLION_WRU for u in (1, 1, 1, 1, 1, 2, 1, 1, 1, 1)]
    assert sum(dollars) == pytest.approx(line.usd, abs=1e-9)
    [summed] = [row for row in table.details if row.endswith("= the DynamoDB writes line above")]
    assert summed.split()[:2] == ["11", cost.usd(line.usd)]
    assert "buys" in text


def test_the_designs_are_priced_and_the_verdict_names_the_cheapest_exactly_once_one() -> None:
    counts = with_breakdown(COUNTS)
    table = cost.inbound(counts, FACTS)
    today = next(d for d in counts["webhook_ingestion"]["designs"] if d["design"] == "a")
    costs = {
        d["design"]: cost.design_cost(table, d, today, FACTS, cost.MILLION)
        for d in counts["webhook_ingestion"]["designs"]
    }
    assert costs["a"] == pytest.approx(table.total, abs=1e-9)  # today's design is the table itself
    # (b) is 2 WRU fewer with the same calls; (b2) 1 fewer and one more call (10 ms at 512 MB)
    assert costs["a"] - costs["b"] == pytest.approx(2 * p.DYNAMODB_PER_MILLION_WRU, abs=1e-9)
    call = cost.MILLION * 0.5 * cost.AWS_CALL_MS / 1000 * p.LAMBDA_ARM_PER_GB_SECOND
    assert costs["a"] - costs["b2"] == pytest.approx(p.DYNAMODB_PER_MILLION_WRU - call, abs=1e-9)
    assert sorted(costs, key=costs.__getitem__) == ["floor", "c", "b", "b2", "a"]
    [verdict] = [row for row in table.details if row.startswith("verdict:")]
    assert verdict.startswith(
        f"verdict: the cheapest design that keeps exactly-once is (b), 9 WRU: {cost.usd(costs['b'])}"
    )
    met = [k for k, usd in costs.items() if usd <= cost.TARGET_INBOUND_PER_MILLION]
    assert ("met by NO design" in verdict) == (not met)


def test_the_committed_breakdown_sums_to_the_measured_message_and_its_designs_are_ordered() -> None:
    results = cost.load_results()
    ingestion = results["webhook_ingestion"]
    rows = ingestion["write_units_breakdown"]["rows"]
    measured = ingestion["write_units_per_inbound_message"]["total"]
    assert sum(row["write_units"] for row in rows) == ingestion["write_units_breakdown"]["total"] == measured
    for item in ("message", "conversation", "customer", "automation outcome"):
        assert any(row["item"] == item for row in rows), item
    designs = {d["design"]: d for d in ingestion["designs"]}
    assert designs["a"]["write_units"] == measured
    table = cost.inbound(results, cost.template_facts())
    costs = {
        k: cost.design_cost(table, d, designs["a"], cost.template_facts(), cost.MILLION) for k, d in designs.items()
    }
    kept = [k for k, d in designs.items() if d["exactly_once"]]
    cheapest = min(kept, key=costs.__getitem__)
    assert min(costs, key=costs.__getitem__) == "floor"
    assert max(kept, key=costs.__getitem__) == "a"
    assert f"verdict: the cheapest design that keeps exactly-once is ({cheapest})" in "\n".join(table.details)


def test_read_units_follow_dynamodbs_rules() -> None:
    from bench import dynamo_cost

    small = {"PK": {"S": "SHOP#s"}, "SK": {"S": "CUSTOMER#1"}, "name": {"S": "An"}}
    large = {**small, "blob": {"S": "x" * 5000}}  # two started 4 KB
    # GetItem: the item's units, halved when eventually consistent; none found is the minimum
    assert dynamo_cost.read_units("GetItem", {"ConsistentRead": True}, {"Item": large}) == 2
    assert dynamo_cost.read_units("GetItem", {}, {"Item": small}) == 0.5
    assert dynamo_cost.read_units("GetItem", {"ConsistentRead": True}, {}) == 1
    # BatchGetItem: each key on its own (a missing one the minimum), unprocessed keys not billed
    keys = {"Keys": [{"k": 1}, {"k": 2}, {"k": 3}, {"k": 4}], "ConsistentRead": True}
    answer = {"Responses": {"t": [small, large]}, "UnprocessedKeys": {"t": {"Keys": [{"k": 4}]}}}
    assert dynamo_cost.read_units("BatchGetItem", {"RequestItems": {"t": keys}}, answer) == 1 + 2 + 1
    # Query: the items' sizes summed, then rounded up; what the filter dropped is read too
    page = {"Items": [small] * 3, "Count": 3, "ScannedCount": 3}
    assert dynamo_cost.read_units("Query", {}, page) == 0.5
    filtered = {"Items": [large], "Count": 1, "ScannedCount": 4}  # about 20 KB read, 5 KB answered
    assert dynamo_cost.read_units("Query", {"ConsistentRead": True}, filtered) == 5


# --- what each write unit of an inbound message buys (bench/message_writes.py) ----------------------------


@pytest.fixture
def responder() -> Iterator[None]:
    """A responder that answers nothing, so the message is stored ``pending`` and its outcome written, as
    functions/inbound's responders make it (none registered: no outcome write)."""
    from mkt_whatsapp.inbound import dispatcher

    dispatcher.register("cost-test", lambda message: False)
    yield
    dispatcher.unregister("cost-test")


def processed_message_writes(api: Any, aws: Any, shop_ids: Any) -> dict[str, Any]:
    """A known customer's second text, a minute after the first, through the real processor: the breakdown
    and designs bench/inbound.py measures, and the write units dynamo_cost bills for its writes."""
    from bench import dynamo_cost, message_writes
    from mkt_whatsapp.core import aws as service_aws
    from mkt_whatsapp.inbound import processor
    from tests.support import connect_shop, inbound_text_change

    connect_shop(api)
    now = int(time.time())
    processor.process_change(inbound_text_change(shop_ids.phone_number_id, "84907770001", "wamid.COST.1", at=now - 60))
    writes: list[tuple[str, dict[str, Any]]] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        if model.name in ("TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem"):
            writes.append((model.name, json.loads(json.dumps(params, default=str))))

    client = service_aws.dynamodb()
    client.meta.events.register("before-parameter-build.dynamodb", record, unique_id="test-cost-writes")
    before = dynamo_cost.snapshot(aws.table_name)
    try:
        processor.process_change(inbound_text_change(shop_ids.phone_number_id, "84907770001", "wamid.COST.2", at=now))
    finally:
        client.meta.events.unregister("before-parameter-build.dynamodb", unique_id="test-cost-writes")
    after = dynamo_cost.snapshot(aws.table_name)
    return {
        **message_writes.measure(writes, before, after),
        "measured": dynamo_cost.write_units_of(writes, before, after),
    }


def test_each_write_unit_of_a_real_message_is_named_and_they_sum_to_the_measured_total(
    api: Any, aws: Any, shop_ids: Any, responder: None
) -> None:
    figures = processed_message_writes(api, aws, shop_ids)
    rows = figures["write_units_breakdown"]["rows"]
    assert sum(row["write_units"] for row in rows) == figures["measured"]["total"]
    assert figures["write_units_breakdown"]["total"] == figures["measured"]["total"]
    units = {(row["item"], row["target"]): row["write_units"] for row in rows}
    # Small items (< 1 KB): 1 WRU per item write, ×2 in the transaction; GSI1's entries as the rules bill them.
    assert units == {
        ("message", "table"): 1,
        ("message", "transaction ×2"): 1,
        ("message", "GSI1"): 1,  # a new entry in the conversation's message list
        ("conversation", "table"): 1,
        ("conversation", "transaction ×2"): 1,
        ("conversation", "GSI1"): 2,  # lastMessageAt moved a minute: the sort key changes (delete + put)
        ("customer", "table"): 1,
        ("customer", "transaction ×2"): 1,
        ("automation outcome", "table"): 1,
        ("automation outcome", "GSI1"): 1,  # over the message's own image, not as a new entry
    }
    assert figures["measured"]["total"] == 11
    assert all(row["buys"] for row in rows)


def test_the_designs_bill_the_same_images_and_only_the_exactly_once_ones_compete(
    api: Any, aws: Any, shop_ids: Any, responder: None
) -> None:
    figures = processed_message_writes(api, aws, shop_ids)
    designs = {d["design"]: d for d in figures["designs"]}
    wru = {key: d["write_units"] for key, d in designs.items()}
    # today's design is what was measured
    assert wru["a"] == figures["measured"]["total"]
    for d in designs.values():
        assert d["write_units"] == sum(sum(units.values()) for units in d["by_item"].values())
    # (b) drops the customer's transactional write (2); (b2) writes it plain after (1); (c) undoes the
    # doubling of the three; (d) adds Powertools' two record writes to plain writes and drops the outcome.
    assert wru == {"a": 11, "b": 9, "b2": 10, "c": 8, "d": 8, "floor": 6}
    assert {key for key, d in designs.items() if d["exactly_once"]} == {"a", "b", "b2"}
    assert min(wru.values()) == wru["floor"]
    cheapest = min((d for d in designs.values() if d["exactly_once"]), key=lambda d: d["write_units"])
    assert cheapest["design"] == "b"
