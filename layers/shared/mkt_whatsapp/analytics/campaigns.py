"""A campaign's funnel, counted from the table's own changes like every other counter (analytics/counting.py:
the stats function's batches, exactly once by the batch's marker), never by reading its messages.

What counts, from an outbound message item that names its campaign (``campaignId``):
- ``queued`` (answered as ``messages``): the message inserted (one per recipient sent to: its id is the
  recipient's, so a retried fan-out inserts nothing new).
- ``sent``, ``delivered``, ``read``: its status rank crossing each of them for the first time — a status
  only moves forward, so a redelivered status webhook changes nothing and counts nothing, and a ``read``
  that came without its ``delivered`` counts both (Meta may drop a status; the message was delivered).
- ``failed`` and ``failed#<code>`` (Meta's error code, ``unknown`` without one): the message becoming
  ``failed``. Code 131049 (Meta limiting the marketing messages a user receives) is counted
  ``limitedByMeta`` instead: not a failure of the shop's, and nothing to retry.
- ``billable#<category>``: the first status carrying Meta's ``pricing`` with ``billable: true`` (Meta
  states the category it bills), so the estimated charge is category × count × the rate card below.
- ``replied``: an inbound message stamped ``campaignReply`` by the inbound processor: the customer's first
  message within 72 hours of a campaign message's delivery (one per delivery: the customer's
  ``lastCampaign`` records the delivery and that it was answered, in the message's own transaction).

The counters live on one item per campaign (``CAMPAIGNSTATS#<id>`` / ``FUNNEL``): a funnel is one
GetItem whatever the audience, and the item takes one write per stats batch, not per message (no hot item
at the sender's full rate; docs/analytics.md, "One shop at 1,000 messages a second").
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from mkt_whatsapp.store import keys
from mkt_whatsapp.store.customers import CAMPAIGN_REPLY_WINDOW_HOURS
from mkt_whatsapp.store.messages import STATUS_RANK
from mkt_whatsapp.store.table import Table

META_MARKETING_LIMIT = 131049  # "healthy ecosystem engagement": Meta limited this user's marketing messages
REPLY_WINDOW_HOURS = CAMPAIGN_REPLY_WINDOW_HOURS

# Meta's per-message rates in USD by pricing category, for the estimate only (Meta bills by the recipient's
# market; these are the rates assumed for the shops' market, kept in this one place; the funnel also gives
# the exact billable counts by category, so a shop can price them at its own card).
META_RATES_USD: dict[str, Decimal] = {
    "marketing": Decimal("0.0732"),
    "utility": Decimal("0.0113"),
    "authentication": Decimal("0.0113"),
    "authentication_international": Decimal("0.0565"),
    "service": Decimal("0"),
}

STAGES = (("sent", STATUS_RANK["sent"]), ("delivered", STATUS_RANK["delivered"]), ("read", STATUS_RANK["read"]))

CampaignCount = tuple[str, str, int]  # (campaign id, counter, amount)


def counts_of(event: str, new: Mapping[str, Any], old: Mapping[str, Any]) -> list[CampaignCount]:
    """What one change of a message item counts for a campaign (see the module)."""
    if new.get("direction") == "inbound":
        replied = new.get("campaignReply")
        return [(str(replied), "replied", 1)] if event == "INSERT" and replied else []
    campaign = new.get("campaignId")
    if new.get("direction") != "outbound" or not campaign:
        return []
    campaign = str(campaign)
    found: list[CampaignCount] = []
    if event == "INSERT":
        found.append((campaign, "queued", 1))
    new_rank = int(new.get("statusRank", 0))
    old_rank = int(old.get("statusRank", -1)) if old else -1
    if new.get("status") == "failed":
        if old.get("status") != "failed":
            code = _error_code(new)
            if code == str(META_MARKETING_LIMIT):
                found.append((campaign, "limitedByMeta", 1))
            else:
                found += [(campaign, "failed", 1), (campaign, f"failed#{code}", 1)]
    else:
        found += [(campaign, stage, 1) for stage, rank in STAGES if new_rank >= rank and old_rank < rank]
    pricing, was = new.get("pricing") or {}, old.get("pricing") or {}
    if pricing.get("billable") is True and was.get("billable") is not True:
        found.append((campaign, f"billable#{str(pricing.get('category') or 'unknown').lower()}", 1))
    return found


def _error_code(item: Mapping[str, Any]) -> str:
    errors = item.get("errors") or []
    first = errors[0] if isinstance(errors, list) and errors else {}
    code = first.get("code") if isinstance(first, Mapping) else None
    return str(code) if code is not None else "unknown"


def funnel(table: Table, campaign_id: str) -> dict[str, Any]:
    """The campaign's funnel as counted so far (zeros before anything was counted): one GetItem."""
    item = table.get(keys.campaign_stats_pk(campaign_id), keys.CAMPAIGN_STATS_SK) or {}
    return funnel_of(item)


def funnel_of(item: Mapping[str, Any]) -> dict[str, Any]:
    def count(name: str) -> int:
        return int(item.get(name, 0))

    failed_by_code = {
        name.split("#", 1)[1]: int(value) for name, value in sorted(item.items()) if name.startswith("failed#")
    }
    billable = {
        name.split("#", 1)[1]: int(value) for name, value in sorted(item.items()) if name.startswith("billable#")
    }
    charge = sum((META_RATES_USD.get(category, Decimal(0)) * n for category, n in billable.items()), Decimal(0))
    return {
        "messages": count("queued"),
        "sent": count("sent"),
        "delivered": count("delivered"),
        "read": count("read"),
        "failed": count("failed"),
        "failedByCode": failed_by_code,
        "limitedByMeta": count("limitedByMeta"),
        "replied": count("replied"),
        "billable": billable,
        "estimatedMetaChargeUsd": float(round(charge, 4)),
    }
