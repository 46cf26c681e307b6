"""Outbound sender: sends the queued messages of the outbound queue, with retries and backoff; failed
records are reported individually (partial batch response)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from mkt_whatsapp import sender
from mkt_whatsapp.observability import logger, metrics

processor = BatchProcessor(event_type=EventType.SQS)


def send_one(record: SQSRecord) -> None:
    status = sender.send_record(
        sender.parse(record.body), int(record.attributes.approximate_receive_count), record.receipt_handle
    )
    metrics.add_metric(name=f"Outbound_{status}", unit="Count", value=1)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=send_one, processor=processor, context=context)
