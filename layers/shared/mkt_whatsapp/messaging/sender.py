"""The outbound sender: drains the outbound queue (messages whose send failed transiently, and the
campaigns' recipients: campaigns/sending.py, which also looks at a campaign's message with its campaign
before it is retried here) and sends each queued message once.

Retries: a transient failure (network, 5xx, Meta's throughput errors, anything ``is_transient``) leaves
the message ``queued``, pushes the SQS message's visibility out by an exponential backoff with full
jitter (2 s, 4 s, 8 s… capped at 15 min), and reports the record as failed. On the last attempt the
queue allows (its redrive ``maxReceiveCount``), the message is marked ``failed`` (``RETRIES_EXHAUSTED``)
and the SQS message goes on to the dead-letter queue: nothing is dropped silently. A message that is no
longer ``queued`` (sent already by an earlier delivery of the same record) is not sent again.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from mkt_whatsapp.core import aws, token_vault
from mkt_whatsapp.core.cache import TimedCache
from mkt_whatsapp.core.settings import get_settings
from mkt_whatsapp.messaging import delivery, pacing, standing
from mkt_whatsapp.models.accounts import AccountRecord
from mkt_whatsapp.store import accounts as account_store
from mkt_whatsapp.store import get_table
from mkt_whatsapp.store import messages as message_store
from mkt_whatsapp.whatsapp import graph

logger = Logger(child=True)

BASE_DELAY_SECONDS = 2
MAX_DELAY_SECONDS = 900
MAX_RECEIVES = 5  # template.yaml: OutboundQueue's maxReceiveCount


class RetryLater(Exception):
    """The record failed transiently: SQS redelivers it after the backoff."""


def backoff_seconds(receive_count: int, rng: random.Random | None = None) -> int:
    """Full jitter: a random delay up to 2^n × base, capped."""
    ceiling = min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS * 2 ** max(0, receive_count))
    return int((rng or random).uniform(1, ceiling))


def prepare(record_bodies: list[str]) -> None:
    """Before a batch's records are sent concurrently: read each shop's account and decrypt its token once
    (not once per thread), and tell the send rate how many sends each number is about to make, so one
    reservation covers the batch. Records that do not parse are left for their own handler to fail."""
    per_number: Counter[str] = Counter()
    for raw in record_bodies:
        try:
            record = json.loads(raw)
        except json.JSONDecodeError:
            continue
        shop_id = record.get("shopId") if isinstance(record, dict) else None  # a message's or a campaign's
        if not shop_id:
            continue
        try:
            account = standing.sendable(_account(str(shop_id)))
            if account.phone_number_id not in per_number:  # decrypt the token once, not once per thread
                token_vault.access_token_for(
                    account.encrypted_access_token or b"",
                    shop_id=account.shop_id,
                    phone_number_id=account.phone_number_id,
                )
            per_number[account.phone_number_id] += 1
        except standing.CannotSend:
            continue  # each of its records fails on its own, saying why
        except (BotoCoreError, ClientError):
            # Only a warm-up: each record meets the same failure itself and is retried on its own.
            logger.warning("could not prepare a shop's sends", extra={"shopId": shop_id}, exc_info=True)
    for phone_number_id, sends in per_number.items():
        pacing.expect(phone_number_id, sends)


def send_record(body: dict[str, Any], receive_count: int, receipt_handle: str, deadline: float | None = None) -> str:
    """Send one queued message; returns its final status, or raises :class:`RetryLater`. ``deadline``
    (epoch seconds): the latest moment a send may start (the Lambda's remaining time, less a margin)."""
    message_id = str(body["messageId"])
    table = get_table()
    shop_id = body.get("shopId")
    if not shop_id:  # records queued before they named their shop
        message = message_store.get(table, message_id)
        if message is None:
            logger.error("outbound record names no message", extra={"messageId": message_id})
            return "missing"
        shop_id = message["shopId"]
    try:
        account = standing.sendable(_account(str(shop_id)))
    except standing.CannotSend as cannot:
        delivery.fail(message_id, [{"code": cannot.code, "title": cannot.reason}])
        return "failed"
    try:
        _, answer = delivery.attempt(account, message_id, body["body"], deadline=deadline)
    except delivery.Transient as reason:
        final = receive_count >= MAX_RECEIVES
        # A message another attempt holds is that attempt's to settle: this record only goes on to the DLQ.
        if final and not isinstance(reason, delivery.HeldElsewhere):
            delivery.fail(
                message_id,
                [{"code": "RETRIES_EXHAUSTED", "title": f"Gave up after {receive_count} attempts; last: {reason}"}],
            )
        back_off(receipt_handle, receive_count)
        raise RetryLater(str(reason)) from reason
    if any(graph.is_account_level_code(error.get("code")) for error in answer.get("errors") or []):
        _accounts.forget(str(shop_id))  # the account is flagged now: the next records read it afresh
    return str(answer["status"])


def back_off(receipt_handle: str, receive_count: int) -> None:
    """A record that failed transiently comes back after the backoff; on its last receive at once, so SQS
    moves it on to the dead-letter queue promptly."""
    aws.sqs().change_message_visibility(
        QueueUrl=get_settings().outbound_queue_url,
        ReceiptHandle=receipt_handle,
        VisibilityTimeout=0 if receive_count >= MAX_RECEIVES else backoff_seconds(receive_count),
    )


# The shop's account, kept for a few seconds per container: a burst of sends reads it once. A disconnect
# is seen within that time; Meta refuses a revoked token in any case.
_accounts: TimedCache[str, AccountRecord | None] = TimedCache(seconds=30.0)


def _account(shop_id: str) -> AccountRecord | None:
    return _accounts.get(shop_id, lambda: account_store.get_account(get_table(), shop_id))


def parse(record_body: str) -> dict[str, Any]:
    try:
        body = json.loads(record_body)
    except json.JSONDecodeError as error:
        raise ValueError("not an outbound send record") from error
    if not isinstance(body, dict) or "messageId" not in body or "body" not in body:
        raise ValueError("not an outbound send record")
    return body
