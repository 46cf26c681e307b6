"""Deliver SQS messages to consumer functions the way Lambda's event source mapping does: batches of
Lambda SQS events, partial batch failures (``ReportBatchItemFailures``), failed messages left on the
queue to reappear after the visibility timeout, and the queue's redrive policy moving them to the DLQ
after ``maxReceiveCount`` receives (moto applies the redrive policy, as SQS does)."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from local import terminal
from local.lambdas import FunctionError, LocalLambdas

log = logging.getLogger("local.sqs")


@dataclass(frozen=True)
class EventSourceMapping:
    function: str
    queue_url: str
    queue_arn: str
    batch_size: int = 10
    report_batch_item_failures: bool = False


def lambda_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    body = message["Body"]
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.get("DataType", "String"),
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - SQS's own checksum
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def failed_message_ids(result: Any, message_ids: list[str]) -> set[str]:
    """Which messages of a batch failed, read as Lambda reads a ``ReportBatchItemFailures`` answer: an
    invalid answer, or an unknown or empty identifier, fails the whole batch."""
    if result is None or result == {}:
        return set()
    if not isinstance(result, dict) or not isinstance(result.get("batchItemFailures", []), list):
        return set(message_ids)
    failed: set[str] = set()
    for failure in result.get("batchItemFailures", []):
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in message_ids:
            return set(message_ids)
        failed.add(identifier)
    return failed


class SqsPoller:
    def __init__(
        self, lambdas: LocalLambdas, mapping: EventSourceMapping, sqs: Any, region: str, wait_seconds: int = 1
    ) -> None:
        self.lambdas = lambdas
        self.mapping = mapping
        self.sqs = sqs
        self.region = region
        self.wait_seconds = wait_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sqs-{mapping.function}", daemon=True)
        self.batches_delivered = 0

    def start(self) -> SqsPoller:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.request_stop()
        self.join(self.wait_seconds + 5)

    def request_stop(self) -> None:
        """Receive no more batches; a batch being delivered runs to its end."""
        self._stop.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout=timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                if self._stop.is_set():
                    return  # the emulator stopped under a batch in flight: nothing to report
                log.exception("polling %s failed", self.mapping.queue_url)
                self._stop.wait(1)

    def poll_once(self) -> int:
        """Receive one batch and deliver it; returns how many messages were received."""
        response = self.sqs.receive_message(
            QueueUrl=self.mapping.queue_url,
            MaxNumberOfMessages=max(1, min(self.mapping.batch_size, 10)),
            WaitTimeSeconds=self.wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        started = time.monotonic()
        records = [lambda_record(message, self.mapping.queue_arn, self.region) for message in messages]
        ids = [record["messageId"] for record in records]
        try:
            result = self.lambdas.invoke(self.mapping.function, {"Records": records})
            failed = failed_message_ids(result, ids) if self.mapping.report_batch_item_failures else set()
        except FunctionError as error:
            log.warning("%s failed a batch of %d: %s", self.mapping.function, len(ids), error)
            failed = set(ids)
        done = [
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
            for index, message in enumerate(messages)
            if message["MessageId"] not in failed
        ]
        if done:
            self.sqs.delete_message_batch(QueueUrl=self.mapping.queue_url, Entries=done)
        self.batches_delivered += 1
        terminal.report_job(self.mapping.queue_url, self.mapping.function, len(done), len(failed), started)
        return len(messages)
