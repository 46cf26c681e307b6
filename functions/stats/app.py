"""Stats aggregator: the table's stream (template.yaml: filtered to messages, conversations and AI replies)
delivers batches of changes; each batch is added to the analytics counters in one transaction with a
marker item of its own, so a batch Lambda retries as it was changes nothing twice
(mkt_whatsapp.analytics.counting). No partial batch response: the whole batch succeeds, or it is retried
whole, in order, until it does (MaximumRetryAttempts -1)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from mkt_whatsapp.analytics import counting
from mkt_whatsapp.core import metric_names
from mkt_whatsapp.core.observability import log_metrics, logger, record_metric

# The batch's count is recorded in the service's own metric set (observability.record_metric) and printed
# as EMF when the handler returns (log_metrics): not Powertools' shared set, which the other in-process
# handlers of the local stack flush too; and unlike single_metric, it honours POWERTOOLS_METRICS_DISABLED
# (make dev's terminal shows no EMF).


@logger.inject_lambda_context
@log_metrics
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
    record_metric(metric_names.STATS_RECORDS, len(records))
