"""AI responder: answers the customer turns the inbound dispatcher queued for the shop's active AI agent
(ai/responder.py), or hands the conversation to a human. A record whose turn another attempt holds, or
whose work failed, is reported on its own (partial batch response) and retried; after the queue's
maxReceiveCount it reaches the dead-letter queue (alarmed)."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from mkt_whatsapp.ai import responder
from mkt_whatsapp.core import metric_names
from mkt_whatsapp.core.observability import log_metrics, logger, record_metric

batch = BatchProcessor(event_type=EventType.SQS)
# A send made inside an answer ends this long before the Lambda does (or is left to the sender).
_MARGIN_SECONDS = 10.0
_context: dict[str, LambdaContext | None] = {"current": None}


def answer(record: SQSRecord) -> None:
    context = _context["current"]
    deadline = None
    if context is not None:
        deadline = time.time() + context.get_remaining_time_in_millis() / 1000 - _MARGIN_SECONDS
    outcome = responder.respond(responder.Job.from_wire(record.json_body), deadline=deadline)
    record_metric(metric_names.AI_TURNS, outcome=outcome)


@logger.inject_lambda_context
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    _context["current"] = context
    return process_partial_response(event=event, record_handler=answer, processor=batch, context=context)
