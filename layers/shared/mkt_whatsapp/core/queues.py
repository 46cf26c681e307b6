"""SQS: sending batches durably (every entry accepted, or an error the caller can retry)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mkt_whatsapp.core import aws
from mkt_whatsapp.core.errors import ServiceUnavailable

MAX_BATCH_ENTRIES = 10
MAX_BATCH_BYTES = 1_048_576  # SQS's limit for one message and for one batch (1 MiB)


def batches(bodies: Sequence[str]) -> list[list[str]]:
    """Group bodies into SendMessageBatch calls: at most 10 entries and 1 MiB each."""
    groups: list[list[str]] = []
    size = 0
    for body in bodies:
        length = len(body.encode())
        if length > MAX_BATCH_BYTES:
            raise ValueError("one SQS message may not exceed 1 MiB")
        if not groups or len(groups[-1]) == MAX_BATCH_ENTRIES or size + length > MAX_BATCH_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(body)
        size += length
    return groups


def send_all(queue_url: str, bodies: Sequence[str], attributes: dict[str, Any] | None = None) -> int:
    """Send every body; entries SQS refuses are retried, and anything still refused raises. Returns the
    number of SQS calls made."""
    calls = 0
    client = aws.sqs()
    for group in batches(bodies):
        pending = {str(index): body for index, body in enumerate(group)}
        for _attempt in range(3):
            if len(pending) == 1:
                [(_, body)] = pending.items()
                client.send_message(QueueUrl=queue_url, MessageBody=body, MessageAttributes=attributes or {})
                calls += 1
                pending = {}
                break
            response = client.send_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": entry_id, "MessageBody": body, "MessageAttributes": attributes or {}}
                    for entry_id, body in pending.items()
                ],
            )
            calls += 1
            pending = {failure["Id"]: pending[failure["Id"]] for failure in response.get("Failed", [])}
            if not pending:
                break
        if pending:
            raise ServiceUnavailable("The event queue refused the delivery; retry later", code="QUEUE_UNAVAILABLE")
    return calls
