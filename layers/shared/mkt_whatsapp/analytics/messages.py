"""``GET /analytics/messages``: message volume by hour, day or ISO week in the shop's time zone, from the
counters (analytics/counting.py), never from the messages themselves.

- Every bucket of the range is present, zeros included. A day is the time zone's calendar day (a
  Vietnamese shop's day starts at 17:00 UTC); a week starts on Monday (ISO) and is named by its Monday,
  which may fall before the range's first day (the range's days only are counted).
- Reads: the UTC day items the range's hours fall in, each with its hours' message counters
  (store/stats.py): 90 days are 90 items in UTC and 91 in Asia/Ho_Chi_Minh (a local day is made of two
  UTC days' hours), 31 days by hour 32 items — at 1,000 messages or 1,000,000. A day item counted before
  its hours were kept on it (its hours do not add up to its totals) has its hours read from the hour
  items instead.
- The counters are by UTC hour, so a time zone must be a whole number of hours from UTC over the range
  (Asia/Ho_Chi_Minh, Europe/Paris with its summer time): one that is not (Asia/Kolkata, +05:30) is 400.
- ``averagePerDay``: (inbound + outbound) / the range's days.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from mkt_whatsapp.core.errors import BadRequest
from mkt_whatsapp.store import get_table, keys
from mkt_whatsapp.store import stats as stats_store

COUNTERS = ("inbound", "outbound", "failed")


def _hours(start_utc: datetime, end_utc: datetime) -> list[datetime]:
    hours, at = [], start_utc
    while at < end_utc:
        hours.append(at)
        at += timedelta(hours=1)
    return hours


def _bucket(local: datetime, group_by: str) -> str:
    if group_by == "hour":
        return local.isoformat(timespec="seconds")
    if group_by == "week":
        return (local.date() - timedelta(days=local.weekday())).isoformat()
    return local.date().isoformat()


def default_range(start: date | None, end: date | None, group_by: str, today: date) -> tuple[date, date]:
    """The range asked, with its open ends filled: the last 30 days (today alone for hours) up to today."""
    span = timedelta(days=0 if group_by == "hour" else 29)
    if start is None and end is None:
        return today - span, today
    if start is None:
        assert end is not None
        return end - span, end
    return start, end if end is not None else max(start, min(today, start + span))


def range_hours(start: date, end: date, timezone: str) -> list[datetime]:
    """The UTC hours of ``start``..``end`` (both included) as days in ``timezone``; 400 for a time zone
    that is not a whole number of hours from UTC over the range (the counters are by UTC hour)."""
    zone = ZoneInfo(timezone)
    start_utc = datetime.combine(start, datetime.min.time(), zone).astimezone(UTC)
    end_utc = datetime.combine(end + timedelta(days=1), datetime.min.time(), zone).astimezone(UTC)
    hours = _hours(start_utc, end_utc)
    if start_utc.minute or start_utc.second or any(hour.astimezone(zone).minute for hour in hours):
        raise BadRequest(
            f"{timezone} is not a whole number of hours from UTC over this range",
            code="UNSUPPORTED_TIMEZONE",
            field="timezone",
        )
    return hours


def bucket_items(shop_id: str, start: date, end: date, group_by: str, timezone: str) -> dict[str, list[dict[str, Any]]]:
    """Every counter's items of the range (the conversations' and AI analytics read them), by bucket:
    every bucket of the range, in order, with the items (hours, or UTC days in UTC) it is made of (an
    absent item is ``{}``). Only the message counters have their hours on the day items."""
    zone = ZoneInfo(timezone)
    hours = range_hours(start, end, timezone)
    buckets: dict[str, list[dict[str, Any]]] = {}
    for hour in hours:
        buckets.setdefault(_bucket(hour.astimezone(zone), group_by), [])
    table = get_table()
    if timezone == "UTC" and group_by != "hour":
        days = [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]
        items = stats_store.read(table, shop_id, [keys.stats_day_sk(day) for day in days])
        for day in days:
            local = datetime.fromisoformat(day).replace(tzinfo=UTC)
            buckets[_bucket(local, group_by)].append(items.get(keys.stats_day_sk(day)) or {})
    else:
        items = stats_store.read(table, shop_id, [keys.stats_hour_sk(_hour_key(h)) for h in hours])
        for hour in hours:
            item = items.get(keys.stats_hour_sk(_hour_key(hour))) or {}
            buckets[_bucket(hour.astimezone(zone), group_by)].append(item)
    return buckets


def _hour_key(hour: datetime) -> str:
    return hour.strftime("%Y-%m-%dT%H")


def _has_its_hours(day: dict[str, Any]) -> bool:
    """Whether a day item's hour counters add up to its totals (an item counted before they were kept
    on it does not: its hours are read from the hour items instead)."""
    return all(
        sum(int(day.get(stats_store.hour_counter(name, f"{h:02d}"), 0)) for h in range(24)) == int(day.get(name, 0))
        for name in COUNTERS
    )


def hour_counts(shop_id: str, hours: list[datetime]) -> dict[datetime, dict[str, int]]:
    """The message counters of each UTC hour of ``hours``, from the UTC day items they fall in (a range
    of N local days: N + 1 items at most, one BatchGetItem per 100), whatever the shop's volume."""
    table = get_table()
    days = sorted({hour.date().isoformat() for hour in hours})
    items = stats_store.read(table, shop_id, [keys.stats_day_sk(day) for day in days])
    day_items = {day: items.get(keys.stats_day_sk(day)) or {} for day in days}
    older = {day for day, item in day_items.items() if not _has_its_hours(item)}
    hour_items: dict[str, Any] = {}
    if older:
        wanted = [keys.stats_hour_sk(_hour_key(h)) for h in hours if h.date().isoformat() in older]
        hour_items = stats_store.read(table, shop_id, wanted)
    counts: dict[datetime, dict[str, int]] = {}
    for hour in hours:
        day = hour.date().isoformat()
        if day in older:
            item = hour_items.get(keys.stats_hour_sk(_hour_key(hour))) or {}
            counts[hour] = {name: int(item.get(name, 0)) for name in COUNTERS}
        else:
            hh = f"{hour.hour:02d}"
            counts[hour] = {name: int(day_items[day].get(stats_store.hour_counter(name, hh), 0)) for name in COUNTERS}
    return counts


def statistics(shop_id: str, start: date, end: date, group_by: str, timezone: str) -> dict[str, Any]:
    zone = ZoneInfo(timezone)
    buckets: dict[str, dict[str, int]] = {}
    for hour, counts in hour_counts(shop_id, range_hours(start, end, timezone)).items():
        bucket = buckets.setdefault(_bucket(hour.astimezone(zone), group_by), dict.fromkeys(COUNTERS, 0))
        for name in COUNTERS:
            bucket[name] += counts[name]
    metrics = [
        {
            "date": name,
            "inboundCount": counts["inbound"],
            "outboundCount": counts["outbound"],
            "totalCount": counts["inbound"] + counts["outbound"],
            "failedCount": counts["failed"],
        }
        for name, counts in buckets.items()
    ]
    total_in = sum(b["inbound"] for b in buckets.values())
    total_out = sum(b["outbound"] for b in buckets.values())
    day_count = (end - start).days + 1
    return {
        "metrics": metrics,
        "summary": {
            "totalInbound": total_in,
            "totalOutbound": total_out,
            "totalFailed": sum(b["failed"] for b in buckets.values()),
            "averagePerDay": round((total_in + total_out) / day_count, 2),
        },
        "startDate": start.isoformat(),
        "endDate": end.isoformat(),
        "groupBy": group_by,
        "timezone": timezone,
    }
