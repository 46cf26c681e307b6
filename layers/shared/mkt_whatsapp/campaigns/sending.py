"""The sender's side of a campaign. The outbound queue carries two kinds of campaign records, and the sender
(functions/sender) hands both here:

- **a recipient** (``campaignId``, ``shopId``, ``customerKey``: the fan-out's, a wake's, a recovery's), handled
  by :func:`send_record`;
- **a stored message back for a retry** (``messageId``, ``shopId``, ``body``, and its ``campaignId`` and
  ``customerKey``: a campaign send that failed transiently, handed to the queue by messaging/delivery),
  handled by :func:`retry_message`.

A recipient, in this order:

1. The recipient as stored: one settled already (a redelivery, a record enqueued twice) is done — nothing
   is sent again.
2. The campaign's status, read at most once a batch per campaign (a 2-second cache the batch's
   :func:`prepare` fills): ``cancelled`` marks the recipient cancelled; ``paused`` (or anything but
   ``running``) parks it ``paused`` until a resume wakes it. A pause takes effect within the batch after it.
   A record names the generation that enqueued it: one later than the cached campaign's (a resume's) reads
   the campaign again, so what a resume wakes is not parked again by a pause two seconds old.
3. The quiet hours: inside them the recipient waits (``waiting_quiet``) until they end.
4. The send itself, through ``messaging/send.send`` like every other sender (``sentBy: campaign:<id>``, the
   message carrying ``campaignId``), in the customer's open conversation or one opened for it, with the
   recipient's message id (one per campaign and customer): a send whose message is stored already delivers
   that one, once. The outcome reaches the recipient from wherever it is learnt (messaging/delivery.py).
   The rules refuse some: ``DAILY_LIMIT_REACHED`` (the messaging tier's 24-hour unique-customer limit) parks
   the recipient until the campaign's execution sees capacity again (``waiting_tier``); the account needing
   action, or the template no longer sendable, pauses the campaign saying why and parks the recipient;
   anything else (the customer opted out meanwhile…) fails it with the rule's code.

A stored message back for a retry meets steps 2 and 3 before Meta is called again — the same cached status,
so a pause or a cancellation stops it within the same seconds as a recipient not yet sent — and is then the
sender's own retry (messaging/sender.send_record: backoff, ``RETRIES_EXHAUSTED`` on the last receive).

Parking or cancelling a recipient whose message is stored already (:func:`_park`): a message being sent
(``sending``) or ended is on its way or done, and its outcome settles the recipient. A message ``queued``
that nobody is sending is not on its way: the campaign cancelled, it is **withdrawn** — failed
``CAMPAIGN_CANCELLED`` (messages have no cancelled status; ``failed`` with the reason is what the API shows)
and its recipient settled ``cancelled``, counted once; paused or in quiet hours, the recipient is **parked
with it** (``messageQueued``) exactly as a recipient not yet sent is: the queue record is done, the resume or
the end of the quiet hours wakes the recipient, and its send delivers the stored message — once, as its
claim decides. Parking, not a record cycling through the queue's backoff, because a pause may last days (a
record would run out of its five receives, or cycle for nothing), the campaign's stats show it ``paused`` with
the others, and one mechanism wakes everything a pause held; the cancellation's sweep withdraws the message of
a recipient parked with one (campaigns/fanout.py).

A recipient whose records the queue lost, or dead-lettered, is enqueued again by the campaign's execution; one
that never gets through is given up there (:func:`abandon`): failed ``SEND_ABANDONED``, its stored message
withdrawn with the same reason, by the same rule.
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
from mkt_whatsapp.messaging import delivery, sender, standing
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

# A recipient the sender never got through, given up (campaigns/fanout.py counts its attempts).
ABANDONED = "SEND_ABANDONED"

# A campaign's status, kept two seconds per container: a batch reads each of its campaigns once, and a pause
# or a cancellation reaches every sender within these seconds.
STATUS_SECONDS = 2.0
_campaigns: TimedCache[str, Item | None] = TimedCache(seconds=STATUS_SECONDS)


def is_campaign_record(body: object) -> bool:
    """A campaign's recipient to send (``{campaignId, shopId, customerKey}``)."""
    return isinstance(body, dict) and "campaignId" in body and "customerKey" in body and "messageId" not in body


def is_campaign_message(body: object) -> bool:
    """A campaign's stored message back for a retry (``{messageId, shopId, body, campaignId, customerKey}``)."""
    return isinstance(body, dict) and "campaignId" in body and "customerKey" in body and "messageId" in body


def _campaign(campaign_id: str, generation: int | None = None) -> Item | None:
    """The campaign as this container last read it (at most STATUS_SECONDS ago) — read again if a record
    names a later ``generation`` than the one held: a resume's records never meet the pause they ended."""
    load = lambda: campaign_store.get(get_table(), campaign_id, consistent=True)  # noqa: E731
    campaign = _campaigns.get(campaign_id, load)
    if campaign is not None and generation is not None and int(campaign.get("generation", 0)) < generation:
        _campaigns.forget(campaign_id)
        campaign = _campaigns.get(campaign_id, load)
    return campaign


def _generation(body: dict[str, Any]) -> int | None:
    value = body.get("generation")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def prepare(bodies: list[dict[str, Any]]) -> None:
    """Before a batch's records are sent concurrently: read each of its campaigns once (at the latest
    generation its records name)."""
    generations: dict[str, list[int]] = {}
    for body in bodies:
        if "campaignId" in body:
            named = generations.setdefault(str(body["campaignId"]), [])
            if (generation := _generation(body)) is not None:
                named.append(generation)
    for campaign_id, named in generations.items():
        _campaign(campaign_id, max(named, default=None))


def _held(campaign: Item, now: datetime) -> tuple[str, str] | None:
    """Why the campaign sends nothing now: the state its recipients wait in and their wake time (empty:
    whenever it runs); None when it sends."""
    if campaign.get("status") == "cancelled":
        return campaign_store.CANCELLED, ""
    if campaign.get("status") != "running":
        return campaign_store.PAUSED, ""
    quiet_end = quiet_hours.window_end(campaign.get("quietHours"), now)
    if quiet_end is not None:
        return campaign_store.WAITING_QUIET, iso(quiet_end)
    return None


def send_record(body: dict[str, Any], receive_count: int, receipt_handle: str, deadline: float | None) -> str:
    """Handle one campaign record (see the module); returns what became of the recipient, or raises
    :class:`~mkt_whatsapp.messaging.sender.RetryLater` (transient: the record comes back after the backoff)."""
    campaign_id, customer_key = str(body["campaignId"]), str(body["customerKey"])
    table = get_table()
    recipient = campaign_store.get_recipient(table, campaign_id, customer_key)
    if recipient is None or recipient.get("status") in campaign_store.SETTLED:
        return "settled"
    campaign = _campaign(campaign_id, _generation(body))
    if campaign is None:
        return "missing"
    now = datetime.now(UTC)
    held = _held(campaign, now)
    if held is not None:
        state, wake_at = held
        return _park(campaign, recipient, state, wake_at=wake_at)
    try:
        return _send(campaign, recipient, deadline)
    except (TransactionConflict, conversation_store.ConversationGone, delivery.Transient) as reason:
        if receive_count >= sender.MAX_RECEIVES:
            campaign_store.settle_recipient(
                table, campaign_id, customer_key, campaign_store.FAILED, at=iso(now), reason="RETRIES_EXHAUSTED"
            )
        sender.back_off(receipt_handle, receive_count)
        raise sender.RetryLater(str(reason)) from reason


def retry_message(body: dict[str, Any], receive_count: int, receipt_handle: str, deadline: float | None) -> str:
    """Handle a campaign's stored message back for a retry (see the module): held by its campaign, its
    recipient is parked with it or, the campaign cancelled, it is withdrawn; otherwise the sender retries it.
    Returns what became of it, or raises :class:`~mkt_whatsapp.messaging.sender.RetryLater`."""
    campaign = _campaign(str(body["campaignId"]))
    held = None if campaign is None else _held(campaign, datetime.now(UTC))
    if campaign is None or held is None:
        return sender.send_record(body, receive_count, receipt_handle, deadline)
    recipient = campaign_store.get_recipient(get_table(), str(body["campaignId"]), str(body["customerKey"]))
    if recipient is None or recipient.get("status") in campaign_store.SETTLED:
        return "settled"
    state, wake_at = held
    return _park(campaign, recipient, state, wake_at=wake_at)


def cancel(campaign: Item, recipient: Item) -> str:
    """Cancel a recipient of a cancelled campaign, withdrawing its message if it is stored and not on its way.
    Returns what became of it: ``cancelled``, ``withdrawn``, ``settled`` (its message had ended) or
    ``in_flight``."""
    return _park(campaign, recipient, campaign_store.CANCELLED)


def abandon(campaign: Item, recipient: Item) -> str:
    """Give up a queued recipient the sender never got through (its records failed every time, or were lost
    every time): failed ``SEND_ABANDONED``, its message withdrawn with the same reason if it is stored and
    nobody is sending it — so it is never sent later. Returns what became of it (as :func:`cancel`)."""
    table = get_table()
    message = message_store.get(table, str(recipient["messageId"]))
    if message is not None:
        return _withdraw(message, ABANDONED, "The sender failed on this campaign message every time it tried")
    campaign_store.move_recipients(
        table,
        str(campaign["campaignId"]),
        [recipient],
        campaign_store.FAILED,
        at=iso(datetime.now(UTC)),
        reason=ABANDONED,
    )
    return campaign_store.FAILED


def _park(campaign: Item, recipient: Item, state: str, *, wake_at: str = "") -> str:
    """Park (or cancel) a recipient the campaign does not send to now, unless its message is on its way
    (see the module). Returns the recipient's state, or what became of its message (as :func:`cancel`)."""
    table = get_table()
    message = message_store.get(table, str(recipient["messageId"]))
    if message is not None and state == campaign_store.CANCELLED:
        return _withdraw(
            message, delivery.CAMPAIGN_CANCELLED, "The campaign was cancelled before this message was sent"
        )
    if message is not None and message.get("status") != "queued":
        delivery.settle_campaign_recipient(message)  # sent or failed already; else being sent, settled later
        return "in_flight"
    # A woken recipient parked again gets its new wake time (a paused one: whenever the campaign runs).
    campaign_store.move_recipients(
        table,
        str(campaign["campaignId"]),
        [recipient],
        state,
        at=iso(datetime.now(UTC)),
        wake_at=wake_at,
        message_queued=message is not None,
    )
    return state


def _withdraw(message: Item, code: str, title: str) -> str:
    """Withdraw a campaign's stored message (delivery.withdraw: its recipient settled with it), unless it has
    ended (its recipient is settled from it) or an attempt is sending it right now (which settles it)."""
    if message.get("status") not in ("queued", "sending"):
        delivery.settle_campaign_recipient(message)
        return "settled"
    withdrawn = delivery.withdraw(str(message["id"]), {"code": code, "title": title})
    return "in_flight" if withdrawn is None else "withdrawn"


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
