"""``make bench``: cold start per function and AWS calls per request, written to bench/results/latest.json.

``python -m bench ai`` runs only the AI agents' figures (ranking, prompt tokens, the AWS cost of a live
reply) and updates their section of
bench/results/latest.json, leaving the others as they were last measured."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

from bench import ai, ai_reply, aws_calls, coldstart, inbound, sender

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> None:
    # Before any handler module is imported: Powertools' Metrics takes its namespace when created.
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Bench")
    only = sys.argv[1:] if argv is None else argv
    if only:
        if only != ["ai"]:
            raise SystemExit(f"usage: python -m bench [ai] (unknown: {' '.join(only)})")
        main_ai_only()
        return
    started = time.time()
    cold = coldstart.measure()
    calls = aws_calls.measure()
    ingestion = inbound.measure()
    sending = sender.measure()
    ai_agents = ai.measure()
    ai_replies = ai_reply.measure()
    report = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "machine": f"{platform.machine()} {platform.python_implementation()} {platform.python_version()}",
        "cold_start": cold,
        "aws_calls_per_request": calls,
        "webhook_ingestion": ingestion,
        "sender_throughput": sending,
        "ai_agents": ai_agents,
        "ai_replies": ai_replies,
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
    receiver = ingestion["receiver_handler_ms"]
    per_message = ingestion["aws_calls_per_inbound_message"]
    wru = ingestion["write_units_per_inbound_message"]
    throughput = ingestion["processor_throughput"]
    print("\nWebhook ingestion (warm, in-process, moto in-process)")
    print(
        f"  receiver handler: p50 {receiver['p50']} ms, p99 {receiver['p99']} ms over {receiver['runs']} runs"
        f" (target p99 <= {receiver['target_p99']} ms); {ingestion['receiver_aws_calls']} AWS call"
    )
    print(
        f"  AWS calls per inbound message end to end: {per_message['total']} (target <= {per_message['target']})"
        f"  {per_message['by_operation']}"
    )
    print(f"  write units per inbound message: {wru['total']} (target <= {wru['target']})  {wru['by_target']}")
    first = ingestion["first_message_of_a_new_customer"]
    print(
        f"  a new customer's first message: {first['aws_calls']} calls, {first['write_units']['total']} WRU"
        f"  {first['write_units']['by_target']}"
    )
    for label in ("text_reply_sent_within_the_request", "status_webhook_end_to_end"):
        figures = ingestion[label]
        print(
            f"  {label.replace('_', ' ')}: {figures['aws_calls']} calls {figures['by_operation']},"
            f" {figures['write_units']['total']} WRU {figures['write_units']['by_target']}"
        )
    print(
        f"  processor: {throughput['messages']} messages in batches of 10 in {throughput['seconds']} s"
        f" = {throughput['messages_per_second']} msg/s ({throughput['note']})"
    )
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
    print(f"\nwritten to {RESULTS / 'latest.json'}")


def main_ai_only() -> None:
    started = time.time()
    figures = ai.measure()
    figures["live_replies"] = ai_reply.measure()
    latest = RESULTS / "latest.json"
    report = json.loads(latest.read_text()) if latest.is_file() else {}
    report["ai_agents"] = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "machine": f"{platform.machine()} {platform.python_implementation()} {platform.python_version()}",
        **figures,
    }
    RESULTS.mkdir(exist_ok=True)
    latest.write_text(json.dumps(report, indent=2) + "\n")
    ai.report(figures)
    ai_reply.report(figures["live_replies"])
    print(f"\nwritten to {latest} (section ai_agents)")


if __name__ == "__main__":
    main()
