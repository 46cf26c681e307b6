"""Inbound processing: one webhook change (``entry[].changes[].value``) becomes customers, conversations
and messages — exactly once, however often Meta delivers it. A queue message carries several changes
(or pieces of a huge one); a change that fails is queued again on its own, without redoing or losing the
others (:func:`process_queue_message`; :mod:`mkt_whatsapp.inbound.packing` has the whole argument).

A newly stored message is then offered to the automation dispatcher (``inbound.dispatcher``), once.

Exactly once by conditional writes, not Powertools' idempotency utility: each inbound message is stored
in one DynamoDB transaction with its conversation and customer updates, and the message's put is
conditional on its id (derived from the wamid) not existing. A redelivery, in parallel or days later,
cancels on that condition and changes nothing; a crash leaves nothing half-applied. An idempotency
record would add two writes per message and still not make the three updates atomic. Concurrent
messages of one customer are serialised by the customer's ``version`` (optimistic locking, retried).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from mkt_whatsapp.core import queues, text
from mkt_whatsapp.core.clock import iso, meta_time, now_iso, parse_iso
from mkt_whatsapp.core.errors import ConfigurationError
from mkt_whatsapp.core.retry import optimistically
from mkt_whatsapp.core.settings import get_settings
from mkt_whatsapp.inbound import dispatcher, overflow, packing, template_events
from mkt_whatsapp.inbound.dispatcher import StoredInbound
from mkt_whatsapp.messaging import consent, waits
from mkt_whatsapp.models.accounts import WABA_ID_PATTERN
from mkt_whatsapp.store import accounts as account_store
from mkt_whatsapp.store import conversations as conversation_store
from mkt_whatsapp.store import customers as customer_store
from mkt_whatsapp.store import get_table
from mkt_whatsapp.store import messages as message_store
from mkt_whatsapp.store.phone_numbers import PhoneClaim, phone_claim
from mkt_whatsapp.store.table import ConditionFailed, Item, TransactionConflict, Write
from mkt_whatsapp.whatsapp.inbound_content import bounded, content_of, meta_errors, referral_of, reply_context
from mkt_whatsapp.whatsapp.templates import TEMPLATE_FIELDS
from mkt_whatsapp.whatsapp.webhook_models import ChangeValue, InboundMessage, Status

logger = Logger(child=True)

CUSTOMER_SERVICE_WINDOW = timedelta(hours=24)
OPT_OUT_KEYWORDS = frozenset({"stop", "unsubscribe", "huy", "dung"})
OPT_IN_KEYWORDS = frozenset({"start"})
MAX_ATTEMPTS = 8
# A sender's ids as Meta writes them: a phone number's digits (``wa_id``, E.164 without the +), and a
# business-scoped user id: a two-letter country code, a period and up to 128 letters and digits
# (``VN.1349870655223189``; a parent BSUID adds ``ENT.``: ``US.ENT.1181579921``).
PHONE_NUMBER = re.compile(r"[0-9]{5,20}", re.ASCII)
BUSINESS_SCOPED_USER_ID = re.compile(r"[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}", re.ASCII)
# A WhatsApp Business Account's id, as entry[].id carries it and POST /accounts takes it.
WABA_ID = re.compile(WABA_ID_PATTERN, re.ASCII)
_MESSAGE_ID_NAMESPACE = uuid.UUID("6f1c1a52-7d0e-4b8e-9a55-0c2f4b3c9e11")


class UnattributableMessage(Exception):
    """A message with neither a phone number nor a business-scoped user id, or with one in no shape Meta
    uses: it cannot be filed under a customer, so it is failed loudly (and reaches the dead-letter queue)
    instead of being dropped or stored under a made-up customer."""


class ConcurrentUpdateError(Exception):
    """A customer kept changing under us for every attempt; the delivery is retried later."""


def inbound_message_id(shop_id: str, whatsapp_message_id: str) -> str:
    """The id of an inbound message: the same wamid always gives the same id (that is the dedupe key)."""
    return str(uuid.uuid5(_MESSAGE_ID_NAMESPACE, f"{shop_id}:{whatsapp_message_id}"))


def consent_keyword(content: Mapping[str, Any]) -> str | None:
    """``opted_out``/``opted_in`` when a text message is exactly an opt-out/opt-in keyword."""
    if content.get("type") != "text":
        return None
    word = text.fold(str(content.get("text", ""))).strip(" .!?")
    if word in OPT_OUT_KEYWORDS:
        return "opted_out"
    if word in OPT_IN_KEYWORDS:
        return "opted_in"
    return None


def process_queue_message(body: Any) -> dict[str, int]:
    """Apply every unit of an inbound queue message (JSON-decoded ``body``) and return the summed counts.

    A message whose units all fail raises as it is (no unit of it went through): the queue retries it
    whole, then dead-letters it. In a message of several, a unit that fails while others succeed is logged and queued
    again as a message of its own, and the others stand: none is redone, none is lost. If queueing it
    again fails, that error is raised and the whole message is retried (applying the other units again
    changes nothing)."""
    units = packing.unpack(body)
    totals = {"messages": 0, "statuses": 0, "templates": 0}
    failures: list[tuple[dict[str, Any], Exception]] = []
    for unit in units:
        try:
            outcome = process_change(overflow.load(unit))
        # Any failure (a conflict, a throttled call, a sender in no shape Meta uses…) is that unit's alone.
        except Exception as error:  # noqa: BLE001 - raised below, or queued again and logged with its traceback
            failures.append((unit, error))
            continue
        for name, count in outcome.items():
            totals[name] = totals.get(name, 0) + count
    if not failures:
        return totals
    if len(units) > 1:
        for unit, failure in failures:
            logger.warning(
                "change failed",
                extra={"entryId": unit.get("entryId"), "error": f"{type(failure).__name__}: {failure}"},
                exc_info=failure,
            )
    if len(failures) == len(units):
        raise failures[0][1]
    queue_url = get_settings().inbound_queue_url
    if not queue_url:
        raise ConfigurationError("INBOUND_QUEUE_URL is not configured")
    queues.send_all(queue_url, [packing.alone(unit) for unit, _ in failures])
    logger.warning("failed changes queued again, each on its own", extra={"changes": len(failures)})
    return totals


def process_change(unit: Mapping[str, Any]) -> dict[str, int]:
    """Apply one change: its messages and statuses, or a template's change (inbound/template_events.py).
    Returns counts for logs and tests."""
    if unit.get("field") in TEMPLATE_FIELDS:
        return {"messages": 0, "statuses": 0, "templates": template_events.apply_change(unit)}
    try:
        value = ChangeValue.model_validate(unit.get("value"))
    except ValidationError as error:
        logger.warning("change is not a WhatsApp messages value; skipped", extra={"errors": error.error_count()})
        return {"messages": 0, "statuses": 0}
    table = get_table()
    claim = phone_claim(table, value.metadata.phone_number_id)
    if claim is None:
        logger.info(
            "change for a phone number no connected account owns; skipped",
            extra={"phoneNumberId": value.metadata.phone_number_id},
        )
        return {"messages": 0, "statuses": 0}
    learn_business_account(claim, unit.get("entryId"))
    stored = 0
    for message in value.messages:
        received = receive_message(claim.shop_id, value, message)
        if received is not None:
            stored += received.newly_stored
            offer_to_automation(received.message)
    applied = sum(apply_status(claim.shop_id, status) for status in value.statuses)
    for reported in value.errors:
        logger.warning(
            "Meta reported an error on the phone number",
            extra={"shopId": claim.shop_id, "metaError": reported.model_dump(exclude_none=True)},
        )
    return {"messages": stored, "statuses": applied}


def learn_business_account(claim: PhoneClaim, entry_id: object) -> None:
    """A messages change names its number's WhatsApp Business Account (``entry[].id``): an account that
    does not know its own learns it here, once (the claim says whether it knows it, so this costs nothing
    after the first change), so that Meta's template webhooks, which name only that account, reach the
    shop (docs/campaigns.md)."""
    if not isinstance(entry_id, str) or not WABA_ID.fullmatch(entry_id):
        return
    if claim.waba_id is not None:
        if claim.waba_id != entry_id:
            logger.warning(
                "a webhook names another WhatsApp Business Account than the shop's",
                extra={"shopId": claim.shop_id, "wabaId": claim.waba_id, "entryId": entry_id},
            )
        return
    try:
        account_store.learn_waba_id(get_table(), claim.shop_id, claim.account_id, claim.phone_number_id, entry_id)
    except (account_store.WabaIdKnown, TransactionConflict):
        return  # another change (or a reconnect) got there first: the account has one
    logger.info("learnt the shop's WhatsApp Business Account", extra={"shopId": claim.shop_id, "wabaId": entry_id})


@dataclass(frozen=True, slots=True)
class Received:
    message: StoredInbound
    newly_stored: bool


def receive_message(shop_id: str, value: ChangeValue, message: InboundMessage) -> Received | None:
    """Store one inbound message with its customer and conversation. None for a redelivery of a message
    whose automation is settled; a redelivery whose dispatch never finished is returned again."""
    contact = value.contact_for(message)
    sender = Sender(
        phone=message.sender_phone or (contact.wa_id if contact else None) or None,
        bsuid=message.from_user_id or (contact.user_id if contact else None) or None,
        name=(contact.profile.name if contact else None) or None,
        username=(contact.profile.username if contact else None) or None,
    )
    if not sender.phone and not sender.bsuid:
        raise UnattributableMessage(f"message {message.id} names no sender")
    if (sender.phone and not PHONE_NUMBER.fullmatch(sender.phone)) or (
        sender.bsuid and not BUSINESS_SCOPED_USER_ID.fullmatch(sender.bsuid)
    ):
        # Not Meta's shape of either id: refused loudly (to the dead-letter queue), never a customer.
        raise UnattributableMessage(f"message {message.id} names its sender in no shape Meta uses")
    table = get_table()

    def attempt() -> Received | None:
        customer = customer_store.find(table, shop_id, [sender.bsuid or "", sender.phone or ""])
        plan = InboundPlan(shop_id, sender, message, customer)
        try:
            table.transact_write(plan.operations(table))
        except message_store.MessageExists:
            logger.debug("duplicate delivery of a message", extra={"wamid": message.id})
            return _pending_redelivery(plan.message_id)
        return Received(plan.stored(), newly_stored=True)

    # The customer or conversation moved under us (another message of theirs): read again.
    return optimistically(
        attempt,
        attempts=MAX_ATTEMPTS,
        retry_on=(ConditionFailed, TransactionConflict),
        exhausted=lambda: ConcurrentUpdateError(f"customer of message {message.id} kept changing"),
    )


def _pending_redelivery(message_id: str) -> Received | None:
    """A redelivered message whose automation dispatch never finished, to offer it again; else None."""
    if not dispatcher.has_responders():
        return None
    stored = message_store.get(get_table(), message_id)
    if stored is None or stored.get("automation") != dispatcher.PENDING:
        return None
    return Received(stored_inbound(stored), newly_stored=False)


def stored_inbound(
    item: Item, *, new_customer: bool | None = None, new_conversation: bool | None = None
) -> StoredInbound:
    return StoredInbound(
        shop_id=str(item["shopId"]),
        message_id=str(item["id"]),
        whatsapp_message_id=str(item["whatsAppMessageId"]),
        conversation_id=str(item["conversationId"]),
        customer_key=str(item["customerKey"]),
        content=item.get("content") or {},
        new_customer=bool(item.get("newCustomer")) if new_customer is None else new_customer,
        new_conversation=bool(item.get("newConversation")) if new_conversation is None else new_conversation,
        referral=item.get("referral"),
    )


def offer_to_automation(message: StoredInbound) -> None:
    """Offer a stored message to the dispatcher and record who answered it (nothing to do without
    responders). The outcome is written only over ``pending``: a concurrent retry records it once."""
    if not dispatcher.has_responders():
        return
    outcome = dispatcher.dispatch(message)
    message_store.settle_automation(get_table(), message.message_id, outcome)
    logger.debug("inbound message dispatched", extra={"messageId": message.message_id, "answeredBy": outcome})


class Sender:
    def __init__(self, phone: str | None, bsuid: str | None, name: str | None, username: str | None) -> None:
        self.phone = phone
        self.bsuid = bsuid
        self.name = name
        self.username = username

    @property
    def identifiers(self) -> list[str]:
        return [identifier for identifier in (self.bsuid, self.phone) if identifier]


class InboundPlan:
    """The writes one inbound message makes, given the customer as it is now."""

    def __init__(self, shop_id: str, sender: Sender, message: InboundMessage, customer: Item | None) -> None:
        self.shop_id = shop_id
        self.sender = sender
        self.message = message
        self.customer = customer
        self.at = meta_time(message.timestamp)
        self.content = bounded(content_of(message))
        self.consent = consent_keyword(self.content)
        self.message_id = inbound_message_id(shop_id, message.id)
        self._campaign_replied = self._replies_to_campaign()

    def operations(self, table: Any) -> list[Write]:
        at = iso(self.at)
        customer_key = self._customer_key()
        active = (self.customer or {}).get("activeConversation")
        joins = isinstance(active, dict) and bool(active.get("id"))
        conversation_id = str(active["id"]) if joins else str(uuid.uuid4())  # type: ignore[index]
        self._message = self._message_item(conversation_id, customer_key, new_conversation=not joins)
        self._new_conversation = not joins
        last_message_at = max(str(active.get("lastMessageAt", at)), at) if joins else at  # type: ignore[union-attr]
        last_inbound_at = max(str(active.get("lastInboundAt", at)), at) if joins else at  # type: ignore[union-attr]
        window_expires_at = iso(parse_iso(last_inbound_at) + CUSTOMER_SERVICE_WINDOW)
        summary = {
            "id": conversation_id,
            "lastMessageAt": last_message_at,
            "lastInboundAt": last_inbound_at,
            "windowExpiresAt": window_expires_at,
        }

        operations = [message_store.new_message_op(table, self._message)]
        if joins:
            operations.append(
                conversation_store.inbound_message_op(
                    table,
                    conversation_id,
                    last_message_at=last_message_at,
                    last_inbound_at=last_inbound_at,
                    window_expires_at=window_expires_at,
                    customer_name=self.sender.name,
                    awaiting_since=at if self._asks_for_answer() else None,
                )
            )
        else:
            operations.append(
                conversation_store.new_conversation_op(
                    table,
                    {
                        "id": conversation_id,
                        "shopId": self.shop_id,
                        "customerKey": customer_key,
                        "customerWaId": self.sender.phone or self.sender.bsuid,
                        "customerName": self.sender.name,
                        "status": conversation_store.OPEN,
                        "createdAt": at,
                        "lastMessageAt": at,
                        "lastInboundAt": at,
                        "windowExpiresAt": window_expires_at,
                        "messageCount": 1,
                        "tags": ["new-customer"] if self.customer is None else [],
                        **({"awaitingSince": at} if self._asks_for_answer() else {}),
                    },
                )
            )
        operations.extend(self._customer_operations(table, customer_key, summary, new_conversation=not joins))
        if self.consent:
            operations.append(
                customer_store.consent_event_op(
                    table, self.shop_id, customer_key, self._consent_record(), reference=self.message_id
                )
            )
        return operations

    def _replies_to_campaign(self) -> bool:
        """Whether this is the customer's first message within the reply window of their latest delivered
        campaign message (``lastCampaign``: analytics/campaigns.py counts the reply). WhatsApp's own
        notices and reactions are not replies."""
        last = (self.customer or {}).get("lastCampaign")
        if not isinstance(last, dict) or last.get("replied") or not last.get("deliveredAt"):
            return False
        if self.content["type"] in ("reaction", "system"):
            return False
        delivered = parse_iso(str(last["deliveredAt"]))
        return delivered <= self.at <= delivered + timedelta(hours=customer_store.CAMPAIGN_REPLY_WINDOW_HOURS)

    def _asks_for_answer(self) -> bool:
        """Whether the message opens a wait for the shop's answer (docs/analytics.md, "Conversations"):
        every customer message but a reaction and WhatsApp's own notices (``system``)."""
        return self.content["type"] not in ("reaction", "system")

    def _changed_number(self) -> str | None:
        """The customer's new phone number, from a ``user_changed_number`` system message."""
        system = self.content.get("system") if self.content["type"] == "system" else None
        if isinstance(system, dict) and system.get("type") == "user_changed_number" and system.get("waId"):
            return str(system["waId"])
        return None

    def _customer_key(self) -> str:
        if self.customer is not None:
            return customer_store.key_of(self.customer)
        return self.sender.identifiers[0]

    def _consent_record(self) -> dict[str, Any]:
        return {
            "status": self.consent,
            "timestamp": iso(self.at),
            "source": "whatsapp",
            "whatsAppMessageId": self.message.id,
        }

    def stored(self) -> StoredInbound:
        """The message as :meth:`operations` stored it."""
        return stored_inbound(
            self._message, new_customer=self.customer is None, new_conversation=self._new_conversation
        )

    def _message_item(self, conversation_id: str, customer_key: str, new_conversation: bool) -> dict[str, Any]:
        item = {
            "id": self.message_id,
            "shopId": self.shop_id,
            "conversationId": conversation_id,
            "customerKey": customer_key,
            "direction": "inbound",
            "whatsAppMessageId": self.message.id,
            "content": self.content,
            "status": "received",
            "statusRank": message_store.RECEIVED_RANK,
            "timestamp": iso(self.at),
            "receivedAt": now_iso(),
            "context": reply_context(self.message),
            "referral": referral_of(self.message),
            "errors": meta_errors(self.message.errors) or None,
        }
        if self._campaign_replied:
            item["campaignReply"] = str(self.customer["lastCampaign"]["id"])  # type: ignore[index]
        if dispatcher.has_responders():  # what a redelivery needs to dispatch it again
            item.update(
                automation=dispatcher.PENDING, newCustomer=self.customer is None, newConversation=new_conversation
            )
        return item

    def _customer_operations(
        self, table: Any, customer_key: str, summary: dict[str, str], new_conversation: bool
    ) -> list[Write]:
        at = iso(self.at)
        sender = self.sender
        if self.customer is None:
            item: dict[str, Any] = {
                "customerKey": customer_key,
                "id": str(uuid.uuid4()),
                "shopId": self.shop_id,
                "waId": sender.phone,
                "bsuid": sender.bsuid,
                "username": sender.username,
                "name": sender.name,
                "searchName": text.fold(sender.name or ""),
                "phoneDigits": text.digits(sender.phone or ""),
                "tags": [],
                "customFields": {},
                "consent": self._consent_record() if self.consent else {"status": "unknown"},
                "createdAt": at,
                "lastContactedAt": at,
                "lastInboundAt": at,
                "conversationCount": 1,
                "activeConversation": summary,
                "version": 1,
            }
            if self.content["type"] == "order":
                item["lastPurchaseDate"] = at[:10]
            operations = [customer_store.new_customer_op(table, self.shop_id, item)]
            operations += [
                customer_store.identity_op(table, self.shop_id, identifier, customer_key)
                for identifier in sender.identifiers
            ]
            return operations

        customer = self.customer
        sets: dict[str, Any] = {
            "lastContactedAt": max(str(customer.get("lastContactedAt", at)), at),
            "lastInboundAt": max(str(customer.get("lastInboundAt", at)), at),
            "activeConversation": summary,
        }
        if sender.name and sender.name != customer.get("name"):
            sets.update(name=sender.name, searchName=text.fold(sender.name))
        if sender.username and sender.username != customer.get("username"):
            sets["username"] = sender.username
        new_identifiers = []
        if sender.phone and sender.phone != customer.get("waId"):
            sets.update(waId=sender.phone, phoneDigits=text.digits(sender.phone))
            new_identifiers.append(sender.phone)
        if sender.bsuid and sender.bsuid != customer.get("bsuid"):
            sets["bsuid"] = sender.bsuid
            new_identifiers.append(sender.bsuid)
        changed_to = self._changed_number()
        if changed_to and changed_to != sets.get("waId", customer.get("waId")):
            sets.update(waId=changed_to, phoneDigits=text.digits(changed_to))
            new_identifiers.append(changed_to)
        if self.consent:
            sets["consent"] = self._consent_record()
        if self.content["type"] == "order":
            sets["lastPurchaseDate"] = max(str(customer.get("lastPurchaseDate", "")), at[:10])
        if self._campaign_replied:
            sets["lastCampaign"] = {**customer["lastCampaign"], "replied": True}
        operations = [
            customer_store.update_customer_op(
                table,
                self.shop_id,
                customer_key,
                int(customer.get("version", 0)),
                sets,
                adds={"conversationCount": 1} if new_conversation else None,
            )
        ]
        operations += [
            customer_store.identity_op(table, self.shop_id, identifier, customer_key) for identifier in new_identifiers
        ]
        return operations


def apply_status(shop_id: str, status: Status) -> bool:
    """Move the outbound message a status names forward; unknown wamids and backward moves change nothing."""
    table = get_table()
    if status.status not in message_store.STATUS_RANK or status.status == "queued":
        logger.warning("unknown status ignored", extra={"status": status.status, "wamid": status.id})
        return False
    pointer = message_store.message_for_wamid(table, status.id)
    if pointer is None or pointer.get("shopId") != shop_id:
        logger.info("status for an unknown message ignored", extra={"wamid": status.id, "status": status.status})
        return False
    details: dict[str, Any] = {}
    if status.errors:
        details["errors"] = meta_errors(status.errors)
    if status.pricing:
        details["pricing"] = {_camel(k): v for k, v in status.pricing.items()}
    if status.conversation:
        details["metaConversation"] = {
            "id": status.conversation.get("id"),
            "originType": (status.conversation.get("origin") or {}).get("type"),
            "expiresAt": iso(meta_time(status.conversation["expiration_timestamp"]))
            if status.conversation.get("expiration_timestamp")
            else None,
        }
    applied = message_store.apply_status(
        table, str(pointer["messageId"]), shop_id, status.status, iso(meta_time(status.timestamp)), details
    )
    if applied and applied.get("campaignId") and status.status in ("delivered", "read"):
        _note_campaign_delivery(shop_id, applied, iso(meta_time(status.timestamp)))
    if applied and applied.get("status") == "failed":
        if applied.get("customerKey") and any(error.code == consent.USER_STOPPED_MARKETING for error in status.errors):
            consent.record_meta_opt_out(shop_id, str(applied["customerKey"]))
        if applied.get("flow"):
            waits.message_failed(applied)  # a flow's question: the flow takes its onDeliveryFailed
    return applied is not None


def _note_campaign_delivery(shop_id: str, message: Item, at: str) -> None:
    """A campaign message reached the customer: their next message within the reply window is a reply to
    it (analytics/campaigns.py). A ``read`` notes it only if its ``delivered`` never came."""
    stamps = message.get("statusTimestamps") or {}
    if message.get("status") == "read" and stamps.get("delivered"):
        return
    if message.get("customerKey"):
        customer_store.note_campaign_delivery(
            get_table(), shop_id, str(message["customerKey"]), str(message["campaignId"]), at
        )


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)
