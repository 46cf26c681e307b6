"""The sender's side of a campaign: one record of the outbound queue names a recipient (``campaignId``,
``shopId``, ``customerKey``); the sender (functions/sender) hands it here.

For each record, in this order:

1. The recipient as stored: one settled already (a redelivery, a record enqueued twice) is done — nothing
   is sent again.
2. The campaign's status, read at most once a batch per campaign (a 2-second cache the batch's
   :func:`prepare` fills): ``cancelled`` marks the recipient cancelled; ``paused`` (or anything but
   ``running``) parks it ``paused`` until a resume wakes it. A pause takes effect within the batch after it.
3. The quiet hours: inside them the recipient waits (``waiting_quiet``) until they end.
4. The send itself, through ``messaging/send.send`` like every other sender (``sentBy: campaign:<id>``, the
   message carrying ``campaignId``), in the customer's open conversation or one opened for it, with the
   recipient's message id (one per campaign and customer): a send whose message is stored already delivers
   that one, once. The outcome reaches the recipient from wherever it is learnt (messaging/delivery.py).
   The rules refuse some: ``DAILY_LIMIT_REACHED`` (the messaging tier's 24-hour unique-customer limit) parks
   the recipient until the campaign's execution sees capacity again (``waiting_tier``); the account needing
   action, or the template no longer sendable, pauses the campaign saying why and parks the recipient;
   anything else (the customer opted out meanwhile…) fails it with the rule's code.

A recipient whose message is stored already is never parked or cancelled: it is on its way, and its
outcome settles it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from mkt_whatsapp.campaigns import quiet_hours
from mkt_whatsapp.conversations import actions
from mkt_whatsapp.core.cache import TimedCache
from mkt_whatsapp.core.clock import iso
from mkt_whatsapp.core.errors import BusinessRuleViolation, NotFound
from mkt_whatsapp.messaging import delivery, standing
from mkt_whatsapp.messaging.sender import MAX_RECEIVES, RetryLater, back_off
from mkt_whatsapp.store import campaigns as campaign_store
from mkt_whatsapp.store import conversations as conversation_store
from mkt_whatsapp.store import customers as customer_store
from mkt_whatsapp.store import get_table
from mkt_whatsapp.store import messages as message_store
from mkt_whatsapp.store.table import Item, TransactionConflict

logger = Logger(child=True)

CONVERSATION_NAMESPACE = uuid.UUID("0b8f7c1e-92d4-5e6a-8c3b-7a1f4e9d2c60")
# Refusals that stop campaigns, not only this recipient: the shop's account (all its running campaigns), the
# template (those sending it).
_ACCOUNT_REFUSALS = (standing.ACCOUNT_ACTION_REQUIRED, standing.ACCOUNT_DISCONNECTED)
_TEMPLATE_REFUSALS = ("UNKNOWN_TEMPLATE", "TEMPLATE_NOT_APPROVED")

# A campaign's status, kept two seconds per container: a batch reads each of its campaigns once, and a pause
# or a cancellation reaches every sender within these seconds.
STATUS_SECONDS = 2.0
_campaigns: TimedCache[str, Item | None] = TimedCache(seconds=STATUS_SECONDS)


def is_campaign_record(body: object) -> bool:
    return isinstance(body, dict) and "campaignId" in body and "customerKey" in body


def _campaign(campaign_id: str) -> Item | None:
    return _campaigns.get(campaign_id, lambda: campaign_store.get(get_table(), campaign_id, consistent=True))


def prepare(bodies: list[dict[str, Any]]) -> None:
    """Before a batch's records are sent concurrently: read each of its campaigns once."""
    for campaign_id in dict.fromkeys(str(body["campaignId"]) for body in bodies if is_campaign_record(body)):
        _campaign(campaign_id)


def send_record(body: dict[str, Any], receive_count: int, receipt_handle: str, deadline: float | None) -> str:
    """Handle one campaign record (see the module); returns what became of the recipient, or raises
    :class:`RetryLater` (transient: the record comes back after the backoff)."""
    campaign_id, customer_key = str(body["campaignId"]), str(body["customerKey"])
    table = get_table()
    recipient = campaign_store.get_recipient(table, campaign_id, customer_key)
    if recipient is None or recipient.get("status") in campaign_store.SETTLED:
        return "settled"
    campaign = _campaign(campaign_id)
    if campaign is None:
        return "missing"
    if campaign.get("status") == "cancelled":
        return _park(campaign, recipient, campaign_store.CANCELLED)
    if campaign.get("status") != "running":
        return _park(campaign, recipient, campaign_store.PAUSED)
    now = datetime.now(UTC)
    quiet_end = quiet_hours.window_end(campaign.get("quietHours"), now)
    if quiet_end is not None:
        return _park(campaign, recipient, campaign_store.WAITING_QUIET, wake_at=iso(quiet_end))
    try:
        return _send(campaign, recipient, deadline)
    except (TransactionConflict, conversation_store.ConversationGone, delivery.Transient) as reason:
        if receive_count >= MAX_RECEIVES:
            campaign_store.settle_recipient(
                table, campaign_id, customer_key, campaign_store.FAILED, at=iso(now), reason="RETRIES_EXHAUSTED"
            )
        back_off(receipt_handle, receive_count)
        raise RetryLater(str(reason)) from reason


def _park(campaign: Item, recipient: Item, state: str, *, wake_at: str = "") -> str:
    """Park (or cancel) a recipient the campaign does not send to now, unless its message is on its way."""
    table = get_table()
    message = message_store.get(table, str(recipient["messageId"]))
    if message is not None:
        delivery.settle_campaign_recipient(message)  # sent or failed already; else on its way, settled later
        return "in_flight"
    # A woken recipient parked again gets its new wake time (a paused one: whenever the campaign runs).
    campaign_store.move_recipients(
        table, str(campaign["campaignId"]), [recipient], state, at=iso(datetime.now(UTC)), wake_at=wake_at
    )
    return state


def _send(campaign: Item, recipient: Item, deadline: float | None) -> str:
    # The content models (the largest set) load with the container's first campaign send, not at import: the
    # sender's other records are ready Graph bodies.
    from mkt_whatsapp.messaging import send
    from mkt_whatsapp.whatsapp.outbound_content import SendMessageRequest

    table = get_table()
    campaign_id, shop_id = str(campaign["campaignId"]), str(campaign["shopId"])
    customer_key = str(recipient["customerKey"])
    now = iso(datetime.now(UTC))
    customer = customer_store.get(table, shop_id, customer_key)
    if customer is None:
        campaign_store.settle_recipient(
            table, campaign_id, customer_key, campaign_store.FAILED, at=now, reason="CUSTOMER_NOT_FOUND"
        )
        return campaign_store.FAILED
    actor = f"campaign:{campaign_id}"
    conversation_id = str(uuid.uuid5(CONVERSATION_NAMESPACE, f"{campaign_id}:{customer_key}"))
    conversation = actions.open_for(shop_id, customer, conversation_id, actor=actor)
    template = campaign["template"]
    request = SendMessageRequest.model_validate(
        {
            "content": {
                "type": "template",
                "template": {
                    "name": template["name"],
                    "language": template["language"],
                    "category": campaign.get("templateCategory") or "marketing",
                    "components": recipient.get("components") or [],
                },
            }
        }
    )
    try:
        _status, answer = send.send(
            shop_id,
            conversation,
            request,
            actor=actor,
            deadline=deadline,
            annotations={"campaignId": campaign_id},
            message_id=str(recipient["messageId"]),
        )
    except BusinessRuleViolation as refused:
        return _refused(campaign, recipient, refused)
    except NotFound:  # the conversation is another shop's: never, but never send there
        campaign_store.settle_recipient(
            table, campaign_id, customer_key, campaign_store.FAILED, at=now, reason="CONVERSATION_NOT_FOUND"
        )
        return campaign_store.FAILED
    # The outcome, if the send learnt it (a queued one is settled by the sender's retry).
    delivery.settle_campaign_recipient({**answer, "campaignId": campaign_id, "customerKey": customer_key})
    return str(answer.get("status"))


def _refused(campaign: Item, recipient: Item, refused: BusinessRuleViolation) -> str:
    table = get_table()
    campaign_id, shop_id = str(campaign["campaignId"]), str(campaign["shopId"])
    now = iso(datetime.now(UTC))
    if refused.code == "DAILY_LIMIT_REACHED":
        return _park(campaign, recipient, campaign_store.WAITING_TIER, wake_at=now)
    if refused.code in _ACCOUNT_REFUSALS + _TEMPLATE_REFUSALS:
        template = campaign.get("template") or {}
        named = None if refused.code in _ACCOUNT_REFUSALS else (str(template["name"]), str(template["language"]))
        campaign_store.pause_running(
            table, shop_id, {"code": refused.code, "message": refused.message}, at=now, template=named
        )
        _campaigns.forget(campaign_id)
        logger.warning("a campaign's send was refused: paused", extra={"campaignId": campaign_id, "code": refused.code})
        return _park(campaign, recipient, campaign_store.PAUSED)
    campaign_store.settle_recipient(
        table, campaign_id, str(recipient["customerKey"]), campaign_store.FAILED, at=now, reason=refused.code
    )
    return campaign_store.FAILED
