"""``make bench``: cold start per function and AWS calls per request, written to bench/results/latest.json.

``python -m bench ai`` runs only the AI agents' figures (ranking, prompt tokens, the AWS cost of a live
reply) and updates their section of
bench/results/latest.json, leaving the others as they were last measured; ``python -m bench flows`` does
the same for the automation flows' figures (bench/flows.py: state transitions, runner invocations and AWS
calls per execution, the time from a webhook to a flow's first message); ``python -m bench analytics``
for the analytics counters' (bench/analytics.py: the reads of GET /analytics/messages at 1,000 and
1,000,000 messages, the write units per message; bench/hot_counter.py: one shop at 1,000 messages a second,
the writes a second of its hottest counter item); ``python -m bench inbound`` for the webhook ingestion's
(bench/inbound.py: the receiver, an inbound message's calls and write units, what each write unit buys and
what other designs would write, the processor's throughput); ``python -m bench campaigns`` for the campaigns'
(bench/campaigns.py: the fan-out of 1,000, 10,000 and 100,000 customers — time, AWS calls and memory per
recipient — and the sender's achieved rate on a campaign's messages against its ceiling); ``python -m bench
campaign-messages`` for one campaign's calls and units from launch to Meta's read statuses, which ``make cost``
prices (bench/campaign_messages.py)."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import (
    ai,
    ai_reply,
    analytics,
    aws_calls,
    bulk,
    campaign_messages,
    campaigns,
    coldstart,
    flows,
    hot_counter,
    inbound,
    sender,
)

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> None:
    # Before any handler module is imported: Powertools' Metrics takes its namespace when created.
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Bench")
    only = sys.argv[1:] if argv is None else argv
    if only:
        if len(only) != 1 or only[0] not in SECTIONS:
            raise SystemExit(f"usage: python -m bench [{'|'.join(SECTIONS)}] (unknown: {' '.join(only)})")
        refresh(only[0])
        return
    started = time.time()
    cold = coldstart.measure()
    calls = aws_calls.measure()
    ingestion = inbound.measure()
    sending = sender.measure()
    ai_agents = ai.measure()
    ai_replies = ai_reply.measure_apart()
    bulk_deliveries = bulk.measure()
    flow_figures = flows.measure_apart()
    analytics_figures = measure_analytics()
    campaign_figures = campaigns.measure()
    campaign_message_figures = campaign_messages.measure_apart()
    report = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "machine": f"{platform.machine()} {platform.python_implementation()} {platform.python_version()}",
        "cold_start": cold,
        "aws_calls_per_request": calls,
        "webhook_ingestion": ingestion,
        "sender_throughput": sending,
        "ai_agents": ai_agents,
        "ai_replies": ai_replies,
        "bulk_deliveries": bulk_deliveries,
        "flows": flow_figures,
        "analytics": analytics_figures,
        "campaign_fan_out": campaign_figures,
        "campaign_messages": campaign_message_figures,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n")

    print(f"\nCold start (import of the handler module, median of {coldstart.RUNS}, {cold['environment']})")
    print(f"  floor (boto3 + APIGatewayHttpResolver): {cold['floor_ms']} ms; target ratio <= {cold['target_ratio']}")
    for name, figures in cold["functions"].items():
        mark = "ok " if figures["ratio"] <= cold["target_ratio"] else "OVER"
        print(f"  {mark} {name:24} {figures['import_ms']:7.1f} ms  {figures['ratio']:.2f}x")
    print("\nAWS calls per request (warm)")
    for label, figures in calls.items():
        target = f"  (target <= {figures['target']})" if "target" in figures else ""
        units = f"; {figures['write_units']} WRU {figures['write_units_by_target']}" if "write_units" in figures else ""
        print(f"  {label:28} {figures['aws_calls']}  {figures['by_operation']}{target}{units}")
    inbound.report(ingestion)
    print("\nSender throughput (outbound queue -> sender containers -> Graph simulator, one phone number;")
    print("  moto's server, the simulator and each container in a process of its own)")
    for label, run in sending.items():
        cpu = run["cpu_seconds"]
        print(
            f"  {label}: {run['messages']} messages, configured {run['configured_rate_per_second']}/s,"
            f" {run['containers']} containers: {run['achieved_per_second']} msg/s over"
            f" {run['seconds_first_to_last_send']} s; busiest sliding second {run['busiest_second_of_departures']}"
            f" departures / {run['busiest_second_at_graph']} arrivals (never over the rate:"
            f" {run['rate_never_exceeded']}); all sent: {run['all_sent']} {run['final_statuses']}"
        )
        print(
            f"    AWS calls per message {run['service_aws_calls_per_message']} {run['service_aws_calls']};"
            f" CPU s: emulator {cpu['aws_emulator']} (busy {run['emulator_busy_share']} of the run),"
            f" simulator {cpu['graph_simulator']}, senders {cpu['senders']}"
            f" = {run['sender_cpu_ms_per_message']} ms per message;"
            f" queue ran dry: {run['queue_ran_dry_while_offering']}"
        )
    ai.report(ai_agents)
    ai_reply.report(ai_replies)
    print_bulk(bulk_deliveries)
    flows.report(flow_figures)
    report_analytics(analytics_figures)
    campaigns.report(campaign_figures)
    campaign_messages.report(campaign_message_figures)
    print(f"\nwritten to {RESULTS / 'latest.json'}")


def measure_analytics() -> dict[str, Any]:
    figures = analytics.measure()
    figures["hot_counter"] = hot_counter.measure_apart()
    return figures


def report_analytics(figures: dict[str, Any]) -> None:
    analytics.report(figures)
    hot_counter.report(figures["hot_counter"])


def measure_ai() -> dict[str, Any]:
    figures = ai.measure()
    figures["live_replies"] = ai_reply.measure()
    return figures


def report_ai(figures: dict[str, Any]) -> None:
    ai.report(figures)
    ai_reply.report(figures["live_replies"])


# ``python -m bench <name>``: one section of bench/results/latest.json measured again, the others left as
# they were last measured: name -> (the section's key, measure, report).
SECTIONS: dict[str, tuple[str, Callable[[], dict[str, Any]], Callable[[dict[str, Any]], None]]] = {
    "ai": ("ai_agents", measure_ai, report_ai),
    "flows": ("flows", flows.measure_apart, flows.report),
    "analytics": ("analytics", measure_analytics, report_analytics),
    "inbound": ("webhook_ingestion", inbound.measure, inbound.report),
    "campaigns": ("campaign_fan_out", campaigns.measure, campaigns.report),
    "campaign-messages": ("campaign_messages", campaign_messages.measure_apart, campaign_messages.report),
}


def refresh(name: str) -> None:
    key, measure, report_section = SECTIONS[name]
    started = time.time()
    figures = measure()
    latest = RESULTS / "latest.json"
    report = json.loads(latest.read_text()) if latest.is_file() else {}
    report[key] = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "machine": f"{platform.machine()} {platform.python_implementation()} {platform.python_version()}",
        **figures,
    }
    RESULTS.mkdir(exist_ok=True)
    latest.write_text(json.dumps(report, indent=2) + "\n")
    report_section(figures)
    print(f"\nwritten to {latest} (section {key})")


def print_bulk(figures: dict[str, Any]) -> None:
    targets = figures["targets"]
    print(
        f"\nBulk webhook deliveries (issue 10; targets: a 500-change answer <="
        f" {targets['receiver_answer_ms_500_changes']} ms, 1,000 messages processed <="
        f" {targets['stack_seconds_to_processed_1000_messages']} s, peak RSS <= {targets['stack_rss_mb_peak']} MB,"
        f" Ctrl-C <= {targets['stop_seconds']} s)"
    )
    print("  receiver (warm, in-process, moto in-process):")
    for label, run in figures["receiver"].items():
        print(
            f"    {label.replace('_', ' ')}: answer {run['answer_ms_median']} ms median, {run['answer_ms_max']} ms max"
            f" over {run['runs']} runs; {run['aws_calls']} -> {run['sqs_messages']} queue messages"
        )
    stack = figures["local_stack"]
    print("  local stack (python -m local.stack in a subprocess; every message from a new customer):")
    for label in ("1000_messages_in_one_change", "500_changes_of_1_message"):
        run = stack[label]
        print(
            f"    {label.replace('_', ' ')}: answered in {run['answer_ms']} ms, processed in"
            f" {run['seconds_to_processed']} s ({run['messages_stored']} stored), RSS after {run['rss_mb_after']} MB"
        )
    under_load = figures["ctrl_c_under_load"]
    print(
        f"    RSS ready {stack['rss_mb_ready']} MB, peak {stack['rss_mb_peak']} MB, after the load"
        f" {stack['rss_mb_after_load']} MB; dead letters"
        f" {stack['dead_letters']}"
    )
    print(
        f"    Ctrl-C: {stack['stop_seconds_after_ctrl_c']} s right after the load,"
        f" {under_load['stop_seconds']} s {under_load['ctrl_c_seconds_after_delivery']} s into a 1,000-message"
        f" delivery ({under_load['queue_messages_left']} queue messages left)"
    )


if __name__ == "__main__":
    main()
