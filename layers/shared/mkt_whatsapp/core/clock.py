"""Times as the service stores and shows them: UTC, ISO 8601 to the second (``2026-01-18T10:00:00Z``),
which also sorts correctly as text in sort keys."""

from __future__ import annotations

from datetime import UTC, datetime

ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(ISO_FORMAT)


def parse_iso(value: str) -> datetime:
    return datetime.strptime(value, ISO_FORMAT).replace(tzinfo=UTC)


def meta_time(epoch_seconds: str | int) -> datetime:
    """A timestamp as Meta sends it (epoch seconds, as a string)."""
    return datetime.fromtimestamp(int(epoch_seconds), UTC)


def now_iso() -> str:
    return iso(datetime.now(UTC))


def utc_hour(at: object) -> str | None:
    """The UTC hour (``yyyy-mm-ddTHH``) of an ISO 8601 time, or None for a missing or unreadable one."""
    if not at:
        return None
    try:
        return parse_iso(str(at)).strftime("%Y-%m-%dT%H")
    except ValueError:
        return None
