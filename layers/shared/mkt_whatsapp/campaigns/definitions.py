"""A shop's campaigns: create, list, read, change, delete, launch, pause, resume, cancel, and the dry run.

Domain functions take the shop, the campaign as read and the actor; the HTTP handler authorises the shop
first, and a campaign of another shop is ``CAMPAIGN_NOT_FOUND`` here too.

States and what moves them; anything else is 409, with the code of the action refused: launch
``CAMPAIGN_ALREADY_LAUNCHED``, pause ``CAMPAIGN_NOT_RUNNING``, resume ``CAMPAIGN_NOT_PAUSED``, cancel
``CAMPAIGN_FINISHED``, PUT ``CAMPAIGN_NOT_EDITABLE``, DELETE ``CAMPAIGN_NOT_DRAFT``.

| action | from | to |
|---|---|---|
| launch | ``draft`` | ``scheduled`` (``scheduledAt`` still to come) or ``running`` |
| pause | ``running`` | ``paused`` |
| resume | ``paused`` | ``running`` |
| cancel | ``draft``, ``scheduled``, ``running``, ``paused`` | ``cancelled`` |
| PUT | ``draft``, ``scheduled`` (the wait starts again) | the same |
| DELETE | ``draft`` | gone |

``completed`` is the state machine's: every recipient settled. A launch (and a resume) checks the template:
the shop has it (``UNKNOWN_TEMPLATE``), Meta approved it (``TEMPLATE_NOT_APPROVED``), and the campaign gives
each component as many parameters as it takes (``TEMPLATE_PARAMETERS_MISMATCH``) — 422, nothing changed.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from mkt_whatsapp.analytics import campaigns as campaign_funnel
from mkt_whatsapp.campaigns import audience, executions, placeholders
from mkt_whatsapp.core import idempotency
from mkt_whatsapp.core.clock import iso, now_iso
from mkt_whatsapp.core.errors import BadRequest, BusinessRuleViolation, Conflict, NotFound, ServiceUnavailable
from mkt_whatsapp.customers.actions import normalised_tags
from mkt_whatsapp.messaging import send
from mkt_whatsapp.store import campaigns as campaign_store
from mkt_whatsapp.store import get_table, keys
from mkt_whatsapp.store.table import Item

if TYPE_CHECKING:
    from mkt_whatsapp.models.campaigns import CampaignAudience, CreateCampaignRequest, UpdateCampaignRequest

logger = Logger(child=True)

# Every recipient keeps its rendered parameters: 99 of them travel in one transaction (at most 4 MB).
MAX_COMPONENTS_BYTES = 16_384
# A Standard execution lasts at most a year: a campaign is scheduled within one.
MAX_SCHEDULE_AHEAD = timedelta(days=365)
EDITABLE = ("draft", "scheduled")
LIVE = ("draft", "scheduled", "running", "paused")
# What a dry run leaves for the answer's end: one page more would not fit.
DRY_RUN_MARGIN_SECONDS = 3.0
# Customers a dry run reads a page (a Query of the index and its BatchGetItems): no writes, larger pages.
DRY_RUN_PAGE_SIZE = 1000


def not_found() -> NotFound:
    return NotFound("Campaign not found", code="CAMPAIGN_NOT_FOUND", field="campaignId")


def load(campaign_id: str) -> Item | None:
    return campaign_store.get(get_table(), campaign_id, consistent=True)


def _require_shop(shop_id: str, campaign: Item) -> None:
    if campaign.get("shopId") != shop_id:
        raise not_found()


def _rule(message: str, code: str, field: str | None = None) -> BusinessRuleViolation:
    return BusinessRuleViolation(message, code=code, field=field)


# --- the template (the one read of the shop's templates) -------------------------------------------------


def approved_template(shop_id: str, template: dict[str, Any]) -> Item:
    """The shop's stored template the campaign names, if Meta approved it and the campaign's components fit
    it; 422 saying which rule it breaks otherwise (the send's own rule and codes: messaging/send.py)."""
    name, language = str(template["name"]), str(template["language"])
    components = template.get("components") or []
    return send.sendable_template(get_table(), shop_id, name, language, components, field="template")


def category_of(stored: Item) -> str:
    """Meta's category of a stored template, lower case; a template whose category Meta has not told us is
    marketing (the strictest: only opted-in customers)."""
    return str(stored.get("category") or "MARKETING").lower()


# --- the definition --------------------------------------------------------------------------------------


def _audience_of(audience: CampaignAudience | None) -> tuple[dict[str, Any], list[str] | None]:
    """The audience as stored (tags normalised, times in UTC) and its explicit list (None: it has none)."""
    if audience is None:
        return {"tags": [], "match": "any", "excludeTags": []}, None
    stored: dict[str, Any] = {
        "tags": list(dict.fromkeys(normalised_tags(audience.tags, "audience.tags"))),
        "match": audience.match,
        "excludeTags": list(dict.fromkeys(normalised_tags(audience.exclude_tags, "audience.excludeTags"))),
    }
    if audience.last_contacted_before is not None:
        stored["lastContactedBefore"] = iso(audience.last_contacted_before)
    if audience.last_contacted_after is not None:
        stored["lastContactedAfter"] = iso(audience.last_contacted_after)
    if audience.wa_ids is not None:
        stored["waIdCount"] = len(audience.wa_ids)
    return stored, (list(audience.wa_ids) if audience.wa_ids is not None else None)


def _check(template: dict[str, Any] | None, audience: dict[str, Any] | None, fields: dict[str, Any]) -> None:
    """The rules across fields (422 naming the field): placeholders, last-contact range, quiet hours, schedule."""
    if template is not None:
        size = len(json.dumps(template.get("components") or [], ensure_ascii=False).encode())
        if size > MAX_COMPONENTS_BYTES:
            raise _rule(
                f"A campaign's template parameters take at most {MAX_COMPONENTS_BYTES} bytes of JSON, not {size}",
                "TEMPLATE_TOO_LARGE",
                "template.components",
            )
        try:
            placeholders.check(list(template.get("components") or []))
        except placeholders.InvalidPlaceholder as invalid:
            raise _rule(str(invalid), "INVALID_PLACEHOLDER", invalid.field) from None
    if audience is not None:
        before, after = audience.get("lastContactedBefore"), audience.get("lastContactedAfter")
        if before and after and after >= before:
            raise _rule(
                "lastContactedAfter must be earlier than lastContactedBefore",
                "INVALID_AUDIENCE",
                "audience.lastContactedAfter",
            )
    quiet = fields.get("quietHours")
    if quiet and quiet["start"] == quiet["end"]:
        raise _rule("Quiet hours start and end at different times", "INVALID_QUIET_HOURS", "quietHours.end")
    scheduled = fields.get("scheduledAt")
    if scheduled and scheduled > iso(datetime.now(UTC) + MAX_SCHEDULE_AHEAD):
        raise _rule("A campaign is scheduled at most a year ahead", "INVALID_SCHEDULE", "scheduledAt")


def create(shop_id: str, request: CreateCampaignRequest, *, actor: str) -> dict[str, Any]:
    """A new campaign, a draft."""
    if request.shop_id != shop_id:
        raise not_found()
    template = request.template.model_dump(mode="json", by_alias=True)
    stored_audience, wa_ids = _audience_of(request.audience)
    fields: dict[str, Any] = {
        "scheduledAt": iso(request.scheduled_at) if request.scheduled_at else None,
        "quietHours": request.quiet_hours.model_dump(mode="json", by_alias=True) if request.quiet_hours else None,
    }
    _check(template, stored_audience, fields)
    at = now_iso()
    campaign: Item = {
        "campaignId": str(uuid.uuid4()),
        "shopId": shop_id,
        "name": request.name,
        "template": template,
        "audience": stored_audience,
        **fields,
        "status": "draft",
        "revision": 0,
        "generation": 0,
        "createdAt": at,
        "createdBy": actor,
    }
    campaign_store.create(get_table(), campaign, wa_ids)
    return {"campaignId": campaign["campaignId"], "name": request.name, "status": "draft", "createdAt": at}


def create_once(
    shop_id: str, request: CreateCampaignRequest, idempotency_key: str, *, actor: str, deadline: float | None
) -> dict[str, Any]:
    """:func:`create` behind an ``Idempotency-Key``: a retried request gets the first answer (the same
    campaign) for 24 hours; the same key with another body is 409 (core/idempotency.py)."""
    if request.shop_id != shop_id:
        raise not_found()
    return idempotency.once(
        "create-campaign",
        shop_id,
        idempotency_key,
        request.model_dump(mode="json", by_alias=True),
        lambda: create(shop_id, request, actor=actor),
        deadline=deadline,
    )


def summary(campaign: Item) -> dict[str, Any]:
    return {
        "campaignId": campaign["campaignId"],
        "shopId": campaign["shopId"],
        "name": campaign["name"],
        "status": campaign["status"],
        "template": campaign["template"],
        "scheduledAt": campaign.get("scheduledAt"),
        "statusReason": campaign.get("statusReason"),
        "createdAt": campaign["createdAt"],
        "createdBy": campaign.get("createdBy"),
        "updatedAt": campaign.get("updatedAt"),
        "launchedAt": campaign.get("launchedAt"),
        "startedAt": campaign.get("startedAt"),
        "completedAt": campaign.get("completedAt"),
        "cancelledAt": campaign.get("cancelledAt"),
    }


def skipped_wire(skipped: dict[str, int]) -> dict[str, int]:
    """Skips by reason as the API shows them."""
    return {
        "total": sum(skipped.values()),
        "optedOut": skipped["opted_out"],
        "noConsent": skipped["no_consent"],
        "invalidParameters": skipped["invalid_parameters"],
        "duplicate": skipped["duplicate"],
        "notACustomer": skipped["not_a_customer"],
        "excluded": skipped["excluded"],
    }


def stats_of(campaign: Item, counted: dict[str, int], delivery: dict[str, Any] | None = None) -> dict[str, Any]:
    """The campaign's stats from its counters (store/campaigns.py: recipients by state) and its messages'
    funnel (analytics/campaigns.py: what Meta did with them)."""
    skipped = {reason: int(counted.get(campaign_store.counter("skipped", reason), 0)) for reason in audience.REASONS}
    by_state = Counter({state: int(counted.get(state, 0)) for state in campaign_store.STATES if state != "skipped"})
    fan_out = campaign.get("fanOut") or {}
    recipients = sum(by_state.values()) + sum(skipped.values())
    return {
        "targeted": recipients,
        "recipients": recipients,
        "queued": by_state["queued"],
        "sent": by_state["sent"],
        "failed": by_state["failed"],
        "cancelled": by_state["cancelled"],
        "paused": by_state["paused"],
        "waitingForTier": by_state["waiting_tier"],
        "waitingForQuietHours": by_state["waiting_quiet"],
        "skipped": skipped_wire(skipped),
        "pages": int(fan_out.get("pages", 0)),
        "enumerationComplete": bool(fan_out.get("done")),
        "delivery": delivery if delivery is not None else campaign_funnel.funnel_of({}),
    }


def detail(shop_id: str, campaign: Item) -> dict[str, Any]:
    """The campaign with its audience and stats (its counters: one Query)."""
    _require_shop(shop_id, campaign)
    stored = campaign.get("audience") or {}
    return {
        **summary(campaign),
        "audience": {
            "tags": list(stored.get("tags") or []),
            "match": stored.get("match", "any"),
            "excludeTags": list(stored.get("excludeTags") or []),
            "lastContactedBefore": stored.get("lastContactedBefore"),
            "lastContactedAfter": stored.get("lastContactedAfter"),
            "waIdCount": stored.get("waIdCount"),
        },
        "quietHours": campaign.get("quietHours"),
        "templateCategory": campaign.get("templateCategory"),
        "stats": stats_of(
            campaign,
            campaign_store.counts(get_table(), str(campaign["campaignId"])),
            campaign_funnel.funnel(get_table(), str(campaign["campaignId"])),
        ),
    }


def recipient_page(shop_id: str, campaign: Item, status: str | None, skip: int, take: int) -> dict[str, Any]:
    """``skip``..``skip + take`` of the campaign's recipients (of ``status``), each with its message's status;
    the total from the recipients' counters (exact, one Query), the page from the recipients themselves
    and one BatchGetItem of their messages."""
    _require_shop(shop_id, campaign)
    table = get_table()
    campaign_id = str(campaign["campaignId"])
    counted = campaign_store.counts(table, campaign_id)
    states = [status] if status else list(campaign_store.STATES)
    total = sum(int(value) for name, value in counted.items() if name.split("#", 1)[0] in states)
    page = campaign_store.first_recipients(table, campaign_id, status, skip + take)[skip:]
    message_ids = [str(item["messageId"]) for item in page if item.get("messageId")]
    messages = {
        str(item["id"]): item
        for item in table.batch_get([(keys.message_pk(mid), keys.MESSAGE_SK) for mid in message_ids])
    }
    recipients = []
    for item in page:
        message = messages.get(str(item.get("messageId", ""))) or {}
        errors = message.get("errors") or []
        code = errors[0].get("code") if errors and isinstance(errors[0], dict) else None
        recipients.append(
            {
                "waId": item.get("waId"),
                "customerKey": item["customerKey"],
                "status": item["status"],
                "reason": item.get("reason"),
                "messageId": item.get("messageId") if message else None,
                "messageStatus": message.get("status"),
                "errorCode": int(str(code)) if code is not None and str(code).isdigit() else None,
            }
        )
    return {"recipients": recipients, "totalCount": total}


def list_for(shop_id: str, status: str | None) -> list[dict[str, Any]]:
    return [summary(campaign) for campaign in campaign_store.list_for_shop(get_table(), shop_id, status)]


def _refused(campaign: Item, action: str) -> Conflict:
    status = campaign.get("status")
    if action == "update":
        return Conflict(
            f"A {status} campaign cannot be changed: only a draft or a scheduled one",
            code="CAMPAIGN_NOT_EDITABLE",
            field="campaignId",
        )
    if action == "delete":
        return Conflict(
            f"A {status} campaign cannot be deleted: only a draft (cancel it instead)",
            code="CAMPAIGN_NOT_DRAFT",
            field="campaignId",
        )
    if action == "launch":
        return Conflict(f"The campaign is {status}: only a draft is launched", code="CAMPAIGN_ALREADY_LAUNCHED")
    if action == "pause":
        return Conflict(f"The campaign is {status}: only a running campaign is paused", code="CAMPAIGN_NOT_RUNNING")
    if action == "resume":
        return Conflict(f"The campaign is {status}: only a paused campaign is resumed", code="CAMPAIGN_NOT_PAUSED")
    return Conflict(f"The campaign is {status} already", code="CAMPAIGN_FINISHED")


def _fresh(shop_id: str, campaign_id: str) -> Item:
    fresh = load(campaign_id)
    if fresh is None or fresh.get("shopId") != shop_id:
        raise not_found()
    return fresh


def update(shop_id: str, campaign: Item, request: UpdateCampaignRequest, *, actor: str) -> dict[str, Any]:
    """Change a draft or a scheduled campaign (the fields given); a scheduled one waits for its (new)
    ``scheduledAt`` again."""
    _require_shop(shop_id, campaign)
    given = request.model_fields_set
    sets: dict[str, Any] = {"updatedAt": now_iso(), "updatedBy": actor}
    removes: list[str] = []
    template = audience_stored = None
    wa_ids: list[str] | None = None
    if "name" in given and request.name is not None:
        sets["name"] = request.name
    if "template" in given and request.template is not None:
        template = sets["template"] = request.template.model_dump(mode="json", by_alias=True)
    if "audience" in given and request.audience is not None:
        audience_stored, wa_ids = _audience_of(request.audience)
        sets["audience"] = audience_stored
    fields: dict[str, Any] = {}
    if "scheduled_at" in given:
        fields["scheduledAt"] = iso(request.scheduled_at) if request.scheduled_at else None
    if "quiet_hours" in given:
        fields["quietHours"] = (
            request.quiet_hours.model_dump(mode="json", by_alias=True) if request.quiet_hours else None
        )
    _check(template, audience_stored, fields)
    for name, value in fields.items():
        if value is None:
            removes.append(name)
        else:
            sets[name] = value
    current = campaign
    for _attempt in range(4):
        if current.get("status") not in EDITABLE:
            raise _refused(current, "update")
        scheduled = current.get("status") == "scheduled"
        if scheduled and template is not None:
            approved_template(shop_id, template)
        generation = int(current.get("generation", 0))
        if scheduled:
            sets["generation"] = generation + 1  # the wait starts again, on what the campaign is now
        try:
            campaign_store.update(
                get_table(),
                str(current["campaignId"]),
                revision=int(current.get("revision", 0)),
                statuses=(str(current["status"]),),
                sets=sets,
                removes=removes,
                wa_ids=wa_ids,
                drop_wa_ids="audience" in sets and wa_ids is None,
            )
        except campaign_store.CampaignChanged:
            current = _fresh(shop_id, str(campaign["campaignId"]))
            continue
        if scheduled:
            executions.stop(str(current["campaignId"]), generation, "the campaign was changed")
            _start_or_restore(current, generation + 1, restore={"generation": generation})
        return detail(shop_id, _fresh(shop_id, str(campaign["campaignId"])))
    raise Conflict("The campaign is being changed; retry", code="CONCURRENT_UPDATE")


def delete(shop_id: str, campaign: Item, *, actor: str) -> dict[str, Any]:
    _require_shop(shop_id, campaign)
    if campaign.get("status") != "draft":
        raise _refused(campaign, "delete")
    try:
        campaign_store.delete(get_table(), str(campaign["campaignId"]), statuses=("draft",))
    except campaign_store.CampaignChanged:
        raise _refused(_fresh(shop_id, str(campaign["campaignId"])), "delete") from None
    return {"campaignId": campaign["campaignId"], "deleted": True, "deletedBy": actor}


# --- launch, pause, resume, cancel -----------------------------------------------------------------------


def _start_or_restore(campaign: Item, generation: int, *, restore: dict[str, Any]) -> None:
    """Start the campaign's execution of ``generation``; if Step Functions refuses, put back what the
    transition changed (``restore``: the fields as they were, None for absent) and say so (503): a campaign
    is never left in a state no execution drives."""
    try:
        executions.start(str(campaign["campaignId"]), generation)
    except (BotoCoreError, ClientError) as error:
        campaign_store.transition(
            get_table(),
            str(campaign["campaignId"]),
            statuses=(str(campaign["status"]),),
            sets={name: value for name, value in restore.items() if value is not None},
            removes=[name for name, value in restore.items() if value is None],
            generation=generation,
        )
        raise ServiceUnavailable(
            "The campaign's state machine could not be started; nothing changed, retry",
            code="STATE_MACHINE_UNAVAILABLE",
        ) from error


def _transition_answer(campaign: Item, status: str, at: str, actor: str) -> dict[str, Any]:
    answer = {"campaignId": campaign["campaignId"], "status": status, "at": at, "by": actor}
    if status == "scheduled":
        answer["scheduledAt"] = campaign.get("scheduledAt")
    return answer


def launch(shop_id: str, campaign: Item, *, actor: str) -> dict[str, Any]:
    """Start the campaign now, or at its ``scheduledAt`` if that is still to come."""
    _require_shop(shop_id, campaign)
    if campaign.get("status") != "draft":
        raise _refused(campaign, "launch")
    stored = approved_template(shop_id, dict(campaign["template"]))
    at = now_iso()
    scheduled = bool(campaign.get("scheduledAt")) and str(campaign["scheduledAt"]) > at
    status = "scheduled" if scheduled else "running"
    sets: dict[str, Any] = {
        "status": status,
        "generation": 1,
        "launchedAt": at,
        "launchedBy": actor,
        "templateCategory": category_of(stored),
        "fanOut": {"cursor": "", "pages": 0, "done": False},
    }
    if not scheduled:
        sets["startedAt"] = at
    changed = campaign_store.transition(get_table(), str(campaign["campaignId"]), statuses=("draft",), sets=sets)
    if changed is None:
        raise _refused(_fresh(shop_id, str(campaign["campaignId"])), "launch")
    _start_or_restore(
        changed,
        1,
        restore={"status": "draft", "generation": 0, "launchedAt": None, "launchedBy": None, "startedAt": None},
    )
    return _transition_answer(changed, status, at, actor)


def pause(shop_id: str, campaign: Item, *, actor: str) -> dict[str, Any]:
    """Stop sending: what is not sent yet waits (the sender parks what it meets; the execution ends at its
    next page) until the campaign is resumed."""
    _require_shop(shop_id, campaign)
    at = now_iso()
    changed = campaign_store.transition(
        get_table(),
        str(campaign["campaignId"]),
        statuses=("running",),
        sets={"status": "paused", "pausedAt": at, "pausedBy": actor},
        removes=("statusReason",),
    )
    if changed is None:
        raise _refused(_fresh(shop_id, str(campaign["campaignId"])), "pause")
    return _transition_answer(changed, "paused", at, actor)


def resume(shop_id: str, campaign: Item, *, actor: str) -> dict[str, Any]:
    """Go on: a new execution wakes what waits for the resume and goes on with the enumeration."""
    _require_shop(shop_id, campaign)
    if campaign.get("status") != "paused":
        raise _refused(campaign, "resume")
    approved_template(shop_id, dict(campaign["template"]))
    at = now_iso()
    generation = int(campaign.get("generation", 0))
    changed = campaign_store.transition(
        get_table(),
        str(campaign["campaignId"]),
        statuses=("paused",),
        sets={"status": "running", "generation": generation + 1, "resumedAt": at, "resumedBy": actor},
        removes=("statusReason",),
        generation=generation,
    )
    if changed is None:
        raise _refused(_fresh(shop_id, str(campaign["campaignId"])), "resume")
    _start_or_restore(
        changed,
        generation + 1,
        restore={"status": "paused", "generation": generation, "resumedAt": None, "resumedBy": None},
    )
    return _transition_answer(changed, "running", at, actor)


def cancel(shop_id: str, campaign: Item, *, actor: str) -> dict[str, Any]:
    """End the campaign: nothing more is sent; what waits is marked cancelled (by a last execution, page by
    page), and what the sender meets in the queue is marked cancelled, never sent."""
    _require_shop(shop_id, campaign)
    at = now_iso()
    current = campaign
    for _attempt in range(4):
        if current.get("status") not in LIVE:
            raise _refused(current, "cancel")
        generation = int(current.get("generation", 0))
        launched = current.get("status") != "draft"
        changed = campaign_store.transition(
            get_table(),
            str(current["campaignId"]),
            statuses=(str(current["status"]),),
            sets={
                "status": "cancelled",
                "generation": generation + 1 if launched else generation,
                "cancelledAt": at,
                "cancelledBy": actor,
            },
            generation=generation,
        )
        if changed is None:
            current = _fresh(shop_id, str(campaign["campaignId"]))
            continue
        if launched:
            executions.stop(str(current["campaignId"]), generation, "the campaign was cancelled")
            try:
                executions.start(str(current["campaignId"]), generation + 1)  # sweeps what waits
            except (BotoCoreError, ClientError):  # cancelled all the same: nothing waiting is ever woken
                logger.warning(
                    "could not start the sweep of a cancelled campaign",
                    extra={"campaignId": current["campaignId"]},
                    exc_info=True,
                )
        return _transition_answer(changed, "cancelled", at, actor)
    raise Conflict("The campaign is being changed; retry", code="CONCURRENT_UPDATE")


# --- the dry run -----------------------------------------------------------------------------------------


def dry_run(shop_id: str, campaign: Item, cursor: str | None, *, deadline: float | None) -> dict[str, Any]:
    """Who the campaign would send to now and who it would skip, by reason, page by page until the audience
    is done or the invocation nearly is (``complete: false`` and a ``nextCursor`` to go on from); nothing is
    stored or sent."""
    _require_shop(shop_id, campaign)
    stored = approved_template(shop_id, dict(campaign["template"]))
    category = category_of(stored)
    table = get_table()
    position = cursor or ""
    try:
        audience.check_cursor(campaign, position)
    except audience.BadCursor as bad:
        raise BadRequest(f"Validation failed: cursor: {bad}", code="INVALID_VALUE", field="cursor") from None
    wa_ids = campaign_store.audience_ids(table, str(campaign["campaignId"])) if audience.uses_list(campaign) else []
    seen: set[str] = set()
    tally: Counter[str] = Counter()
    considered = 0
    size = DRY_RUN_PAGE_SIZE
    while True:
        candidates, following = audience.page(table, campaign, position, limit=size, wa_ids=wa_ids)
        for verdict in audience.judge(campaign, category, candidates, seen):
            considered += 1
            tally[verdict.reason or "send"] += 1
        if following is None or (deadline is not None and deadline - time.time() < DRY_RUN_MARGIN_SECONDS):
            break
        position = following
    skipped = {reason: tally[reason] for reason in audience.REASONS}
    return {
        "campaignId": campaign["campaignId"],
        "templateCategory": category,
        "audience": considered,
        "wouldReceive": tally["send"],
        "skipped": skipped_wire(skipped),
        "complete": following is None,
        "nextCursor": following,
    }
