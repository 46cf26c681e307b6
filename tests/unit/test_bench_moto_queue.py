"""bench/moto_queue.py: a queue's attributes read one at a time are moto's, whole or one by one."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from bench import moto_queue


@pytest.fixture
def sqs() -> Iterator[object]:
    with mock_aws():
        try:
            yield boto3.client("sqs", region_name="us-east-1")
        finally:
            moto_queue.uninstall()


def _queues(sqs: object) -> list[str]:
    own = uuid.uuid4().hex[:12]  # queues of its own: the suite's workers keep one emulator for all their tests
    dead = sqs.create_queue(QueueName=f"dead-{own}")["QueueUrl"]  # type: ignore[attr-defined]
    arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]  # type: ignore[attr-defined]
    plain = sqs.create_queue(  # type: ignore[attr-defined]
        QueueName=f"plain-{own}",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": "5"})},
    )["QueueUrl"]
    fifo = sqs.create_queue(  # type: ignore[attr-defined]
        QueueName=f"q-{own}.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    for n in range(3):
        sqs.send_message(QueueUrl=plain, MessageBody=str(n))  # type: ignore[attr-defined]
        sqs.send_message(QueueUrl=fifo, MessageBody=str(n % 2), MessageGroupId="g")  # type: ignore[attr-defined]
    sqs.receive_message(QueueUrl=plain, MaxNumberOfMessages=1)  # type: ignore[attr-defined]
    return [plain, fifo]


def _attributes(sqs: object, urls: list[str]) -> list[dict[str, str]]:
    return [sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"] for url in urls]  # type: ignore[attr-defined]


def test_attributes_are_moto_s(sqs: object) -> None:
    urls = _queues(sqs)
    expected = _attributes(sqs, urls)
    moto_queue.install()
    assert _attributes(sqs, urls) == expected
    assert expected[0]["ApproximateNumberOfMessages"] == "2"
    assert expected[0]["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert expected[1]["ApproximateNumberOfMessages"] == "2"  # content-based deduplication kept one of "0", "0"


def test_sends_deduplicate_by_content_as_moto_does(sqs: object) -> None:
    moto_queue.install()
    urls = _queues(sqs)
    attributes = _attributes(sqs, urls)
    assert attributes[0]["ApproximateNumberOfMessages"] == "2"
    assert attributes[1]["ApproximateNumberOfMessages"] == "2"
    assert attributes[1]["ContentBasedDeduplication"] == "true"
