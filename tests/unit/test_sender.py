"""The outbound sender: retries transient failures with backoff, gives up into the DLQ with the message
marked failed, never sends a message twice when the same queue record comes back."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator

import pytest

from local.graph_simulator import Fault
from local.sqs_worker import EventSourceMapping, SqsPoller
from mkt_whatsapp.core.clock import now_iso
from mkt_whatsapp.inbound import processor
from mkt_whatsapp.messaging import sender
from mkt_whatsapp.store import get_table
from mkt_whatsapp.store import messages as message_store
from tests.support import ApiClient, AwsStack, connect_shop, lambdas, queue_depth

SHOP = "shop-1"
TEXT = {"content": {"type": "text", "text": "Xin chào"}}


@pytest.fixture
def queued(api: ApiClient, aws: AwsStack, graph, monkeypatch) -> str:
    """A reply whose in-request send hit a Meta 500: stored queued and on the outbound queue."""
    monkeypatch.setattr(sender, "backoff_seconds", lambda receive_count, rng=None: 0)  # redeliver at once
    connect_shop(api, SHOP)
    processor.process_change(
        {
            "field": "messages",
            "value": {
                "messaging_product": "whatsapp",
                "metadata": {"phone_number_id": "106540352242922"},
                "contacts": [{"profile": {"name": "A"}, "wa_id": "84901234567"}],
                "messages": [
                    {
                        "from": "84901234567",
                        "id": "wamid.in",
                        "timestamp": str(int(time.time()) - 5),
                        "type": "text",
                        "text": {"body": "hi"},
                    }
                ],
            },
        }
    )
    [conversation] = api.get("/conversations", query={"shopId": SHOP}).data["conversations"]
    graph.state.requests.clear()
    graph.state.faults[:] = [Fault(match="/messages", status=500, count=1, body={"error": {"message": "x"}})]
    reply = api.post(f"/conversations/{conversation['id']}/messages", json_body=TEXT)
    assert reply.status == 202, reply.text
    return str(reply.data["messageId"])


def poller(aws: AwsStack) -> SqsPoller:
    sqs = aws.client("sqs")
    url = aws.physical["OutboundQueue"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return SqsPoller(lambdas(), EventSourceMapping("SenderFunction", url, arn, 10, True), sqs, "us-east-1", 0)


def sends(graph) -> int:
    return sum(1 for r in graph.state.requests if r["path"].endswith("/messages"))


def test_the_sender_sends_a_queued_message(aws: AwsStack, graph, queued: str) -> None:
    assert poller(aws).poll_once() == 1
    message = message_store.get(get_table(), queued)
    assert message["status"] == "sent"
    assert message["whatsAppMessageId"].startswith("wamid.")
    assert sends(graph) == 2  # the failed in-request attempt and this one
    assert queue_depth(aws, "OutboundQueue") == 0


def test_transient_failures_are_retried_until_sent(aws: AwsStack, graph, queued: str) -> None:
    graph.state.faults.append(
        Fault(match="/messages", status=400, count=2, body={"error": {"message": "Rate limit hit", "code": 130429}})
    )
    worker = poller(aws)
    for _ in range(3):
        worker.poll_once()
    assert message_store.get(get_table(), queued)["status"] == "sent"
    assert sends(graph) == 4
    assert message_store.get(get_table(), queued)["sendAttempts"] == 4


def test_after_the_retry_budget_the_message_fails_and_reaches_the_dlq(aws: AwsStack, graph, queued: str) -> None:
    graph.state.faults.append(Fault(match="/messages", status=503, count=50, body={"error": {"message": "down"}}))
    worker = poller(aws)
    for _ in range(8):
        worker.poll_once()
    message = message_store.get(get_table(), queued)
    assert message["status"] == "failed"
    assert message["errors"][0]["code"] == "RETRIES_EXHAUSTED"
    assert queue_depth(aws, "OutboundQueue") == 0
    assert queue_depth(aws, "OutboundDeadLetterQueue") == 1


@pytest.mark.parametrize(
    ("status", "code", "title"),
    [
        (400, 131026, "Message undeliverable"),
        (400, 131047, "Re-engagement message"),
        (401, 190, "Invalid OAuth access token - Cannot parse access token"),
    ],
)
def test_a_permanent_error_fails_the_message_without_retrying(
    aws: AwsStack, graph, queued: str, status: int, code: int, title: str
) -> None:
    graph.state.faults.append(
        Fault(match="/messages", status=status, count=1, body={"error": {"message": title, "code": code}})
    )
    graph.state.requests.clear()
    worker = poller(aws)
    worker.poll_once()
    worker.poll_once()
    message = message_store.get(get_table(), queued)
    assert message["status"] == "failed"
    assert message["errors"] == [{"code": code, "title": title}]
    assert sends(graph) == 1
    assert queue_depth(aws, "OutboundQueue") == 0


def test_a_throttled_send_with_http_429_is_retried_until_sent(aws: AwsStack, graph, queued: str) -> None:
    graph.state.faults.append(
        Fault(match="/messages", status=429, count=1, body={"error": {"message": "Too many", "code": 130429}})
    )
    worker = poller(aws)
    worker.poll_once()
    worker.poll_once()
    assert message_store.get(get_table(), queued)["status"] == "sent"


def test_the_same_record_delivered_twice_is_sent_once(aws: AwsStack, graph, queued: str) -> None:
    sqs = aws.client("sqs")
    record = sqs.receive_message(QueueUrl=aws.physical["OutboundQueue"], VisibilityTimeout=0)["Messages"][0]
    sqs.send_message(QueueUrl=aws.physical["OutboundQueue"], MessageBody=record["Body"])  # a duplicate
    worker = poller(aws)
    while worker.poll_once():
        pass
    assert sends(graph) == 2  # the in-request attempt and exactly one sender send
    assert message_store.get(get_table(), queued)["status"] == "sent"


def test_backoff_grows_exponentially_with_full_jitter() -> None:
    rng = random.Random(7)
    ceilings = [min(900, 2 * 2**n) for n in range(1, 12)]
    delays = [sender.backoff_seconds(n, rng) for n in range(1, 12)]
    assert all(1 <= delay <= ceiling for delay, ceiling in zip(delays, ceilings, strict=True))
    assert max(sender.backoff_seconds(30, random.Random(n)) for n in range(50)) <= 900
    assert len({sender.backoff_seconds(5, random.Random(n)) for n in range(50)}) > 10  # jittered


def test_records_that_are_not_sends_fail_loudly() -> None:
    with pytest.raises(ValueError, match="not an outbound send record"):
        sender.parse(json.dumps({"hello": 1}))


def test_a_timeout_is_transient_and_retried(aws: AwsStack, graph, queued: str, monkeypatch) -> None:
    monkeypatch.setenv("GRAPH_API_TIMEOUT_SECONDS", "0.2")
    from tests.support import reset_caches

    reset_caches()
    graph.state.faults.append(Fault(match="/messages", status=200, count=1, body={}, delay_seconds=1.0))
    worker = poller(aws)
    worker.poll_once()  # times out: back to queued, retried
    assert message_store.get(get_table(), queued)["status"] == "queued"
    worker.poll_once()
    assert message_store.get(get_table(), queued)["status"] == "sent"


def held_by_a_sender(message_id: str, claimed_at: str) -> None:
    """The message as a sender leaves it while it sends: claimed (``sending``) at ``claimed_at``."""
    get_table().update(
        f"MSG#{message_id}",
        "MESSAGE",
        "SET #s = :s, lastAttemptAt = :at",
        {":s": "sending", ":at": claimed_at},
        names={"#s": "status"},
    )


@pytest.fixture
def rate_writes(aws: AwsStack) -> Iterator[list[str]]:
    """Collects the send-rate reservations (UpdateItem on a number's TAT item) made during the test."""
    from mkt_whatsapp.core import aws as aws_clients

    writes: list[str] = []

    def on_update(params: dict, **_: object) -> None:
        if params.get("Key", {}).get("SK", {}).get("S") == "TAT":
            writes.append(params["Key"]["PK"]["S"])

    events = aws_clients.dynamodb().meta.events
    events.register("before-parameter-build.dynamodb.UpdateItem", on_update, unique_id="tests-rate-writes")
    yield writes
    events.unregister("before-parameter-build.dynamodb.UpdateItem", unique_id="tests-rate-writes")


def test_a_batch_is_sent_concurrently_with_one_rate_reservation(
    api: ApiClient, aws: AwsStack, graph, queued: str, monkeypatch, rate_writes: list[str]
) -> None:
    from mkt_whatsapp.messaging import pacing

    # The send rate's clock stands still, so no thread of a loaded test machine wakes late for its slot
    # (which would give the slot up and reserve again): the reservation count is exact.
    now = time.time()
    monkeypatch.setattr(pacing, "_now", lambda: now)
    monkeypatch.setattr(pacing, "_sleep", lambda seconds: None)
    conversation_id = message_store.get(get_table(), queued)["conversationId"]
    graph.state.faults[:] = [Fault(match="/messages", status=500, count=9, body={"error": {"message": "x"}})]
    for _ in range(9):
        assert api.post(f"/conversations/{conversation_id}/messages", json_body=TEXT).status == 202
    assert queue_depth(aws, "OutboundQueue") == 10
    graph.state.requests.clear()
    graph.state.latency_seconds = 0.5  # one at a time, ten sends would arrive over 4.5 s
    rate_writes.clear()  # from now on
    writes = rate_writes
    assert poller(aws).poll_once() == 10
    arrivals = sorted(r["at"] for r in graph.state.requests if r["path"].endswith("/messages"))
    assert len(arrivals) == 10
    assert arrivals[-1] - arrivals[0] < 0.5  # all ten were in flight together
    assert len(writes) == 1  # one reservation covered the batch
    assert queue_depth(aws, "OutboundQueue") == 0


def test_a_claim_whose_sender_stopped_fails_visibly_instead_of_sending_twice(aws: AwsStack, graph, queued: str) -> None:
    """A sender that timed out or crashed after claiming a message leaves it ``sending``: whether Meta got
    it is unknown, so after the lease it is failed with SEND_UNCONFIRMED, never sent again."""
    held_by_a_sender(queued, "2020-01-01T00:00:00Z")
    graph.state.requests.clear()
    assert poller(aws).poll_once() == 1
    message = message_store.get(get_table(), queued)
    assert message["status"] == "failed"
    assert message["errors"][0]["code"] == "SEND_UNCONFIRMED"
    assert sends(graph) == 0
    assert queue_depth(aws, "OutboundQueue") == 0


def test_a_message_being_sent_elsewhere_is_looked_at_again_later(aws: AwsStack, graph, queued: str) -> None:
    """A duplicate record arriving while another sender holds the claim is not dropped: it comes back."""
    held_by_a_sender(queued, now_iso())
    graph.state.requests.clear()
    worker = poller(aws)
    assert worker.poll_once() == 1
    assert sends(graph) == 0
    assert message_store.get(get_table(), queued)["status"] == "sending"
    assert queue_depth(aws, "OutboundQueue") == 1  # still queued, to be looked at again


def test_a_send_that_cannot_start_before_the_lambda_times_out_waits_in_the_queue(
    aws: AwsStack, graph, queued: str, monkeypatch
) -> None:
    module = lambdas().module("SenderFunction")
    monkeypatch.setattr(module, "_MARGIN_SECONDS", 3600.0)  # no time left for any send
    graph.state.requests.clear()
    worker = poller(aws)
    assert worker.poll_once() == 1
    assert sends(graph) == 0
    assert message_store.get(get_table(), queued)["status"] == "queued"  # the claim was given back
    monkeypatch.setattr(module, "_MARGIN_SECONDS", 1.0)
    assert worker.poll_once() == 1
    assert message_store.get(get_table(), queued)["status"] == "sent"
    assert sends(graph) == 1


def test_a_held_message_is_left_to_its_holder_when_the_record_runs_out_of_receives(
    aws: AwsStack, graph, queued: str
) -> None:
    """The record goes on to the dead-letter queue (alarmed; a redrive settles it once the claim is
    stale), and the message is not marked failed under the attempt that holds it."""
    held_by_a_sender(queued, now_iso())
    worker = poller(aws)
    for _ in range(sender.MAX_RECEIVES + 1):
        worker.poll_once()
    assert message_store.get(get_table(), queued)["status"] == "sending"
    assert queue_depth(aws, "OutboundQueue") == 0
    assert queue_depth(aws, "OutboundDeadLetterQueue") == 1


def test_a_failed_warm_up_does_not_fail_the_batch(aws: AwsStack, graph, queued: str, monkeypatch) -> None:
    """The batch's warm-up read of the account fails (DynamoDB throttled): the records still run, each
    meeting DynamoDB on its own."""
    from botocore.exceptions import ClientError

    from mkt_whatsapp.store import accounts as account_store

    real_get_account = account_store.get_account
    failures = [1]

    def throttled_once(table, shop_id):  # type: ignore[no-untyped-def]
        if failures:
            failures.pop()
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "GetItem")
        return real_get_account(table, shop_id)

    monkeypatch.setattr(account_store, "get_account", throttled_once)
    sender._accounts.clear()
    assert poller(aws).poll_once() == 1
    assert not failures  # the warm-up met the throttle
    assert message_store.get(get_table(), queued)["status"] == "sent"
