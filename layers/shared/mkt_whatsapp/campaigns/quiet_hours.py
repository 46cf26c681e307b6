"""A campaign's quiet hours: a daily window in the shop's time zone when nothing is sent (``{"start": "21:00",
"end": "08:00", "timezone": "Asia/Ho_Chi_Minh"}``; a start after the end spans midnight). The fan-out does
not enqueue inside it, and the sender parks what it meets inside it until the window ends."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def window_end(quiet: Mapping[str, Any] | None, now: datetime) -> datetime | None:
    """When the quiet window ``now`` is in ends (UTC); None when ``now`` is outside it (or there is none)."""
    if not quiet:
        return None
    zone = ZoneInfo(str(quiet["timezone"]))
    local = now.astimezone(zone)
    start, end = _clock(str(quiet["start"])), _clock(str(quiet["end"]))
    moment = local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= moment < end
        ends_on = local.date()
    else:  # spans midnight
        inside = moment >= start or moment < end
        ends_on = local.date() + timedelta(days=1) if moment >= start else local.date()
    if not inside:
        return None
    return datetime.combine(ends_on, end, tzinfo=zone).astimezone(UTC)
