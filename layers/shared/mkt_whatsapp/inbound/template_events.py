"""Meta's template webhooks, applied to the shops' stored templates: exactly once, in Meta's order.

Three ``entry[].changes[].field`` values change a template (whatsapp/templates.py):

- ``message_template_status_update``: ``event`` (``APPROVED``, ``REJECTED``, ``PAUSED``, ``DISABLED``,
  ``REINSTATED``…: the status it leaves, see ``status_of_event``; an event naming no status changes
  nothing), ``reason`` (kept as ``rejectedReason`` on a rejection), ``message_template_category``;
- ``message_template_quality_update``: ``new_quality_score``;
- ``template_category_update``: ``new_category`` (the category now, in the notice of a change to come as in
  the notice of a change made).

Each names the template by ``message_template_name`` and ``message_template_language`` (and Meta's id) and
the WhatsApp Business Account by ``entry[].id``, no phone number: the shops are found through the
account's pointers (store/business_accounts.py: one Query), and each shop's copy of the template is
updated. A change for an account no connected shop names is skipped, as a message for an unknown number is.

**Exactly once, in order.** The receiver keeps the entry's ``time`` with the change; the template's aspect
(status, quality, category) is written only if that time is newer than the aspect's, or of the same second
and not applied yet (store/templates.apply_event, one conditional UpdateItem). A redelivery — Meta's, or the
inbound queue's after a failure — changes nothing, and a late delivery of an older event cannot undo a
newer one. A change for a template the shop never synced creates it with what the change names.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from mkt_whatsapp.core.clock import now_iso
from mkt_whatsapp.store import business_accounts, get_table
from mkt_whatsapp.store import campaigns as campaign_store
from mkt_whatsapp.store import templates as template_store
from mkt_whatsapp.whatsapp import templates
from mkt_whatsapp.whatsapp.webhook_models import TemplateChangeValue

logger = Logger(child=True)


def _meta_time(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def apply_change(unit: Mapping[str, Any]) -> int:
    """Apply one template change (a unit of the inbound queue) to every shop of its WhatsApp Business
    Account; returns how many shops' templates it changed (0: unknown account, a redelivery, an older
    event, or a change that says nothing we keep)."""
    field, waba_id = unit.get("field"), unit.get("entryId")
    if not isinstance(waba_id, str) or not waba_id.isdigit():
        logger.warning("template change without its account (entry.id); skipped", extra={"field": field})
        return 0
    try:
        value = TemplateChangeValue.model_validate(unit.get("value"))
    except ValidationError as error:
        logger.warning("template change names no template; skipped", extra={"field": field, "wabaId": waba_id})
        logger.debug("template change's errors", extra={"errors": error.error_count()})
        return 0
    name, language = value.message_template_name, value.message_template_language
    change = _change(str(field), value)
    if change is None:
        logger.info("template change that changes nothing kept; skipped", extra={"field": field, "event": value.event})
        return 0
    aspect, event, fields = change
    # Meta states when (entry[].time); a change without one is ordered by its arrival.
    at = _meta_time(unit.get("time")) or int(time.time())
    template_id = value.message_template_id
    fill: dict[str, Any] = {"metaTemplateId": str(template_id) if template_id is not None else None}
    if field == templates.STATUS_UPDATE:
        fill["category"] = templates.upper_or_none(value.message_template_category)
    table = get_table()
    shops = business_accounts.shops_of(table, waba_id)
    if not shops:
        logger.info("template change for an account no shop connected; skipped", extra={"wabaId": waba_id})
        return 0
    now = now_iso()
    applied = 0
    for shop_id in shops:
        if template_store.apply_event(
            table, shop_id, name, language, aspect=aspect, at=at, event=event, fields=fields, fill=fill, now=now
        ):
            applied += 1
            if fields.get("status") in STOPS_CAMPAIGNS:
                _pause_campaigns(table, shop_id, name, language, str(fields["status"]), now)
        else:
            logger.debug("template change already applied or older; nothing written", extra={"shopId": shop_id})
    return applied


# A template Meta paused (its quality) or disabled can no longer be sent: the campaigns sending it stop.
STOPS_CAMPAIGNS = ("PAUSED", "DISABLED")


def _pause_campaigns(table: Any, shop_id: str, name: str, language: str, status: str, now: str) -> None:
    """Pause the shop's running campaigns that send the template, saying why (store/campaigns.py); a resume
    checks that Meta approved it again."""
    paused = campaign_store.pause_running(
        table,
        shop_id,
        {"code": f"TEMPLATE_{status}", "message": f"Meta {status.lower()} the template {name} ({language})"},
        at=now,
        template=(name, language),
    )
    if paused:
        logger.warning("template stopped: campaigns paused", extra={"shopId": shop_id, "campaigns": paused})


def _change(field: str, value: TemplateChangeValue) -> tuple[str, str, dict[str, Any]] | None:
    """``(aspect, event, fields)`` of a template change: what it sets, and the event that identifies it
    within its second."""
    if field == templates.STATUS_UPDATE:
        event = templates.upper_or_none(value.event)
        status = templates.status_of_event(event)
        if event is None or status is None:
            return None
        reason = value.reason
        rejected = reason if status == "REJECTED" and reason and reason != "NONE" else None
        return template_store.STATUS, event, {"status": status, "rejectedReason": rejected}
    if field == templates.QUALITY_UPDATE:
        score = templates.quality_of(value.new_quality_score)
        return (template_store.QUALITY, score, {"qualityScore": score}) if score else None
    if field == templates.CATEGORY_UPDATE:
        category = templates.upper_or_none(value.new_category)
        return (template_store.CATEGORY, category, {"category": category}) if category else None
    return None
