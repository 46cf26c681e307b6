"""``GET /analytics/conversations``: response and resolution times, automation/AI resolution and human
handoff rates, from counters (analytics/counting.py) that the conversation item's own changes move —
definitions in docs/analytics.md, "Conversations"; this module follows them to the letter.

Counting (:func:`counts_of`, one change of a conversation item → ``(shop, hour, counter, amount)``):
- ``convOpened``: a conversation item inserted (on the hour of its ``createdAt``).
- ``convHandedOff``: the change in which a conversation first needs a human — ``needsHuman`` (an AI or
  flow handoff) or ``assignedAgentId`` (assigned to an agent) becoming set while neither was (nothing
  removes either) — on the hour of the conversation's ``createdAt``: of the conversations opened in an
  hour, how many were handed to a human.
- ``convResponses``/``convResponseSeconds`` and per responder ``…#human``/``…#flow``/``…#ai``: the
  change recording a new ``lastResponse`` (the shop's answer ending a wait; store/conversations.py), on
  the hour of the answer, with its seconds.
- ``convResolved``/``convResolutionSeconds`` (``closedAt - createdAt``), ``convResolvedByAutomation``
  (never assigned, never handed off, no agent's message: ``humanTouched``), ``convResolvedWithAi`` (the
  AI replied: ``aiReplied``) and ``convResolvedByAi`` (both): the change closing a conversation (status
  ``open`` → ``closed``), on the hour it closed.

Reading sums the range's hour items (UTC: its day items), so a request reads at most 24 × 366 items
whatever the volume: the same rules of range and time zone as ``GET /analytics/messages``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from mkt_whatsapp.core.clock import parse_iso, utc_hour
from mkt_whatsapp.store import keys
from mkt_whatsapp.store.conversations import CLOSED, OPEN, RESPONDERS

COUNTERS = (
    "convOpened",
    "convHandedOff",
    "convResponses",
    "convResponseSeconds",
    *(f"convResponses#{by}" for by in RESPONDERS),
    *(f"convResponseSeconds#{by}" for by in RESPONDERS),
    "convResolved",
    "convResolutionSeconds",
    "convResolvedByAutomation",
    "convResolvedWithAi",
    "convResolvedByAi",
)


def _seconds(start: Any, end: Any) -> int:
    return max(0, int((parse_iso(str(end)) - parse_iso(str(start))).total_seconds()))


def _handed_off(image: dict[str, Any]) -> bool:
    return bool(image.get("needsHuman")) or bool(image.get("assignedAgentId"))


def counts_of(event: str, new: dict[str, Any], old: dict[str, Any]) -> list[tuple[str, str, str, int]]:
    """What one change of a conversation item counts (the images deserialized; ``old`` empty on INSERT)."""
    if not str(new.get("PK", "")).startswith(keys.conversation_pk("")) or new.get("SK") != keys.CONVERSATION_SK:
        return []
    shop = str(new.get("shopId") or "")
    if not shop or event not in ("INSERT", "MODIFY"):
        return []
    found: list[tuple[str, str, str, int]] = []
    created = utc_hour(new.get("createdAt"))
    if event == "INSERT":
        if created:
            found.append((shop, created, "convOpened", 1))
        return found
    if created and _handed_off(new) and not _handed_off(old):
        found.append((shop, created, "convHandedOff", 1))
    response = new.get("lastResponse")
    previous = old.get("lastResponse") or {}
    if isinstance(response, dict) and response.get("at") and response.get("at") != previous.get("at"):
        hour, seconds, by = utc_hour(response["at"]), int(response.get("seconds", 0)), str(response.get("by"))
        if hour and by in RESPONDERS:
            found += [
                (shop, hour, "convResponses", 1),
                (shop, hour, "convResponseSeconds", seconds),
                (shop, hour, f"convResponses#{by}", 1),
                (shop, hour, f"convResponseSeconds#{by}", seconds),
            ]
    closed = utc_hour(new.get("closedAt"))
    if old.get("status") == OPEN and new.get("status") == CLOSED and closed and new.get("createdAt"):
        human = bool(new.get("humanTouched")) or _handed_off(new)
        ai = bool(new.get("aiReplied"))
        found += [
            (shop, closed, "convResolved", 1),
            (shop, closed, "convResolutionSeconds", _seconds(new["createdAt"], new["closedAt"])),
        ]
        found += [(shop, closed, "convResolvedByAutomation", 1)] if not human else []
        found += [(shop, closed, "convResolvedWithAi", 1)] if ai else []
        found += [(shop, closed, "convResolvedByAi", 1)] if ai and not human else []
    return found


def duration(seconds: float | None) -> str | None:
    """api-v1.txt's durations: the whole seconds (rounded) in their two largest units, a zero second
    part left out (the smaller units dropped) — ``45s``, ``2m 30s``, ``2m``, ``1h 5m``, ``1h``, ``1d 2h``,
    ``0s``."""
    if seconds is None:
        return None
    left = round(seconds)
    units = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
    for index, (unit, size) in enumerate(units[:-1]):
        if left >= size:
            next_unit, next_size = units[index + 1]
            second = (left % size) // next_size
            return f"{left // size}{unit}" + (f" {second}{next_unit}" if second else "")
    return f"{left}s"


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _average(total: int, count: int) -> float | None:
    return round(total / count, 2) if count else None


def totals(shop_id: str, start: date, end: date, timezone: str) -> dict[str, int]:
    """The counters summed over the range's days in ``timezone`` (the items analytics/messages.py reads)."""
    from mkt_whatsapp.analytics.messages import bucket_items

    summed = dict.fromkeys(COUNTERS, 0)
    for items in bucket_items(shop_id, start, end, "day", timezone).values():
        for item in items:
            for name in COUNTERS:
                summed[name] += int(item.get(name, 0))
    return summed


def metrics(shop_id: str, start: date, end: date, timezone: str) -> dict[str, Any]:
    counts = totals(shop_id, start, end, timezone)
    response = _average(counts["convResponseSeconds"], counts["convResponses"])
    resolution = _average(counts["convResolutionSeconds"], counts["convResolved"])
    by_responder = {}
    for by in RESPONDERS:
        average = _average(counts[f"convResponseSeconds#{by}"], counts[f"convResponses#{by}"])
        by_responder[by] = {
            "responses": counts[f"convResponses#{by}"],
            "averageResponseTime": duration(average),
            "averageResponseSeconds": average,
        }
    return {
        "averageResponseTime": duration(response),
        "averageResponseSeconds": response,
        "averageResolutionTime": duration(resolution),
        "averageResolutionSeconds": resolution,
        "automationResolutionRate": _rate(counts["convResolvedByAutomation"], counts["convResolved"]),
        "aiResolutionRate": _rate(counts["convResolvedByAi"], counts["convResolvedWithAi"]),
        "humanHandoffRate": _rate(counts["convHandedOff"], counts["convOpened"]),
        "responseTimeByResponder": by_responder,
        "counts": {
            "responses": counts["convResponses"],
            "responseSeconds": counts["convResponseSeconds"],
            "resolved": counts["convResolved"],
            "resolutionSeconds": counts["convResolutionSeconds"],
            "resolvedByAutomation": counts["convResolvedByAutomation"],
            "resolvedWithAi": counts["convResolvedWithAi"],
            "resolvedByAi": counts["convResolvedByAi"],
            "opened": counts["convOpened"],
            "handedOff": counts["convHandedOff"],
        },
        "startDate": start.isoformat(),
        "endDate": end.isoformat(),
        "timezone": timezone,
    }
