"""The campaign state machine's one task (statemachines/campaign.asl.json, run by functions/campaign_runner):
each invocation reads the campaign and does the next thing, then says what comes next — ``step`` (again at
once), ``wait`` (``seconds``), ``until`` (``at``: the schedule), or ``end``.

- **Scheduled**: wait until ``scheduledAt``; then check the template (a template Meta paused or disabled
  meanwhile pauses the campaign, saying so) and run.
- **Running, enumerating**: one page of the audience (campaigns/audience.py): a recipient per customer,
  put once (``attribute_not_exists``, counted in the same transaction); the ones to send to are enqueued on
  the outbound queue (SendMessageBatch, ten a call) for the sender; then the page's cursor is committed —
  only if it is still the page's, with the page's counts beside the recipients. A page retried after a
  crash anywhere (Step Functions retries the task) meets its own recipients (same ``position``) and
  enqueues those still ``queued`` again — the sender sends a recipient once, however often it is enqueued
  — and commits the cursor once. Inside the quiet hours it waits for their end instead; when the messaging
  tier's 24-hour limit is reached, recipients wait for it (``waiting_tier``) instead of being enqueued.
- **Running, enumerated**: wake what waits and may go now (paused recipients after a resume, quiet hours
  over, tier capacity back): each is moved back to ``queued`` (out of the parked index, so it is not woken
  twice, and counted among the queued the tier's capacity leaves room for) and enqueued; the sender sends it
  or parks it again. When nothing is queued or waiting any more, the campaign is ``completed``. Otherwise it
  looks again after ``campaign_poll_seconds``, watching its queued recipients (below).
- **Paused** or replaced by a newer execution (its ``generation``): end. A resume starts the next one.
- **Cancelled**: mark every waiting recipient cancelled, a page at a time (one parked with its stored message
  has the message withdrawn: campaigns/sending.py); then, while recipients are still queued (the sender
  cancels them as it meets them), watch them as a running campaign does; end when none is.

**Records the queue lost.** A queued recipient is in the queue or in the sender's hands — unless its record
was lost: dead-lettered after the sender failed on it at every receive (an unexpected exception, a timeout),
or deleted unhandled. Nothing in the table points at queued recipients (an index entry would cost two more
writes for every recipient, sent or not), so they are found only when they are likely lost: the execution
carries a **watch** from step to step (the campaign's ``queued`` count and since when it has not changed; in
the machine's state, no write). When the count has not moved for :data:`STALL` — longer than a record's five
receives take to reach the dead-letter queue, while a large campaign's own backlog keeps it moving — a
**recovery** reads the campaign's recipients a page a step (``RECOVERY_PAGE``, a Query of the partition
filtered to ``queued``: a full read of the recipients, paid only then) and takes those queued since before the
watch began: each is counted an attempt (``attempts``, one write) and enqueued again — the sender is
idempotent per recipient, so a record that was only late is still sent once. One that has had
:data:`MAX_ATTEMPTS` is abandoned: failed ``SEND_ABANDONED``, its message withdrawn if it is stored and not
being sent (campaigns/sending.abandon). So every recipient ends settled and the campaign completes, after
about ``MAX_ATTEMPTS + 1`` stalls at worst.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger

from mkt_whatsapp.campaigns import audience, quiet_hours, sending
from mkt_whatsapp.core import queues
from mkt_whatsapp.core.clock import iso, parse_iso
from mkt_whatsapp.core.errors import BusinessRuleViolation
from mkt_whatsapp.core.settings import get_settings
from mkt_whatsapp.store import accounts as account_store
from mkt_whatsapp.store import campaigns as campaign_store
from mkt_whatsapp.store import get_table
from mkt_whatsapp.store.table import Item

logger = Logger(child=True)

# A campaign whose queued recipients have not moved for this long has lost records: one dead-lettered after
# the sender failed on it five times (180 s apart at most: 15 minutes), or one deleted unhandled.
STALL = timedelta(minutes=20)
# Times a lost recipient is handed to the sender again before it is abandoned (failed SEND_ABANDONED).
MAX_ATTEMPTS = 3
# Recipients a recovery step reads (one Query, which DynamoDB stops at 1 MB).
RECOVERY_PAGE = 1000
# The messages of a campaign's recipients: one id per (campaign, customer), whoever sends it, however often.
MESSAGE_NAMESPACE = uuid.UUID("6f1d6a52-4c2e-5b8a-9f0e-2d9c4a7b1e30")


def message_id_of(campaign_id: str, customer_key: str) -> str:
    return str(uuid.uuid5(MESSAGE_NAMESPACE, f"campaign:{campaign_id}:{customer_key}"))


def outbound_record(campaign: Item, customer_key: str) -> str:
    """What the outbound queue carries for a campaign's recipient (the sender reads the rest from it), with
    the ``generation`` that enqueued it: a sender holding the campaign as it was before (paused, say) reads
    it again rather than park what a resume woke."""
    return json.dumps(
        {
            "campaignId": campaign["campaignId"],
            "shopId": campaign["shopId"],
            "customerKey": customer_key,
            "generation": int(campaign.get("generation", 0)),
        },
        ensure_ascii=False,
    )


def enqueue(campaign: Item, recipients: Sequence[Item]) -> int:
    """Hand recipients to the sender (SendMessageBatch); returns the SQS calls made."""
    if not recipients:
        return 0
    bodies = [outbound_record(campaign, str(recipient["customerKey"])) for recipient in recipients]
    return queues.send_all(get_settings().outbound_queue_url, bodies)


def step(run: dict[str, Any]) -> dict[str, Any]:
    """One step of the campaign's execution (see the module)."""
    campaign_id, generation = str(run["campaignId"]), int(run["generation"])
    out: dict[str, Any] = {"campaignId": campaign_id, "generation": generation}
    table = get_table()
    campaign = campaign_store.get(table, campaign_id, consistent=True)
    if campaign is None or int(campaign.get("generation", 0)) != generation:
        return {**out, "next": "end"}
    now = datetime.now(UTC)
    if campaign["status"] == "scheduled":
        if campaign.get("scheduledAt") and iso(now) < str(campaign["scheduledAt"]):
            return {**out, "next": "until", "at": campaign["scheduledAt"]}
        _start(campaign, generation, iso(now))
        return {**out, "next": "step"}
    if campaign["status"] == "cancelled":
        if _sweep(campaign):
            return {**out, "next": "step"}
        queued = campaign_store.counts(table, campaign_id).get(campaign_store.QUEUED, 0)
        if not queued:
            return {**out, "next": "end"}
        return {**out, **_watch_queued(run, campaign, queued, now)}  # the sender cancels them; a lost one is found
    if campaign["status"] != "running":
        return {**out, "next": "end"}
    quiet_end = quiet_hours.window_end(campaign.get("quietHours"), now)
    if not (campaign.get("fanOut") or {}).get("done"):
        if quiet_end is not None:
            return {**out, "next": "wait", "seconds": max(1, int((quiet_end - now).total_seconds()) + 1)}
        _page(campaign, generation)
        return {**out, "next": "step"}
    if "recovery" not in run and quiet_end is None and _wake(campaign, now):
        return {**out, "next": "step"}
    counted = campaign_store.counts(table, campaign_id)
    if not any(counted.get(state, 0) for state in (campaign_store.QUEUED, *campaign_store.PARKED)):
        campaign_store.transition(
            table,
            campaign_id,
            statuses=("running",),
            sets={"status": "completed", "completedAt": iso(now)},
            generation=generation,
        )
        return {**out, "next": "end"}
    return {**out, **_watch_queued(run, campaign, counted.get(campaign_store.QUEUED, 0), now)}


def failed(run: dict[str, Any], error: dict[str, Any] | None) -> dict[str, Any]:
    """The step failed past its retries: the campaign is paused, saying so (a resume tries again)."""
    cause = str((error or {}).get("Cause") or (error or {}).get("Error") or "unknown")[:500]
    campaign_store.transition(
        get_table(),
        str(run["campaignId"]),
        statuses=("running", "scheduled"),
        sets={
            "status": "paused",
            "pausedAt": iso(datetime.now(UTC)),
            "pausedBy": "system",
            "statusReason": {
                "code": "FAN_OUT_FAILED",
                "message": f"The campaign's fan-out failed: {cause}",
                "at": iso(datetime.now(UTC)),
            },
        },
        generation=int(run["generation"]),
    )
    return {"campaignId": run["campaignId"], "generation": run["generation"], "next": "end"}


def _start(campaign: Item, generation: int, at: str) -> None:
    """A scheduled campaign's time has come: run, if its template may still be sent; else pause, saying why."""
    from mkt_whatsapp.campaigns import definitions

    try:
        definitions.approved_template(str(campaign["shopId"]), dict(campaign["template"]))
    except BusinessRuleViolation as refused:
        campaign_store.transition(
            get_table(),
            str(campaign["campaignId"]),
            statuses=("scheduled",),
            sets={
                "status": "paused",
                "pausedAt": at,
                "pausedBy": "system",
                "statusReason": {"code": refused.code, "message": refused.message, "at": at},
            },
            generation=generation,
        )
        return
    campaign_store.transition(
        get_table(),
        str(campaign["campaignId"]),
        statuses=("scheduled",),
        sets={"status": "running", "startedAt": at},
        generation=generation,
    )


def tier_capacity(campaign: Item, now: datetime) -> int | None:
    """How many more customers the campaign may reach in the messaging tier's moving 24 hours, less those it
    has queued already (None: the tier has no limit). An estimate on the safe side: a customer inside their
    service window, or reached already in the 24 hours, does not count at WhatsApp; the sender is the judge."""
    table = get_table()
    account, used = account_store.get_account_and_usage(table, str(campaign["shopId"]), now)
    if account is None or account.daily_limit is None:
        return None
    queued = campaign_store.counts(table, str(campaign["campaignId"])).get(campaign_store.QUEUED, 0)
    return int(account.daily_limit) - used - queued


def _page(campaign: Item, generation: int) -> None:
    """Enumerate one page of the audience (see the module)."""
    table = get_table()
    campaign_id = str(campaign["campaignId"])
    settings = get_settings()
    cursor = str((campaign.get("fanOut") or {}).get("cursor") or "")
    wa_ids = campaign_store.audience_ids(table, campaign_id) if audience.uses_list(campaign) else []
    candidates, following = audience.page(table, campaign, cursor, limit=settings.campaign_page_size, wa_ids=wa_ids)
    category = str(campaign.get("templateCategory") or "marketing")
    verdicts = audience.judge(campaign, category, candidates, set())
    existing = campaign_store.recipients(
        table, campaign_id, {v.customer_key for v in verdicts if v.customer_key and v.reason != "duplicate"}
    )
    now = datetime.now(UTC)
    capacity = tier_capacity(campaign, now) if any(v.reason is None for v in verdicts) else None
    page_counts: Counter[str] = Counter()
    new: list[Item] = []
    to_enqueue: list[Item] = []
    for verdict in verdicts:
        if verdict.customer_key is None or verdict.reason == "duplicate":
            page_counts[campaign_store.counter(campaign_store.SKIPPED, verdict.reason)] += 1
            continue
        found = existing.get(verdict.customer_key)
        if found is not None:
            if found.get("position") != verdict.position:  # met before, at another place of the list
                page_counts[campaign_store.counter(campaign_store.SKIPPED, "duplicate")] += 1
            elif found.get("status") == campaign_store.QUEUED:  # this page's, by an attempt that stopped
                to_enqueue.append(found)
            continue
        recipient: Item = {
            "customerKey": verdict.customer_key,
            "position": verdict.position,
            "messageId": message_id_of(campaign_id, verdict.customer_key),
            "waId": verdict.wa_id,
            "createdAt": iso(now),
        }
        if verdict.reason is not None:
            recipient.update(status=campaign_store.SKIPPED, reason=verdict.reason)
        elif capacity is not None and capacity <= 0:
            recipient.update(status=campaign_store.WAITING_TIER, components=verdict.components)
        else:
            recipient.update(status=campaign_store.QUEUED, components=verdict.components)
            if capacity is not None:
                capacity -= 1
        new.append(campaign_store.recipient_item(campaign_id, recipient, wake_at=iso(now)))
        if recipient["status"] == campaign_store.QUEUED:
            to_enqueue.append(recipient)
    shard = random.randrange(campaign_store.SHARDS)  # noqa: S311 - spreads writes, nothing secret
    campaign_store.add_recipients(table, campaign_id, new, shard=shard)
    enqueue(campaign, to_enqueue)
    committed = campaign_store.commit_page(
        table,
        campaign_id,
        generation=generation,
        cursor=cursor,
        next_cursor=following,
        page_counts=page_counts,
        shard=shard,
    )
    logger.info(
        "campaign page",
        extra={"campaignId": campaign_id, "recipients": len(new), "enqueued": len(to_enqueue), "committed": committed},
    )


def _wake(campaign: Item, now: datetime) -> int:
    """Enqueue what waits and may go now, a page of each state at most, each moved back to ``queued`` first
    (out of the parked index: it is not woken twice); returns how many were woken."""
    table = get_table()
    campaign_id = str(campaign["campaignId"])
    size = get_settings().campaign_page_size
    due_by = iso(now)
    woken = 0
    for state in campaign_store.PARKED:
        limit = size
        if state == campaign_store.WAITING_TIER:
            capacity = tier_capacity(campaign, now)
            limit = size if capacity is None else min(size, capacity)
            if limit <= 0:
                continue
        due = campaign_store.parked(table, campaign_id, state, due_by=due_by, limit=limit)
        moved = campaign_store.move_recipients(table, campaign_id, due, campaign_store.QUEUED, at=due_by)
        enqueue(campaign, moved)
        woken += len(moved)
    return woken


def _watch_queued(run: dict[str, Any], campaign: Item, queued: int, now: datetime) -> dict[str, Any]:
    """What comes after a look that found nothing to wake: the next look, after ``campaign_poll_seconds``,
    carrying the watch on the campaign's queued recipients (``watch``: their count and since when it has not
    changed). When ``queued`` has not moved for :data:`STALL`, the records of those queued since before the
    watch began are taken for lost: a recovery reads the recipients a page a step (``recovery``: where it is)
    and hands them to the sender again (:func:`_recover`)."""
    poll = {"next": "wait", "seconds": get_settings().campaign_poll_seconds}
    recovery = run.get("recovery")
    if recovery is None:
        watch = run.get("watch") or {}
        if not queued or watch.get("queued") != queued:
            return {**poll, "watch": {"queued": queued, "since": iso(now)}}
        if now - parse_iso(str(watch["since"])) < STALL:
            return {**poll, "watch": watch}
        recovery = {"before": watch["since"], "cursor": None}
    following = _recover(campaign, str(recovery["before"]), recovery.get("cursor"), now)
    if following is not None:
        return {"next": "step", "recovery": {**recovery, "cursor": following}}
    return {**poll, "watch": {"queued": queued, "since": iso(now)}}


def _recover(campaign: Item, before: str, cursor: dict[str, Any] | None, now: datetime) -> dict[str, Any] | None:
    """One page of a recovery: the recipients queued (``updatedAt``, else ``createdAt``) before ``before`` are
    enqueued again, each attempt counted on it; one that has had :data:`MAX_ATTEMPTS` is abandoned
    (campaigns/sending.abandon). Returns where the next page starts (None: the recipients are all read)."""
    table = get_table()
    campaign_id = str(campaign["campaignId"])
    queued, following = campaign_store.queued_page(table, campaign_id, start=cursor, limit=RECOVERY_PAGE)
    stuck = [r for r in queued if str(r.get("updatedAt") or r.get("createdAt") or "") < before]
    again: list[Item] = []
    for recipient in stuck:
        if int(recipient.get("attempts", 0)) >= MAX_ATTEMPTS:
            sending.abandon(campaign, recipient)
        else:
            again.append(recipient)
    counted = campaign_store.count_attempt(table, campaign_id, again, at=iso(now))
    enqueue(campaign, counted)
    if stuck:
        logger.warning(
            "campaign recipients whose records were lost",
            extra={"campaignId": campaign_id, "enqueued": len(counted), "abandoned": len(stuck) - len(again)},
        )
    return following


def _sweep(campaign: Item) -> int:
    """Mark a page of each waiting state of a cancelled campaign cancelled; returns how many. A recipient
    parked with its stored message (``messageQueued``) is cancelled by the sender's rule, which withdraws the
    message (campaigns/sending.cancel); the others are moved 99 to a transaction."""
    table = get_table()
    campaign_id = str(campaign["campaignId"])
    at = iso(datetime.now(UTC))
    swept = 0
    for state in campaign_store.PARKED:
        waiting = campaign_store.parked(table, campaign_id, state, due_by=None, limit=get_settings().campaign_page_size)
        with_message = [recipient for recipient in waiting if recipient.get("messageQueued")]
        swept += sum(sending.cancel(campaign, recipient) != "in_flight" for recipient in with_message)
        alone = [recipient for recipient in waiting if not recipient.get("messageQueued")]
        swept += len(campaign_store.move_recipients(table, campaign_id, alone, campaign_store.CANCELLED, at=at))
    return swept
