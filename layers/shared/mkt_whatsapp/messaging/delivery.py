"""Delivering a stored, queued outbound message through the Graph API: one attempt (claimed, paced by the
per-number send rate, recorded as ``sent`` or ``failed``), and the hand-over to the outbound queue after a
transient failure. Used by ``send`` (within the caller's invocation) and by the sender worker, which gets a
ready Graph body and so never loads the content models.

A stored message that is not to be sent after all (its campaign was cancelled, its campaign recipient
abandoned) is withdrawn: taken as an attempt takes it, then failed with the reason, so no attempt sends it.
A campaign message's end settles its recipient, once, whoever learns it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from mkt_whatsapp.core import aws, metric_names, token_vault
from mkt_whatsapp.core.clock import iso, now_iso
from mkt_whatsapp.core.errors import ServiceUnavailable
from mkt_whatsapp.core.observability import record_metric
from mkt_whatsapp.core.settings import get_settings
from mkt_whatsapp.messaging import consent, pacing
from mkt_whatsapp.models.accounts import AccountRecord
from mkt_whatsapp.store import accounts as account_store
from mkt_whatsapp.store import campaigns as campaign_store
from mkt_whatsapp.store import get_table
from mkt_whatsapp.store import messages as message_store
from mkt_whatsapp.store.table import Item
from mkt_whatsapp.whatsapp import graph

logger = Logger(child=True)


# What a send needs after Meta answers (recording the result) and before the Lambda's end.
FINISH_SECONDS = 2.0
# A claim older than this belongs to a sender that stopped: the longest a send can take is the sender
# Lambda's timeout (template.yaml: 30 s).
SENDING_LEASE_SECONDS = 120
# A message in one of these has ended, as far as its campaign's recipient is concerned.
_SETTLED = ("sent", "delivered", "read", "played", "failed")
# The error of a campaign message withdrawn because its campaign was cancelled before it could be sent.
CAMPAIGN_CANCELLED = "CAMPAIGN_CANCELLED"
UNCONFIRMED_TITLE = (
    "A sender stopped while sending this message; it may not have reached the customer. Send it again if needed."
)


class Transient(Exception):
    """Meta or the network failed in a way worth retrying; the message is back to ``queued``."""


class HeldElsewhere(Transient):
    """Another attempt holds the message's claim right now; it will settle the message itself."""


def deliver(
    account: AccountRecord, message_id: str, body: dict[str, Any], deadline: float | None = None
) -> tuple[int, dict[str, Any]]:
    """Send a stored, queued message within the caller's invocation; a transient failure hands it to the
    sender.

    The send must end well inside the invocation, which ends at ``deadline`` (epoch seconds): Meta gets
    the shorter inline timeout, and a send slot that would come too late for it leaves the message to the
    sender (202) — a Lambda stopped mid-send would leave the message claimed by nobody."""
    timeout = get_settings().graph_api_inline_timeout_seconds
    latest_start = None if deadline is None else deadline - timeout - FINISH_SECONDS
    try:
        return attempt(account, message_id, body, deadline=latest_start, graph_timeout=timeout)
    except Transient as reason:
        return _hand_to_sender(message_id, account.shop_id, body, reason=str(reason))


def attempt(
    account: AccountRecord,
    message_id: str,
    body: dict[str, Any],
    deadline: float | None = None,
    graph_timeout: float | None = None,
) -> tuple[int, dict[str, Any]]:
    """One attempt to send a queued message: ``sent`` with its wamid, or ``failed`` with Meta's reason, or
    :class:`Transient` (back to ``queued``). A message that is not ``queued`` any more is not sent again.

    A message another attempt is sending right now is :class:`Transient` (look again later); one whose
    sender stopped after claiming it (a crash or timeout, seen ``SENDING_LEASE_SECONDS`` later) may or may
    not have reached WhatsApp: it is failed with ``SEND_UNCONFIRMED``, visible, rather than risk sending it
    twice. ``deadline`` (epoch seconds): give the claim back rather than wait for a send slot past it.
    """
    table = get_table()
    claimed = _claim(message_id)
    if claimed is None:
        stored = message_store.get(table, message_id) or {}
        if stored.get("status") == "sending":
            raise HeldElsewhere("another attempt is sending this message")
        settle_campaign_recipient(stored)  # an attempt that stopped after settling it may not have said so
        return 200, _answer(message_id, stored)
    if claimed.get("status") == "sending":
        fail(message_id, [{"code": "SEND_UNCONFIRMED", "title": UNCONFIRMED_TITLE}])
        return 201, _answer(message_id, message_store.get(table, message_id) or {})
    token = token_vault.access_token_for(
        account.encrypted_access_token or b"", shop_id=account.shop_id, phone_number_id=account.phone_number_id
    )
    try:
        pacing.acquire(account.phone_number_id, deadline=deadline)
    except pacing.NoSlotInTime as busy:
        message_store.requeue(table, message_id)
        raise Transient(str(busy)) from busy
    try:
        sent = graph.send_message(account.phone_number_id, token, body, timeout=graph_timeout)
    except graph.GraphApiError as error:
        if graph.is_transient(error):
            message_store.requeue(table, message_id)
            raise Transient(f"meta {error.code}") from error
        fail(message_id, [{"code": error.code, "title": error.message, "subcode": error.subcode or None}])
        if error.code == consent.USER_STOPPED_MARKETING and claimed.get("customerKey"):
            consent.record_meta_opt_out(account.shop_id, str(claimed["customerKey"]))
        if graph.is_account_level(error):
            # Stop the shop's sends and show why on the account, until the shop reconnects.
            flagged = account_store.flag_action_required(
                table, account, {"code": error.code, "title": error.message}, datetime.now(UTC)
            )
            if flagged:
                logger.error(
                    "account-level Graph error: the shop's sends stop until it reconnects",
                    extra={"shopId": account.shop_id, "metaCode": error.code},
                )
                campaign_store.pause_running(
                    table,
                    account.shop_id,
                    {"code": "ACCOUNT_ACTION_REQUIRED", "message": f"Meta refused the account: {error.message}"},
                    at=now_iso(),
                )
        return 201, _answer(message_id, message_store.get(table, message_id) or {})
    except graph.GraphUnavailable as error:
        message_store.requeue(table, message_id)
        raise Transient(str(error)) from error
    message_store.mark_sent(table, message_id, account.shop_id, sent.whatsapp_message_id, now_iso())
    record_metric(metric_names.OUTBOUND_SENT)
    settle_campaign_recipient({**claimed, "status": "sent"})
    # Answered from what this attempt knows: no read-back (a send costs its writes, not another read).
    return 201, _answer(message_id, {**claimed, "status": "sent", "whatsAppMessageId": sent.whatsapp_message_id})


def _claim(message_id: str) -> Item | None:
    """Take a message for sending: ``queued``, or claimed by a sender that stopped (message_store.claim_for_sending)."""
    now = datetime.now(UTC)
    return message_store.claim_for_sending(
        get_table(), message_id, iso(now), stale_before=iso(now - timedelta(seconds=SENDING_LEASE_SECONDS))
    )


def withdraw(message_id: str, error: dict[str, Any]) -> Item | None:
    """A stored message that is not to be sent after all: failed with ``error`` (``code``, ``title``), its
    campaign recipient settled. It is taken as :func:`attempt` takes it, so no attempt sends it meanwhile; one
    claimed by a sender that stopped may have reached WhatsApp and is failed ``SEND_UNCONFIRMED`` instead.
    Returns the message as failed, or None when an attempt is sending it right now or it has ended already."""
    claimed = _claim(message_id)
    if claimed is None:
        return None
    if claimed.get("status") == "sending":
        error = {"code": "SEND_UNCONFIRMED", "title": UNCONFIRMED_TITLE}
    return fail(message_id, [error])


def fail(message_id: str, errors: list[dict[str, Any]]) -> Item:
    failed = message_store.mark_failed(
        get_table(), message_id, now_iso(), [{k: v for k, v in error.items() if v is not None} for error in errors]
    )
    record_metric(
        metric_names.OUTBOUND_FAILED, errorClass=metric_names.error_class(errors[0].get("code") if errors else None)
    )
    if failed.get("flow"):
        from mkt_whatsapp.messaging import waits

        waits.message_failed(failed)
    settle_campaign_recipient(failed)
    return failed


def settle_campaign_recipient(message: Item) -> None:
    """A campaign's message that ended (sent or failed): its recipient says so, counted once
    (store/campaigns.settle_recipient), whichever attempt learnt it. A message withdrawn because its campaign
    was cancelled (``CAMPAIGN_CANCELLED``) settles its recipient ``cancelled``."""
    campaign_id, customer_key = message.get("campaignId"), message.get("customerKey")
    status = message.get("status")
    if not campaign_id or not customer_key or status not in _SETTLED:
        return
    outcome, reason = campaign_store.SENT, None
    if status == "failed":
        errors = message.get("errors") or [{}]
        reason = str(errors[0].get("code") or "FAILED")
        outcome = campaign_store.FAILED
        if reason == CAMPAIGN_CANCELLED:
            outcome, reason = campaign_store.CANCELLED, None
    campaign_store.settle_recipient(
        get_table(), str(campaign_id), str(customer_key), outcome, at=now_iso(), reason=reason
    )


def outbound_record(message_id: str, shop_id: str, body: dict[str, Any], *, stored: Item | None = None) -> str:
    """What the outbound queue carries: the stored message to send, its shop and the Graph body. A campaign's
    message (``stored`` names its ``campaignId``) also carries its ``campaignId`` and ``customerKey``, so the
    sender looks at the campaign before it sends it again (campaigns/sending.retry_message)."""
    record: dict[str, Any] = {"messageId": message_id, "shopId": shop_id, "body": body}
    if stored is not None and stored.get("campaignId"):
        record.update(campaignId=stored["campaignId"], customerKey=stored.get("customerKey"))
    return json.dumps(record, ensure_ascii=False)


def _hand_to_sender(message_id: str, shop_id: str, body: dict[str, Any], reason: str) -> tuple[int, dict[str, Any]]:
    """A transient failure within the request: onto the outbound queue; the sender retries with backoff."""
    stored = message_store.get(get_table(), message_id) or {}
    queue_url = get_settings().outbound_queue_url
    try:
        aws.sqs().send_message(
            QueueUrl=queue_url, MessageBody=outbound_record(message_id, shop_id, body, stored=stored)
        )
    except (BotoCoreError, ClientError) as error:  # the message stays queued and visible; say so
        logger.exception("could not queue a message for retry", extra={"messageId": message_id})
        raise ServiceUnavailable(
            "The message is stored but could not be queued; retry", code="QUEUE_UNAVAILABLE"
        ) from error
    logger.info("send handed to the outbound queue", extra={"messageId": message_id, "reason": reason})
    return 202, _answer(message_id, stored)


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
