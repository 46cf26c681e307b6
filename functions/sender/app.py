"""Outbound sender: sends the queued messages of the outbound queue, with retries and backoff, and the
campaigns' recipients; a campaign's message back for a retry is looked at with its campaign first
(campaigns/sending.py). Failed records are reported individually (partial batch response).

A batch's records are sent concurrently (Powertools' AsyncBatchProcessor, each send in a thread of one
pool sharing the container's HTTP connection pool): a batch of ten takes about one Graph round trip, not
ten, and the send rate's reservation covers the whole batch with one write.
"""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from aws_lambda_powertools.utilities.batch import AsyncBatchProcessor, EventType, async_process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from mkt_whatsapp.campaigns import sending
from mkt_whatsapp.core.observability import log_metrics, logger
from mkt_whatsapp.messaging import sender

processor = AsyncBatchProcessor(event_type=EventType.SQS)
# As many threads as a batch has records (template.yaml: BatchSize 10).
_pool = ThreadPoolExecutor(max_workers=10, thread_name_prefix="send")
# A send starts only if it can finish before the Lambda is stopped: its Graph call may take the HTTP
# client's timeout, and the records' results must still be reported.
_MARGIN_SECONDS = 12.0


async def send_one(record: SQSRecord, lambda_context: LambdaContext | None = None) -> None:
    deadline = None
    if lambda_context is not None:
        deadline = time.time() + lambda_context.get_remaining_time_in_millis() / 1000 - _MARGIN_SECONDS
    body, receives = _body(record.body), int(record.attributes.approximate_receive_count)
    if sending.is_campaign_record(body):  # a campaign's recipient (campaigns/sending.py)
        work = partial(sending.send_record, body, receives, record.receipt_handle, deadline)
    elif sending.is_campaign_message(body):  # a campaign's stored message, retried unless its campaign holds it
        work = partial(sending.retry_message, sender.parse(record.body), receives, record.receipt_handle, deadline)
    else:  # a stored message to send
        work = partial(sender.send_record, sender.parse(record.body), receives, record.receipt_handle, deadline)
    status = await asyncio.get_running_loop().run_in_executor(_pool, work)
    # OutboundSent / OutboundFailed are recorded where the outcome is stored (messaging/delivery.py).
    logger.debug("outbound record settled", extra={"status": status})


def _body(raw: str) -> object:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return None  # sender.parse refuses it, and the record fails on its own


@logger.inject_lambda_context
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    bodies = [str(record.get("body", "")) for record in event.get("Records", [])]
    sender.prepare(bodies)
    sending.prepare([body for body in map(_body, bodies) if isinstance(body, dict)])
    return async_process_partial_response(event=event, record_handler=send_one, processor=processor, context=context)
