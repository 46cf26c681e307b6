"""Bulk webhook deliveries: what the receiver pays for a big delivery, and whether ``make dev``'s stack
keeps up with one.

1. The receiver (warm, in process, moto in process): the handler's answer time and its SQS calls for one
   signed delivery of 500 changes (one message each), and for one change of 1,000 messages.
2. The local stack as ``make dev`` runs it (``python -m local.stack`` in a subprocess, started the way
   the end-to-end tests start it): one signed delivery of 1,000 messages in one change, then one of 500
   changes, each from customers the shop has never seen (the heaviest case: a customer, its identity
   pointers, a conversation and the message each). Measured: the answer to the POST; the seconds from
   the POST until the inbound queue is empty (every record processed and deleted), after which every
   message is checked stored (one conversation per customer, listed through the API, not timed); the
   stack process's resident memory at its peak (``VmHWM``) and some seconds after the load (``VmRSS``),
   read from /proc; and the seconds from Ctrl-C (SIGINT) to the process's exit, right after the load
   and, on a second stack, 5 s into a 1,000-message delivery (the inbound processor mid-batch).

Targets (issue 10): the 500-change answer <= 1 s; 1,000 messages processed in <= 60 s; memory <= 1.5 GB
and released afterwards; the stop within 10 s.
"""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import httpx

from bench.stack import PHONE_NUMBER_ID, bench_stack
from local import defaults
from local.make_events import bulk_webhook_body, http_event

if TYPE_CHECKING:
    from tests.e2e.conftest import RunningStack

RECEIVER_RUNS = 5
SETTLE_SECONDS = 5.0
STOP_AFTER_SECONDS = 5.0
PROCESS_TIMEOUT = 600.0
TARGETS = {
    "receiver_answer_ms_500_changes": 1000,
    "stack_seconds_to_processed_1000_messages": 60,
    "stack_rss_mb_peak": 1536,
    "stop_seconds": 10,
}


# --- 1. the receiver ----------------------------------------------------------------------------------


def measure_receiver() -> dict[str, Any]:
    from mkt_whatsapp.whatsapp.signature import sign

    results: dict[str, Any] = {}
    with bench_stack("bench-bulk") as stack:
        sqs = stack.session.client("sqs")
        queue = stack.physical["InboundQueue"]
        secret = os.environ["META_APP_SECRET"]
        cases = {
            "500_changes_of_1_message": bulk_webhook_body(PHONE_NUMBER_ID, changes=500, messages_per_change=1),
            "1_change_of_1000_messages": bulk_webhook_body(PHONE_NUMBER_ID, changes=1, messages_per_change=1000),
        }
        for label, raw in cases.items():
            event = http_event(
                "POST",
                "/webhooks",
                "/webhooks",
                body=raw,
                headers={"content-type": "application/json", "x-hub-signature-256": sign(raw, secret)},
            )
            timings, calls = [], {}
            for _ in range(RECEIVER_RUNS + 1):  # the first run warms the function
                _empty(sqs, queue)
                stack.calls.clear()
                started = time.perf_counter()
                answer = stack.lambdas.invoke("WebhooksFunction", event)
                timings.append((time.perf_counter() - started) * 1000)
                assert answer["statusCode"] == 200, answer
                calls = dict(stack.calls)
            queued = int(
                sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
                    "ApproximateNumberOfMessages"
                ]
            )
            results[label] = {
                "body_bytes": len(raw),
                "answer_ms_median": round(statistics.median(timings[1:]), 1),
                "answer_ms_max": round(max(timings[1:]), 1),
                "runs": RECEIVER_RUNS,
                "aws_calls": calls,
                "sqs_messages": queued,
            }
        _empty(sqs, queue)
    return results


def _empty(sqs: Any, queue: str) -> None:
    while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages"):
        sqs.delete_message_batch(
            QueueUrl=queue,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )


# --- 2. the local stack -------------------------------------------------------------------------------


def rss_mb(pid: int) -> dict[str, float]:
    """The process's resident memory now (VmRSS) and at its peak so far (VmHWM), in MB (Linux /proc)."""
    status = Path(f"/proc/{pid}/status").read_text()
    figures = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.MULTILINE))
    return {name: round(int(kb) / 1024, 1) for name, kb in figures.items()}


class _StackClient:
    def __init__(self, api: str, emulator: str, token: str, app_secret: str) -> None:
        self.api = api
        self.app_secret = app_secret
        self.auth = {"Authorization": f"Bearer {token}"}
        session = boto3.session.Session(
            aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1"
        )
        self.sqs = session.client("sqs", endpoint_url=emulator)
        self.queues = [
            url for url in self.sqs.list_queues()["QueueUrls"] if re.search(r"-Inbound(DeadLetter)?Queue-", url)
        ]

    def post_webhook(self, raw: bytes) -> float:
        from mkt_whatsapp.whatsapp.signature import sign

        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign(raw, self.app_secret),
        }
        started = time.perf_counter()
        reply = httpx.post(f"{self.api}/webhooks", content=raw, headers=headers, timeout=60)
        assert reply.status_code == 200, reply.text
        return time.perf_counter() - started

    def inbound_in_flight(self) -> int:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        main = next(url for url in self.queues if "DeadLetter" not in url)
        attributes = self.sqs.get_queue_attributes(QueueUrl=main, AttributeNames=names)["Attributes"]
        return sum(int(attributes[name]) for name in names)

    def dead_letters(self) -> int:
        dlq = next(url for url in self.queues if "DeadLetter" in url)
        attributes = self.sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])

    def conversations(self, shop_id: str) -> int:
        reply = httpx.get(
            f"{self.api}/conversations", params={"shopId": shop_id, "take": "1"}, headers=self.auth, timeout=60
        )
        assert reply.status_code == 200, reply.text
        return int(reply.json()["data"]["totalCount"])


def _processed(client: _StackClient, pid: int, started: float) -> float:
    """Seconds from ``started`` until the inbound queue holds nothing (every record processed and deleted)."""
    while time.perf_counter() - started < PROCESS_TIMEOUT:
        if client.inbound_in_flight() == 0:
            return time.perf_counter() - started
        time.sleep(0.2)
    raise TimeoutError(f"the inbound queue was not empty after {PROCESS_TIMEOUT} s (memory {rss_mb(pid)})")


@contextmanager
def _local_stack(*shops: str) -> Iterator[tuple[RunningStack, _StackClient]]:
    """``python -m local.stack`` in a subprocess (as the end-to-end tests start it), the shops' numbers
    connected; what it printed is shown if the measurement fails."""
    from tests.e2e.conftest import start_stack

    stack = start_stack({"RATE_LIMIT_PER_MINUTE": "100000"})
    try:
        emulator = re.search(r"AWS emulator: (\S+)", stack.ready_line)
        assert emulator, stack.ready_line
        # the stack's own secrets: start_stack gives it a user's shell, not this process's settings
        secret = stack.env.get("META_APP_SECRET") or defaults.LOCAL_DEFAULTS["META_APP_SECRET"]
        client = _StackClient(stack.api, emulator.group(1), stack.token(*shops), secret)
        for shop_id in shops:
            stack.connect(shop_id, PHONE_NUMBERS[shop_id])
        yield stack, client
    except BaseException:
        print("\n".join(stack.printed()[-40:]), f"\nstack exit code: {stack.process.poll()}", file=sys.stderr)
        raise
    finally:
        if stack.process.poll() is None:
            stack.process.kill()


PHONE_NUMBERS = {"bulk-one-change": "5550101", "bulk-many-changes": "5550102", "bulk-stop": "5550103"}


def _deliver(client: _StackClient, pid: int, shop_id: str, changes: int, per_change: int) -> dict[str, Any]:
    raw = bulk_webhook_body(PHONE_NUMBERS[shop_id], changes=changes, messages_per_change=per_change, tag=shop_id)
    started = time.perf_counter()
    answer = client.post_webhook(raw)
    seconds = _processed(client, pid, started)
    expected = changes * per_change
    stored = client.conversations(shop_id)  # one per customer: each message is from a customer of its own
    assert stored == expected, f"{stored} of {expected} messages stored"
    return {
        "answer_ms": round(answer * 1000, 1),
        "seconds_to_processed": round(seconds, 1),
        "messages_stored": stored,
        "rss_mb_after": rss_mb(pid)["VmRSS"],
    }


def measure_stack() -> dict[str, Any]:
    """The deliveries one after the other on one stack, its memory, and Ctrl-C right after them."""
    with _local_stack("bulk-one-change", "bulk-many-changes") as (stack, client):
        pid = stack.process.pid
        results: dict[str, Any] = {"rss_mb_ready": rss_mb(pid)["VmRSS"]}
        results["1000_messages_in_one_change"] = _deliver(client, pid, "bulk-one-change", 1, 1000)
        results["500_changes_of_1_message"] = _deliver(client, pid, "bulk-many-changes", 500, 1)
        results["dead_letters"] = client.dead_letters()
        time.sleep(SETTLE_SECONDS)
        memory = rss_mb(pid)
        results["rss_mb_peak"] = memory["VmHWM"]
        results["rss_mb_after_load"] = memory["VmRSS"]
        started = time.perf_counter()
        results["exit_code"] = stack.stop(signal.SIGINT, timeout=120)
        results["stop_seconds_after_ctrl_c"] = round(time.perf_counter() - started, 2)
    return results


def measure_stop_under_load() -> dict[str, Any]:
    """Ctrl-C while the inbound processor is in the middle of a 1,000-message delivery."""
    with _local_stack("bulk-stop") as (stack, client):
        raw = bulk_webhook_body(PHONE_NUMBERS["bulk-stop"], changes=1, messages_per_change=1000, tag="bulk-stop")
        client.post_webhook(raw)
        time.sleep(STOP_AFTER_SECONDS)
        in_flight = client.inbound_in_flight()
        started = time.perf_counter()
        code = stack.stop(signal.SIGINT, timeout=120)
        return {
            "ctrl_c_seconds_after_delivery": STOP_AFTER_SECONDS,
            "queue_messages_left": in_flight,
            "stop_seconds": round(time.perf_counter() - started, 2),
            "exit_code": code,
        }


def measure() -> dict[str, Any]:
    return {
        "receiver": measure_receiver(),
        "local_stack": measure_stack(),
        "ctrl_c_under_load": measure_stop_under_load(),
        "targets": TARGETS,
    }


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
