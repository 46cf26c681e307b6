"""Sending a message in a conversation: the rules before sending, storing first, then the Graph API.

The same function serves every sender: an agent's request, a flow step, an AI reply, a campaign. The
caller passes the shop, the conversation it has read, who acts (``sentBy``: an agent id, ``flow:<id>``,
``ai:<id>``, ``campaign:<id>``, ``system``) and when its invocation ends.

Rules (422, nothing sent, nothing stored):
- ``ACCOUNT_ACTION_REQUIRED``: Meta refused an earlier send for an account-level reason (190, 0, 131031,
  368, 131042); the shop's sends stop until it reconnects.
- ``ACCOUNT_DISCONNECTED``: the shop has no connected account.
- ``UNKNOWN_TEMPLATE``, ``TEMPLATE_NOT_APPROVED``, ``TEMPLATE_PARAMETERS_MISMATCH``: a template is sent by
  the name and language of one of the shop's templates (store/templates.py, kept from Meta by a sync and
  Meta's template webhooks) whose status is ``APPROVED``, with as many parameters as each of its
  components takes (whatsapp/templates.check_parameters); the field names the template, or the component
  to blame (``content.template.components[0]``). Meta would refuse any of them only after the message was
  stored and counted against the daily limit.
- ``CONVERSATION_CLOSED``: only a template may be sent on a closed conversation.
- ``OUTSIDE_CUSTOMER_SERVICE_WINDOW``: 24 h after the customer's last message only templates may be sent.
- ``CUSTOMER_OPTED_OUT``: no ``marketing`` template to a customer who opted out. A template's category is
  Meta's, as stored with the template (Meta decides it, and may change it: ``template_category_update``);
  when Meta has not said, the request's ``template.category``; a template with neither is treated as
  marketing (the strictest reading) so it cannot slip past a customer's opt-out.
- ``DAILY_LIMIT_REACHED``: a template outside the window starts a business-initiated conversation;
  WhatsApp counts the unique customers reached that way in a moving 24 hours against the portfolio's
  messaging limit. A customer counts once per 24 hours from their first such message; usage is kept in
  hourly buckets and ``messagesUsedToday`` is the sum of the last 24 of them.

Path: the message is stored ``queued`` with the conversation's count in one transaction, then sent within
the caller's invocation. Meta's acceptance makes it ``sent`` with its wamid; a permanent refusal makes it ``failed``
with Meta's code and title (the answer then says so); a transient failure (network, 5xx, throughput
limits) leaves it ``queued`` on the outbound queue for the sender, and the answer is 202.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from mkt_whatsapp.core import idempotency
from mkt_whatsapp.core.clock import iso, now_iso, parse_iso
from mkt_whatsapp.core.errors import BusinessRuleViolation, NotFound
from mkt_whatsapp.messaging import delivery, standing
from mkt_whatsapp.models.accounts import AccountRecord
from mkt_whatsapp.store import accounts as account_store
from mkt_whatsapp.store import conversations as conversation_store
from mkt_whatsapp.store import customers as customer_store
from mkt_whatsapp.store import get_table
from mkt_whatsapp.store import messages as message_store
from mkt_whatsapp.store import templates as template_store
from mkt_whatsapp.store.table import Item, Table, TransactionConflict, Write
from mkt_whatsapp.whatsapp import templates
from mkt_whatsapp.whatsapp.outbound_content import (
    SendMessageRequest,
    TemplateContent,
    is_template,
    template_category,
    to_graph_body,
)

DAY = timedelta(hours=24)
WAIT_ATTEMPTS = 5
_JITTER = random.SystemRandom()


def _rule(message: str, code: str, field: str | None = None) -> BusinessRuleViolation:
    return BusinessRuleViolation(message, code=code, field=field)


def send(
    shop_id: str,
    conversation: Item,
    request: SendMessageRequest,
    *,
    actor: str,
    deadline: float | None,
    annotations: Mapping[str, Any] | None = None,
    message_id: str | None = None,
) -> tuple[int, dict[str, Any]]:
    """Send ``request`` in ``conversation`` (as read) of ``shop_id`` on behalf of ``actor``; the send ends
    before ``deadline`` (epoch seconds; None: no limit) or is left to the sender. Returns the status to
    answer (201 sent or failed, 202 queued, 200 already settled) and the message's state. ``annotations``
    are stored with the message (an AI reply's ``ai``: agent, model, tokens, cost, latency; a campaign's
    ``campaignId``). ``message_id``: the caller's id for the message (a campaign's: one per customer); a
    send whose message is stored already delivers that one (once: delivery.attempt) and stores nothing."""
    if conversation.get("shopId") != shop_id:
        raise NotFound("Conversation not found", code="CONVERSATION_NOT_FOUND", field="conversationId")
    conversation_id = str(conversation["id"])
    table = get_table()
    try:
        account = standing.sendable(account_store.get_account(table, shop_id))
    except standing.CannotSend as cannot:
        raise _rule(cannot.reason, cannot.code) from None
    own_id = message_id is not None
    if message_id is not None and message_store.get(table, message_id) is not None:
        return _deliver_stored(account, message_id, request, conversation, deadline)
    now = now_iso()
    template = is_template(request.content)
    stored_template = _sendable_template(table, shop_id, request.content) if template else None
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
    customer_key = str(conversation["customerKey"])
    customer = customer_store.get(table, shop_id, customer_key) or {}
    metas_category = str((stored_template or {}).get("category") or "").lower() or None
    category = metas_category or template_category(request.content) or ("marketing" if template else None)
    if category == "marketing" and (customer.get("consent") or {}).get("status") == "opted_out":
        raise _rule("The customer opted out of marketing messages", "CUSTOMER_OPTED_OUT", "content.template")

    message_id = message_id or str(uuid.uuid4())
    business_initiated = template and (outside_window or closed)
    message = message_store.new_message_op(
        table,
        {
            "id": message_id,
            "shopId": shop_id,
            "conversationId": conversation_id,
            "customerKey": customer_key,
            "direction": "outbound",
            "content": request.content.to_wire(),
            "replyTo": request.reply_to,
            "status": "queued",
            "statusRank": message_store.STATUS_RANK["queued"],
            "statusTimestamps": {"queued": now},
            "timestamp": now,
            "sentBy": actor,
            "businessInitiated": business_initiated,
            **(annotations or {}),
        },
    )
    count_writes = _count_business_initiated(account, shop_id, customer_key, now) if business_initiated else []
    responder = conversation_store.responder_of(actor)
    awaiting = conversation.get("awaitingSince")
    for attempt in range(WAIT_ATTEMPTS):
        message_writes = [
            message,
            conversation_store.outbound_message_op(
                table,
                conversation_id,
                now,
                responder=responder,
                awaiting_since=str(awaiting) if awaiting else None,
            ),
        ]
        try:
            try:
                table.transact_write([*message_writes, *count_writes])
            except account_store.AlreadyCounted:
                # The customer's 24-hour period started meanwhile: they are already counted.
                table.transact_write(message_writes)
            except account_store.LimitReached:
                raise _limit_reached(account) from None
            break
        except TransactionConflict:
            # Another send counted a customer in the same hour's bucket at that moment: nothing was stored.
            if attempt == WAIT_ATTEMPTS - 1:
                raise
            time.sleep(_JITTER.uniform(0.01, 0.05) * (attempt + 1))
        except conversation_store.WaitChanged:
            # A customer's message opened a wait, or another answer ended it, since the conversation was
            # read: read it again (the message is not stored yet) and retry.
            fresh = conversation_store.get(table, conversation_id)
            if fresh is None or attempt == WAIT_ATTEMPTS - 1:
                raise conversation_store.ConversationGone("condition failed: ConversationGone") from None
            awaiting = fresh.get("awaitingSince")
        except message_store.MessageExists:
            if not own_id:
                raise
            # The caller's message was stored meanwhile (a concurrent attempt): deliver that one.
            return _deliver_stored(account, message_id, request, conversation, deadline)

    return delivery.deliver(account, message_id, _graph_body(request, customer, conversation), deadline=deadline)


def _graph_body(request: SendMessageRequest, customer: Item, conversation: Item) -> dict[str, Any]:
    recipient = customer.get("waId") or customer.get("bsuid") or conversation.get("customerWaId")
    return to_graph_body(request.content, str(recipient), reply_to=request.reply_to)


def _deliver_stored(
    account: AccountRecord, message_id: str, request: SendMessageRequest, conversation: Item, deadline: float | None
) -> tuple[int, dict[str, Any]]:
    """A message stored by an earlier attempt of the same send: delivered if it is still queued (a sent or
    failed one answers as it is)."""
    customer = customer_store.get(get_table(), str(conversation["shopId"]), str(conversation["customerKey"])) or {}
    return delivery.deliver(account, message_id, _graph_body(request, customer, conversation), deadline=deadline)


def _sendable_template(table: Table, shop_id: str, content: object) -> Item:
    """The shop's stored template the content names, if it may be sent with these parameters; otherwise
    the rule it breaks (see the module's docstring)."""
    if not isinstance(content, TemplateContent):
        raise TypeError("not a template")
    template = content.template
    return sendable_template(table, shop_id, template.name, template.language, template.components)


def sendable_template(
    table: Table,
    shop_id: str,
    name: str,
    language: str,
    components: list[Any],
    *,
    field: str = "content.template",
) -> Item:
    """The shop's stored template ``name`` in ``language``, if Meta approved it and ``components`` give each
    of its components as many parameters as it has variables; 422 naming ``field``'s part otherwise
    (``UNKNOWN_TEMPLATE``, ``TEMPLATE_NOT_APPROVED``, ``TEMPLATE_PARAMETERS_MISMATCH``). One rule for a
    message's send and a campaign's launch (``field`` ``template``: the campaign's own)."""
    stored = template_store.get(table, shop_id, name, language)
    if stored is None:
        raise _rule(
            f"The shop has no template {name} in {language}: POST /templates/sync reads its templates from Meta",
            "UNKNOWN_TEMPLATE",
            f"{field}.name",
        )
    status = stored.get("status")
    if status != templates.APPROVED:
        raise _rule(
            f"The template {name} ({language}) is {status or 'not approved'} at Meta: only an approved template "
            "can be sent",
            "TEMPLATE_NOT_APPROVED",
            f"{field}.name",
        )
    if "components" in stored:  # a template only a webhook has named yet: Meta checks its parameters
        try:
            templates.check_parameters(components, stored["components"], stored.get("parameterFormat"))
        except templates.ParameterMismatch as mismatch:
            place = "" if mismatch.position is None else f"[{mismatch.position}]"
            raise _rule(
                f"The template {name} ({language}) does not take these parameters: {mismatch.message}",
                "TEMPLATE_PARAMETERS_MISMATCH",
                f"{field}.components{place}",
            ) from None
    return stored


def send_once(
    shop_id: str,
    conversation: Item,
    request: SendMessageRequest,
    idempotency_key: str,
    *,
    actor: str,
    deadline: float | None,
    annotations: Mapping[str, Any] | None = None,
) -> tuple[int, dict[str, Any]]:
    """``send`` behind an ``Idempotency-Key``: a retried request (same key, same conversation) gets the
    first answer for 24 hours instead of a second send (core/idempotency.py). The same key with a different
    body is refused."""

    def first() -> dict[str, Any]:
        status, data = send(shop_id, conversation, request, actor=actor, deadline=deadline, annotations=annotations)
        return {"status": status, "data": data}

    result = idempotency.once(
        "send-message", str(conversation["id"]), idempotency_key, request.to_wire(), first, deadline=deadline
    )
    return int(result["status"]), dict(result["data"])


def _limit_reached(account: AccountRecord) -> BusinessRuleViolation:
    return _rule(
        f"The account reached its messaging limit of {account.daily_limit} customers in 24 hours",
        "DAILY_LIMIT_REACHED",
    )


def _count_business_initiated(account: AccountRecord, shop_id: str, customer_key: str, now: str) -> list[Write]:
    table = get_table()
    started = account_store.business_period_started(table, shop_id, customer_key)
    day_ago = iso(parse_iso(now) - DAY)
    if started and started > day_ago:
        return []  # already counted in this moving 24 hours
    _, used, this_hour = account_store.account_and_usage_by_hour(table, shop_id, parse_iso(now))
    limit = account.daily_limit
    if limit is not None and used >= limit:
        raise _limit_reached(account)
    expires = int(parse_iso(now).timestamp() + 2 * DAY.total_seconds())
    ceiling = None if limit is None else limit - (used - this_hour)
    return account_store.business_initiated_ops(table, shop_id, customer_key, now, day_ago, expires, ceiling=ceiling)
