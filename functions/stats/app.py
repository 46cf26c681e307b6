"""Stats aggregator: the table's stream (template.yaml: filtered to messages, conversations and AI replies)
delivers batches of changes; each batch is added to the analytics counters in one transaction with a
marker item of its own, so a batch Lambda retries as it was changes nothing twice
(mkt_whatsapp.analytics.counting). No partial batch response: the whole batch succeeds, or it is retried
whole, in order, until it does (MaximumRetryAttempts -1)."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from mkt_whatsapp.analytics import counting
from mkt_whatsapp.core.observability import logger


def _metric(name: str, value: int) -> None:
    """One metric, flushed at once (EMF): handlers run in one process locally share Powertools' metric set,
    so this function keeps none of its own."""
    with single_metric(name=name, unit=MetricUnit.Count, value=value) as metric:
        metric.add_dimension(name="service", value=os.environ.get("POWERTOOLS_SERVICE_NAME", "mkt-whatsapp-service"))


@logger.inject_lambda_context
@event_source(data_class=DynamoDBStreamEvent)
def lambda_handler(event: DynamoDBStreamEvent, context: LambdaContext) -> None:
    records: list[dict[str, Any]] = event.raw_event.get("Records") or []
    sequence_numbers = [record.dynamodb.sequence_number for record in event.records if record.dynamodb]
    counts = counting.count_records(records)
    logger.info(
        "stream batch counted",
        extra={
            "records": len(records),
            "counts": counts,
            "firstSequenceNumber": sequence_numbers[0] if sequence_numbers else None,
            "lastSequenceNumber": sequence_numbers[-1] if sequence_numbers else None,
        },
    )
    _metric("StatsStreamRecords", len(records))
