"""Inbound processor: drains the inbound queue the webhook receiver fills; each record carries one or
more WhatsApp changes, stored exactly once. Failed records are reported individually (partial batch
response) and reach the dead-letter queue after the queue's maxReceiveCount; a change that fails inside
a record of several is queued again on its own (mkt_whatsapp.inbound.packing)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from mkt_whatsapp.ai import intake
from mkt_whatsapp.core import metric_names
from mkt_whatsapp.core.observability import log_metrics, logger, record_metric
from mkt_whatsapp.flows import runs
from mkt_whatsapp.inbound import dispatcher, processor
from mkt_whatsapp.inbound.dispatcher import StoredInbound

batch = BatchProcessor(event_type=EventType.SQS)


def _flows(message: StoredInbound) -> bool:
    taken = runs.offer(
        shop_id=message.shop_id,
        message_id=message.message_id,
        conversation_id=message.conversation_id,
        customer_key=message.customer_key,
        content=dict(message.content),
        new_customer=message.new_customer,
        referral=dict(message.referral) if message.referral else None,
    )
    if taken is not None:
        record_metric(metric_names.FLOW_MESSAGES, taken=taken)
    return taken is not None


def _ai_agent(message: StoredInbound) -> bool:
    return intake.offer(message.shop_id, message.conversation_id, message.message_id)


# The automation guide's order: a flow waiting on (or running on) the conversation, flow triggers, then
# the shop's AI agent.
for _name in ("flows", "ai_agent"):  # a re-imported module (tests) registers afresh
    dispatcher.unregister(_name)
dispatcher.register("flows", _flows)
dispatcher.register("ai_agent", _ai_agent)


def handle_record(record: SQSRecord) -> None:
    outcome = processor.process_queue_message(record.json_body)
    record_metric(metric_names.INBOUND_MESSAGES, outcome["messages"])
    record_metric(metric_names.STATUSES_APPLIED, outcome["statuses"])


@logger.inject_lambda_context
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=handle_record, processor=batch, context=context)
