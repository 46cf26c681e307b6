"""Sending a message in a conversation: the rules before sending, storing first, then the Graph API.

Rules (422, nothing sent, nothing stored):
- ``ACCOUNT_DISCONNECTED``: the shop has no connected account.
- ``CONVERSATION_CLOSED``: only a template may be sent on a closed conversation.
- ``OUTSIDE_CUSTOMER_SERVICE_WINDOW``: 24 h after the customer's last message only templates may be sent.
- ``CUSTOMER_OPTED_OUT``: no ``marketing`` template to a customer who opted out. A template's category
  comes from the request's ``template.category``; a template sent without one is treated as marketing
  (the strictest reading) so it cannot slip past a customer's opt-out.
- ``DAILY_LIMIT_REACHED``: a template outside the window starts a business-initiated conversation;
  WhatsApp counts the unique customers reached that way in a moving 24 hours against the portfolio's
  messaging limit. A customer counts once per 24 hours from their first such message; usage is kept in
  hourly buckets and ``messagesUsedToday`` is the sum of the last 24 of them.

Path: the message is stored ``queued`` with the conversation's count in one transaction, then sent within
the request. Meta's acceptance makes it ``sent`` with its wamid; a permanent refusal makes it ``failed``
with Meta's code and title (the answer then says so); a transient failure (network, 5xx, throughput
limits) leaves it ``queued`` on the outbound queue for the sender, and the answer is 202.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from mkt_whatsapp import aws, send_rate, token_vault
from mkt_whatsapp.api import current_principal, current_request
from mkt_whatsapp.clock import iso, now_iso, parse_iso
from mkt_whatsapp.conversations import load
from mkt_whatsapp.errors import BadRequest, BusinessRuleViolation, Conflict, ServiceUnavailable
from mkt_whatsapp.models.accounts import AccountRecord
from mkt_whatsapp.settings import get_settings
from mkt_whatsapp.store import accounts as account_store
from mkt_whatsapp.store import conversations as conversation_store
from mkt_whatsapp.store import customers as customer_store
from mkt_whatsapp.store import get_table
from mkt_whatsapp.store import messages as message_store
from mkt_whatsapp.store.table import Item, TransactionCancelled
from mkt_whatsapp.whatsapp import graph
from mkt_whatsapp.whatsapp.outbound_content import SendMessageRequest, is_template, template_category, to_graph_body

logger = Logger(child=True)

DAY = timedelta(hours=24)


def _rule(message: str, code: str, field: str | None = None) -> BusinessRuleViolation:
    return BusinessRuleViolation(message, code=code, field=field)


def send(conversation_id: str, request: SendMessageRequest) -> tuple[int, dict[str, Any]]:
    """Send ``request`` in the conversation; returns the HTTP status and the answer's data."""
    table = get_table()
    conversation = load(conversation_id)
    shop_id = str(conversation["shopId"])
    account = account_store.get_account(table, shop_id)
    if account is None or account.status != "active" or not account.encrypted_access_token:
        raise _rule("The shop has no connected WhatsApp account", "ACCOUNT_DISCONNECTED")
    now = now_iso()
    template = is_template(request.content)
    closed = conversation.get("status") == conversation_store.CLOSED
    outside_window = now >= str(conversation.get("windowExpiresAt", ""))
    if closed and not template:
        raise _rule("The conversation is closed: only a template can be sent", "CONVERSATION_CLOSED", "content.type")
    if outside_window and not template:
        raise _rule(
            "More than 24 hours since the customer's last message: only a template can be sent",
            "OUTSIDE_CUSTOMER_SERVICE_WINDOW",
            "content.type",
        )
    customer = customer_store.get(table, shop_id, str(conversation["customerKey"])) or {}
    category = template_category(request.content) or ("marketing" if template else None)
    if category == "marketing" and (customer.get("consent") or {}).get("status") == "opted_out":
        raise _rule("The customer opted out of marketing messages", "CUSTOMER_OPTED_OUT", "content.template")

    message_id = str(uuid.uuid4())
    operations = [
        message_store.new_message_op(
            table,
            {
                "id": message_id,
                "shopId": shop_id,
                "conversationId": conversation_id,
                "customerKey": conversation["customerKey"],
                "direction": "outbound",
                "content": request.content.to_wire(),
                "replyTo": request.reply_to,
                "status": "queued",
                "statusRank": message_store.STATUS_RANK["queued"],
                "statusTimestamps": {"queued": now},
                "timestamp": now,
                "sentBy": current_principal().subject,
                "businessInitiated": template and (outside_window or closed),
            },
        ),
        conversation_store.outbound_message_op(table, conversation_id, now),
    ]
    if template and (outside_window or closed):
        operations += _count_business_initiated(account, shop_id, str(conversation["customerKey"]), now)
    try:
        table.transact_write(operations)
    except TransactionCancelled as cancelled:
        if len(cancelled.reasons) > 2 and cancelled.reasons[2] == "ConditionalCheckFailed":
            # The customer's 24-hour period started meanwhile: they are already counted.
            table.transact_write(operations[:2])
        else:
            raise

    recipient = customer.get("waId") or customer.get("bsuid") or conversation.get("customerWaId")
    body = to_graph_body(request.content, str(recipient), reply_to=request.reply_to)
    return deliver(account, message_id, body)


IDEMPOTENCY_SECONDS = 24 * 3600


@cache
def _idempotency(table_name: str) -> tuple[Any, Any]:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

    persistence = DynamoDBPersistenceLayer(
        table_name=table_name,
        key_attr="PK",
        sort_key_attr="SK",
        static_pk_value="IDEMPOTENCY#send-message",
        expiry_attr="expiresAt",
        boto3_client=aws.dynamodb(),
    )
    config = IdempotencyConfig(
        event_key_jmespath="[conversationId, idempotencyKey]",
        payload_validation_jmespath="request",
        expires_after_seconds=IDEMPOTENCY_SECONDS,
    )
    return persistence, config


def send_once(conversation_id: str, request: SendMessageRequest, idempotency_key: str) -> tuple[int, dict[str, Any]]:
    """``send`` behind an ``Idempotency-Key``: a retried request (same key, same conversation) gets the
    first answer for 24 hours instead of a second send (Powertools idempotency on the table). The same key
    with a different body is refused."""
    from aws_lambda_powertools.utilities.idempotency import idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    if not 1 <= len(idempotency_key) <= 255 or not idempotency_key.isprintable():
        raise BadRequest(
            "Idempotency-Key must be 1 to 255 printable characters", code="INVALID_FORMAT", field="Idempotency-Key"
        )
    load(conversation_id)  # the caller's right to the conversation is checked on every attempt
    persistence, config = _idempotency(get_settings().table_name)
    lambda_context = current_request().lambda_context
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)  # in-progress records expire with the invocation

    @idempotent_function(data_keyword_argument="attempt", persistence_store=persistence, config=config)  # type: ignore[untyped-decorator]
    def once(attempt: dict[str, Any]) -> dict[str, Any]:
        status, data = send(conversation_id, request)
        return {"status": status, "data": data}

    try:
        result = once(
            attempt={"conversationId": conversation_id, "idempotencyKey": idempotency_key, "request": request.to_wire()}
        )
    except IdempotencyValidationError as error:
        raise Conflict(
            "This Idempotency-Key was used with a different request",
            code="IDEMPOTENCY_KEY_REUSED",
            field="Idempotency-Key",
        ) from error
    except IdempotencyAlreadyInProgressError as error:
        raise Conflict(
            "A request with this Idempotency-Key is in progress",
            code="IDEMPOTENCY_IN_PROGRESS",
            field="Idempotency-Key",
        ) from error
    return int(result["status"]), dict(result["data"])


def _count_business_initiated(account: AccountRecord, shop_id: str, customer_key: str, now: str) -> list[Any]:
    table = get_table()
    started = account_store.business_period_started(table, shop_id, customer_key)
    day_ago = iso(parse_iso(now) - DAY)
    if started and started > day_ago:
        return []  # already counted in this moving 24 hours
    since_hour = iso(parse_iso(now) - timedelta(hours=23))[:13]
    _, used = account_store.get_account_and_usage(table, shop_id, since_hour)
    if account.daily_limit is not None and used >= account.daily_limit:
        raise _rule(
            f"The account reached its messaging limit of {account.daily_limit} customers in 24 hours",
            "DAILY_LIMIT_REACHED",
        )
    expires = int(parse_iso(now).timestamp() + 2 * DAY.total_seconds())
    return account_store.business_initiated_ops(table, shop_id, customer_key, now, day_ago, expires)


class Transient(Exception):
    """Meta or the network failed in a way worth retrying; the message is back to ``queued``."""


def deliver(account: AccountRecord, message_id: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Send a stored, queued message within the request; a transient failure hands it to the sender."""
    try:
        return attempt(account, message_id, body)
    except Transient as reason:
        return _hand_to_sender(message_id, account.shop_id, body, reason=str(reason))


def attempt(account: AccountRecord, message_id: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """One attempt to send a queued message: ``sent`` with its wamid, or ``failed`` with Meta's reason, or
    :class:`Transient` (back to ``queued``). A message that is not ``queued`` any more is not sent again."""
    table = get_table()
    claimed = message_store.claim_for_sending(table, message_id, now_iso())
    if claimed is None:
        return 200, _answer(message_id, message_store.get(table, message_id) or {})
    token = token_vault.access_token_for(
        account.encrypted_access_token or b"", shop_id=account.shop_id, phone_number_id=account.phone_number_id
    )
    send_rate.acquire(account.phone_number_id)
    try:
        sent = graph.send_message(account.phone_number_id, token, body)
    except graph.GraphApiError as error:
        if graph.is_transient(error):
            message_store.requeue(table, message_id)
            raise Transient(f"meta {error.code}") from error
        fail(message_id, [{"code": error.code, "title": error.message, "subcode": error.subcode or None}])
        if graph.is_account_level(error):
            logger.error(
                "account-level Graph error: sends for this shop will fail until it reconnects",
                extra={"shopId": account.shop_id, "metaCode": error.code},
            )
        return 201, _answer(message_id, message_store.get(table, message_id) or {})
    except graph.GraphUnavailable as error:
        message_store.requeue(table, message_id)
        raise Transient(str(error)) from error
    message_store.mark_sent(table, message_id, account.shop_id, sent.whatsapp_message_id, now_iso())
    # Answered from what this attempt knows: no read-back (a send costs its writes, not another read).
    return 201, _answer(message_id, {**claimed, "status": "sent", "whatsAppMessageId": sent.whatsapp_message_id})


def fail(message_id: str, errors: list[dict[str, Any]]) -> None:
    message_store.mark_failed(
        get_table(), message_id, now_iso(), [{k: v for k, v in error.items() if v is not None} for error in errors]
    )


def outbound_record(message_id: str, shop_id: str, body: dict[str, Any]) -> str:
    """What the outbound queue carries: the stored message to send, its shop and the Graph body."""
    return json.dumps({"messageId": message_id, "shopId": shop_id, "body": body}, ensure_ascii=False)


def _hand_to_sender(message_id: str, shop_id: str, body: dict[str, Any], reason: str) -> tuple[int, dict[str, Any]]:
    """A transient failure within the request: onto the outbound queue; the sender retries with backoff."""
    table = get_table()
    queue_url = get_settings().outbound_queue_url
    try:
        aws.sqs().send_message(QueueUrl=queue_url, MessageBody=outbound_record(message_id, shop_id, body))
    except (BotoCoreError, ClientError) as error:  # the message stays queued and visible; say so
        logger.exception("could not queue a message for retry", extra={"messageId": message_id})
        raise ServiceUnavailable(
            "The message is stored but could not be queued; retry", code="QUEUE_UNAVAILABLE"
        ) from error
    logger.info("send handed to the outbound queue", extra={"messageId": message_id, "reason": reason})
    return 202, _answer(message_id, message_store.get(table, message_id) or {})


def _answer(message_id: str, stored: Item) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "messageId": message_id,
        "whatsAppMessageId": stored.get("whatsAppMessageId"),
        "status": stored.get("status", "queued"),
        "timestamp": stored.get("timestamp"),
    }
    if stored.get("errors"):
        answer["errors"] = stored["errors"]
    return answer
