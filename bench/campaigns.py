"""Campaigns (issue 14): the fan-out of a 100,000-customer audience, and the sender at its ceiling on a
campaign's messages.

Laid out as the service runs, each in a process of its own: the AWS emulator (moto's server,
``python -m bench.moto_server``), the Graph simulator, the campaign runner (the Lambda the campaign state
machine invokes: one "container" driving the steps as the state machine's Step → Route loop does) and, for
the sending part, the sender containers (bench/sender.py's).

**Fan-out.** Customers are written straight to the table (a shop on the 100K tier, all ``vip`` and opted
in), a marketing campaign for ``vip`` is created and launched through the Campaigns function, and the runner
steps it until the audience is enumerated and every recipient is on the outbound queue (the first ``wait``).
Measured: the wall time and the runner's own CPU time per recipient (the emulator's apart), the AWS calls per
recipient by operation, the state transitions (two a step: Step and Route), and the runner's memory — the
Python heap's peak within each step (tracemalloc) and the process's peak RSS — at 1,000, 10,000 and 100,000
customers: flat if the fan-out holds a page, not the audience. Checked, or the bench fails: every customer is
one ``queued`` recipient and one queue message.

**Sending.** A campaign enumerated by the same runner into a staging queue, then offered to the outbound
queue a backlog at a time (as bench/sender.py does: moto counts a queue by scanning it) and sent by four
sender containers at a configured per-number rate: 1,000 recipients at Meta's default 80 a second (beyond
the emulator's reach: a campaign message is about 20 AWS calls), 500 at 5 a second (within it). Measured:
the achieved rate against the configured ceiling, the busiest sliding second of departures (when the sender
let a send go: what the service paces) and of arrivals at the simulator (never above the ceiling but for
transit jitter), the AWS calls per message; checked: each customer got exactly one message.

``python -m bench campaigns`` measures this section alone.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import resource
import subprocess
import sys
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import httpx

from bench.sender import _container, _cpu_seconds, _free_port, _transit, _wait_for, busiest_window, start_container
from bench.stack import PHONE_NUMBER_ID, SHOP, auth_headers, connect_account
from local import template as tpl
from local.lambdas import LocalLambdas, forget_container_state
from local.make_events import http_event

ROOT = tpl.ROOT
AUDIENCES = (1_000, 10_000, 100_000)
# (recipients, the number's send rate a second): Meta's default rate, which the emulator cannot reach with a
# campaign message's calls; and a rate below the emulator's reach, which shows the ceiling held and reached.
SENDING = ((1_000, 80), (500, 5))
SENDER_CONTAINERS = 4
BACKLOG = 120
TEMPLATE = {
    "id": "bench-spring-sale",
    "name": "spring_sale",
    "language": "vi",
    "status": "APPROVED",
    "category": "MARKETING",
    "components": [
        {"type": "BODY", "text": "{{1}} ơi, mùa xuân giảm 20% cho mọi đơn!", "example": {"body_text": [["An"]]}}
    ],
    "parameter_format": "POSITIONAL",
    "quality_score": {"score": "GREEN"},
}


@contextmanager
def _processes() -> Iterator[dict[str, Any]]:
    """The emulator and the Graph simulator, each a process; yields the environment the service runs with."""
    moto_port, graph_port = _free_port(), _free_port()
    env = {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
        "JWT_SECRET": "bench-jwt-secret-0123456789abcdef",
        "META_APP_SECRET": "bench-app-secret",
        "WEBHOOK_VERIFY_TOKEN": "bench-verify",
        "GRAPH_API_BASE_URL": f"http://127.0.0.1:{graph_port}",
        "POWERTOOLS_METRICS_NAMESPACE": "Bench",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "RATE_LIMIT_PER_MINUTE": "100000",
    }
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    child_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    emulator = subprocess.Popen(
        [sys.executable, "-m", "bench.moto_server", "-H", "127.0.0.1", "-p", str(moto_port)],
        env=child_env,
        cwd=ROOT,
        **quiet,
    )
    simulator = subprocess.Popen(
        [sys.executable, "-m", "local.graph_simulator", "--port", str(graph_port)], env=child_env, cwd=ROOT, **quiet
    )
    saved = dict(os.environ)
    try:
        _wait_for(f"{env['AWS_ENDPOINT_URL']}/moto-api/")
        _wait_for(f"{env['GRAPH_API_BASE_URL']}/_simulator/requests")
        os.environ.update(env)
        forget_container_state()
        yield {"env": env, "emulator_pid": emulator.pid, "simulator_pid": simulator.pid}
    finally:
        os.environ.clear()
        os.environ.update(saved)
        forget_container_state()
        for process in (emulator, simulator):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _shop(env: dict[str, str], stack_name: str, customers: int) -> tuple[dict[str, str], str, LocalLambdas]:
    """The bench shop on the 100K tier with the spring_sale template and ``customers`` opted-in ``vip``
    customers, and a campaign to them launched; returns the service's environment, the campaign's id and the
    functions."""
    session = boto3.session.Session(region_name="us-east-1")
    physical = tpl.deploy_resources(session, stack_name, {})
    physical.update(tpl.deploy_state_machines(session, stack_name))
    env = {
        **env,
        **tpl.data_environment(physical),
        "CAMPAIGN_STATE_MACHINE_ARN": physical["CampaignStateMachine"],
    }
    os.environ.update(env)
    forget_container_state()
    httpx.put(
        f"{env['GRAPH_API_BASE_URL']}/_simulator/phone-numbers/{PHONE_NUMBER_ID}",
        json={"messagingLimit": "TIER_100K"},
    ).raise_for_status()
    lambdas = LocalLambdas(tpl.functions())
    connect_account(lambdas)
    from mkt_whatsapp.core.clock import now_iso
    from mkt_whatsapp.store import get_table
    from mkt_whatsapp.store import templates as template_store
    from mkt_whatsapp.whatsapp.templates import definition_of

    definition = definition_of(TEMPLATE)
    assert definition is not None
    template_store.put_synced(get_table(), SHOP, definition, at=int(time.time()), now=now_iso())
    _write_customers(session.resource("dynamodb").Table(physical["Table"]), customers)
    created = _api(
        lambdas,
        "POST",
        "/campaigns",
        "/campaigns",
        {
            "shopId": SHOP,
            "name": "Spring sale",
            "template": {
                "name": "spring_sale",
                "language": "vi",
                "components": [{"type": "body", "parameters": [{"type": "text", "text": "{{customer.name|bạn}}"}]}],
            },
            "audience": {"tags": ["vip"], "match": "any"},
            "scheduledAt": None,
        },
    )
    campaign_id = str(created["campaignId"])
    launched = _api(lambdas, "POST", "/campaigns/{campaignId}/launch", f"/campaigns/{campaign_id}/launch", {})
    assert launched["status"] == "running", launched
    return env, campaign_id, lambdas


def _api(lambdas: LocalLambdas, method: str, route: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    parameters = {"campaignId": path.split("/")[2]} if "{campaignId}" in route else None
    event = http_event(
        method, route, path, headers=auth_headers(), body=json.dumps(body).encode(), path_parameters=parameters
    )
    answer = lambdas.invoke("CampaignsFunction", event)
    assert answer["statusCode"] in (200, 201), answer
    return dict(json.loads(answer["body"])["data"])


def _write_customers(table: Any, customers: int) -> None:
    """Customers as the inbound processor keeps them, written directly (BatchWriteItem, not measured)."""
    from mkt_whatsapp.store import keys

    with table.batch_writer() as batch:
        for n in range(customers):
            wa_id = f"8490{n:07d}"
            created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1767225600 + n))
            batch.put_item(
                Item={
                    "PK": keys.shop_pk(SHOP),
                    "SK": keys.customer_sk(wa_id),
                    "entity": "customer",
                    "GSI2PK": keys.shop_customers_gsi2pk(SHOP),
                    "GSI2SK": keys.customer_gsi2sk(created, wa_id),
                    "customerKey": wa_id,
                    "id": f"bench-customer-{n}",
                    "shopId": SHOP,
                    "waId": wa_id,
                    "name": f"Khách {n}",
                    "searchName": f"khach {n}",
                    "phoneDigits": wa_id,
                    "tags": ["vip"],
                    "customFields": {},
                    "consent": {"status": "opted_in", "timestamp": created, "source": "web"},
                    "createdAt": created,
                    "lastContactedAt": created,
                    "conversationCount": 0,
                    "version": 1,
                }
            )


def _runner(env: dict[str, str], campaign_id: str, results: Any) -> None:
    """One campaign runner container: steps the campaign as its state machine would (Step, then Route: again
    at once on ``step``) until it first waits or ends, measuring itself."""
    lambdas, calls = start_container(env, "CampaignRunnerFunction")
    run: dict[str, Any] = {"campaignId": campaign_id, "generation": 1}
    step_peaks: list[int] = []
    rss_after_first = 0
    tracemalloc.start()
    started, cpu_before = time.time(), time.process_time()
    while True:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        run = lambdas.invoke("CampaignRunnerFunction", {"action": "step", "run": run})
        step_peaks.append(tracemalloc.get_traced_memory()[1] - before)
        if len(step_peaks) == 1:
            rss_after_first = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if run.get("next") != "step":
            break
    results.put(
        {
            "seconds": time.time() - started,
            "cpu_seconds": time.process_time() - cpu_before,
            "calls": dict(calls),
            "steps": len(step_peaks),
            "last": run,
            "step_peaks": step_peaks,
            "rss_kb_after_first_step": rss_after_first,
            "rss_kb_peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "heap_kb_after": tracemalloc.get_traced_memory()[0] // 1024,
        }
    )


def _run_runner(env: dict[str, str], campaign_id: str) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    runner = context.Process(target=_runner, args=(env, campaign_id, results))
    runner.start()
    while True:
        try:
            report = dict(results.get(timeout=5))
            break
        except queue.Empty:
            if not runner.is_alive():
                raise RuntimeError(
                    f"the campaign runner died (exit code {runner.exitcode}): see its traceback above"
                ) from None
    runner.join(timeout=30)
    return report


def _queue_length(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def fan_out(customers: int) -> dict[str, Any]:
    with _processes() as processes:
        env, campaign_id, _lambdas = _shop(processes["env"], f"bench-fanout-{customers}", customers)
        emulator_cpu = _cpu_seconds(processes["emulator_pid"])
        report = _run_runner(env, campaign_id)
        emulator_cpu = _cpu_seconds(processes["emulator_pid"]) - emulator_cpu
        from mkt_whatsapp.store import campaigns as campaign_store
        from mkt_whatsapp.store import get_table

        counted = {state: n for state, n in campaign_store.counts(get_table(), campaign_id).items() if n}
        enqueued = _queue_length(boto3.client("sqs", region_name="us-east-1"), env["OUTBOUND_QUEUE_URL"])
    if counted != {campaign_store.QUEUED: customers} or enqueued != customers:
        raise AssertionError(f"fan-out of {customers}: recipients {counted}, queue messages {enqueued}")
    calls = Counter(report["calls"])
    first, peaks = report["step_peaks"][0], report["step_peaks"][1:] or [0]
    tenth = max(1, len(peaks) // 10)
    return {
        "customers": customers,
        "recipients_queued": counted[campaign_store.QUEUED],
        "queue_messages": enqueued,
        "steps": report["steps"],
        "state_transitions": 2 * report["steps"],
        "ended_with": report["last"].get("next"),
        "seconds": round(report["seconds"], 1),
        "ms_per_recipient": round(report["seconds"] * 1000 / customers, 3),
        "runner_cpu_ms_per_recipient": round(report["cpu_seconds"] * 1000 / customers, 3),
        "emulator_cpu_seconds": round(emulator_cpu, 1),
        "aws_calls": sum(calls.values()),
        "aws_calls_per_recipient": round(sum(calls.values()) / customers, 4),
        "aws_calls_by_operation": dict(calls.most_common()),
        "step_heap_peak_kb": {
            "first_step_with_imports_and_clients": first // 1024,
            "max_after_the_first": max(peaks) // 1024,
            "first_tenth_max": max(peaks[:tenth]) // 1024,
            "last_tenth_max": max(peaks[-tenth:]) // 1024,
        },
        "runner_rss_mb": {
            "after_first_step": round(report["rss_kb_after_first_step"] / 1024, 1),
            "peak": round(report["rss_kb_peak"] / 1024, 1),
        },
        "runner_heap_kb_after": report["heap_kb_after"],
    }


class _Offer(threading.Thread):
    """Moves the fan-out's queue messages from the staging queue to the outbound queue, keeping about
    BACKLOG of them waiting there."""

    def __init__(self, sqs: Any, staging: str, outbound: str, messages: int) -> None:
        super().__init__(name="offer", daemon=True)
        self.sqs, self.staging, self.outbound, self.messages = sqs, staging, outbound, messages
        self.offered = 0
        self.ran_dry = False

    def run(self) -> None:
        while self.offered < self.messages:
            waiting = _queue_length(self.sqs, self.outbound)
            if self.offered and waiting == 0:
                self.ran_dry = True
            while waiting < BACKLOG and self.offered < self.messages:
                received = self.sqs.receive_message(
                    QueueUrl=self.staging, MaxNumberOfMessages=10, VisibilityTimeout=600
                ).get("Messages", [])
                if not received:
                    break
                self.sqs.send_message_batch(
                    QueueUrl=self.outbound,
                    Entries=[{"Id": str(n), "MessageBody": m["Body"]} for n, m in enumerate(received)],
                )
                self.sqs.delete_message_batch(
                    QueueUrl=self.staging,
                    Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(received)],
                )
                self.offered += len(received)
                waiting += len(received)
            time.sleep(0.2)  # moto counts the queue by scanning it: look now and then


def sending(recipients: int, rate: int) -> dict[str, Any]:
    with _processes() as processes:
        env, campaign_id, _lambdas = _shop(processes["env"], f"bench-campaign-send-{rate}", recipients)
        sqs = boto3.client("sqs", region_name="us-east-1")
        staging = sqs.create_queue(QueueName=f"bench-campaign-staging-{rate}")["QueueUrl"]
        fanned = _run_runner({**env, "OUTBOUND_QUEUE_URL": staging}, campaign_id)
        graph_url = env["GRAPH_API_BASE_URL"]
        httpx.delete(f"{graph_url}/_simulator/requests").raise_for_status()
        env = {**env, "SEND_RATE_PER_SECOND": str(rate)}
        context = multiprocessing.get_context("spawn")
        all_offered, results = context.Event(), context.Queue()
        cpu_before = _cpu_seconds(processes["emulator_pid"])
        workers = [
            context.Process(target=_container, args=(env, all_offered, results)) for _ in range(SENDER_CONTAINERS)
        ]
        for worker in workers:
            worker.start()
        offer = _Offer(sqs, staging, env["OUTBOUND_QUEUE_URL"], recipients)
        offer.start()
        offer.join()
        all_offered.set()
        reports = [results.get(timeout=1800) for _ in workers]
        for worker in workers:
            worker.join(timeout=30)
        emulator_cpu = _cpu_seconds(processes["emulator_pid"]) - cpu_before
        sends = [
            r
            for r in httpx.get(f"{graph_url}/_simulator/requests", timeout=60).json()["requests"]
            if r["path"].endswith("/messages") and (r.get("body") or {}).get("type") == "template"
        ]
        from mkt_whatsapp.store import campaigns as campaign_store
        from mkt_whatsapp.store import get_table

        counted = {state: n for state, n in campaign_store.counts(get_table(), campaign_id).items() if n}
    arrivals = [r["at"] for r in sends]
    departures = [at for report in reports for at in report["departures"]]
    per_customer = Counter(str(r["body"]["to"]) for r in sends)
    exactly_once = len(per_customer) == recipients and set(per_customer.values()) == {1}
    if not exactly_once or counted != {campaign_store.SENT: recipients}:
        raise AssertionError(f"campaign sending at {rate}/s: {len(sends)} sends, recipients {counted}")
    span = max(arrivals) - min(arrivals) if len(arrivals) > 1 else 0.0
    calls: Counter[str] = Counter()
    for report in reports:
        calls.update(report["calls"])
    return {
        "recipients": recipients,
        "fan_out_seconds": round(fanned["seconds"], 1),
        "configured_rate_per_second": rate,
        "containers": SENDER_CONTAINERS,
        "achieved_per_second": round((len(arrivals) - 1) / span, 1) if span else 0.0,
        "seconds_first_to_last_send": round(span, 1),
        "busiest_second_of_departures": busiest_window(departures),
        "busiest_second_at_graph": busiest_window(arrivals),
        "departures_never_over_the_rate": busiest_window(departures) <= rate,
        "arrivals_never_over_the_rate": busiest_window(arrivals) <= rate,
        # departure to arrival at the simulator: the pacing allows 30 ms of it (messaging/pacing.py)
        "transit_ms_by_order": _transit(departures, arrivals),
        "each_customer_exactly_once": exactly_once,
        "recipients_by_state": counted,
        "queue_ran_dry_while_offering": offer.ran_dry,
        "service_aws_calls_per_message": round(sum(calls.values()) / recipients, 2),
        "service_aws_calls": dict(calls.most_common()),
        "emulator_busy_share": round(emulator_cpu / span, 2) if span else None,
    }


def measure() -> dict[str, Any]:
    return {
        "fan_out": {str(customers): fan_out(customers) for customers in AUDIENCES},
        "sending": {f"rate_{rate}": sending(recipients, rate) for recipients, rate in SENDING},
    }


def report(figures: dict[str, Any]) -> None:
    print("\nCampaign fan-out (issue 14: customers written directly; the runner steps the campaign as its state")
    print("  machine does until every recipient is on the outbound queue; emulator, simulator, runner: a process each)")
    for run in figures["fan_out"].values():
        heap = run["step_heap_peak_kb"]
        print(
            f"  {run['customers']:>7,} customers: {run['steps']} steps ({run['state_transitions']} transitions),"
            f" {run['seconds']} s = {run['ms_per_recipient']} ms/recipient on the emulator (runner CPU"
            f" {run['runner_cpu_ms_per_recipient']} ms/recipient; emulator CPU {run['emulator_cpu_seconds']} s);"
            f" {run['aws_calls_per_recipient']} AWS calls/recipient"
        )
        print(
            f"           calls {run['aws_calls_by_operation']}; heap peak within a step"
            f" {heap['max_after_the_first']} KB (first tenth {heap['first_tenth_max']}, last tenth"
            f" {heap['last_tenth_max']}; the first step, importing and making clients,"
            f" {heap['first_step_with_imports_and_clients']} KB); runner RSS"
            f" {run['runner_rss_mb']['after_first_step']} MB after the first step,"
            f" peak {run['runner_rss_mb']['peak']} MB"
        )
    print("  sending (the fan-out's messages offered a backlog at a time to four sender containers):")
    for label, run in figures["sending"].items():
        print(
            f"    {label}: {run['recipients']} recipients, configured {run['configured_rate_per_second']}/s:"
            f" {run['achieved_per_second']} msg/s over {run['seconds_first_to_last_send']} s; busiest second"
            f" {run['busiest_second_of_departures']} departures / {run['busiest_second_at_graph']} arrivals"
            f" (never over the rate: departures {run['departures_never_over_the_rate']}, arrivals"
            f" {run['arrivals_never_over_the_rate']}; transit ms {run['transit_ms_by_order']}); each customer"
            f" exactly once:"
            f" {run['each_customer_exactly_once']}; {run['service_aws_calls_per_message']} AWS calls/message"
            f" {run['service_aws_calls']}; emulator busy {run['emulator_busy_share']}"
        )


if __name__ == "__main__":
    # python -m bench.campaigns [customers] | python -m bench.campaigns send [recipients] [rate]
    if sys.argv[1:2] == ["send"]:
        count, per_second = (int(sys.argv[2]), int(sys.argv[3])) if len(sys.argv) > 3 else (200, 10)
        report({"fan_out": {}, "sending": {f"rate_{per_second}": sending(count, per_second)}})
    else:
        single = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000
        report({"fan_out": {str(single): fan_out(single)}, "sending": {}})
