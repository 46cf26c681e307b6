"""Per-shop rate limits, counted in DynamoDB so they hold across Lambda instances.

Fixed one-minute windows: simple, one write per request, and the window a 429 names is exact
(``Retry-After`` = seconds to its end). A burst straddling two windows can see up to twice the limit
within 60 s; that is the documented trade-off of fixed windows.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from mkt_whatsapp.core.errors import RateLimited
from mkt_whatsapp.core.settings import get_settings
from mkt_whatsapp.http.routes import RateLimitBucket
from mkt_whatsapp.store import get_table, ratelimits

WINDOW_SECONDS = 60


def _now() -> float:
    return time.time()


@dataclass(frozen=True, slots=True)
class Quota:
    limit: int
    remaining: int
    reset_after_seconds: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_after_seconds),
        }


def limit_for(bucket: RateLimitBucket) -> int:
    settings = get_settings()
    if bucket is RateLimitBucket.ANALYTICS:
        return settings.analytics_rate_limit_per_minute
    return settings.rate_limit_per_minute


def admit(shop_id: str, bucket: RateLimitBucket, *, now: float | None = None) -> Quota:
    """Count one request of ``shop_id`` in ``bucket``; 429 when the window's limit is exceeded."""
    return _admit(ratelimits.shop_window(shop_id, bucket.value), bucket, "this shop", now)


def admit_principal(subject: str, bucket: RateLimitBucket, *, now: float | None = None) -> Quota:
    """Count one request of a caller that acted on no shop (a body that did not validate, a resource that
    does not exist or is not theirs) against the caller itself: probing costs requests too."""
    return _admit(ratelimits.caller_window(subject, bucket.value), bucket, "this caller", now)


def _admit(window_pk: str, bucket: RateLimitBucket, whose: str, now: float | None) -> Quota:
    moment = _now() if now is None else now
    window_start = int(moment // WINDOW_SECONDS) * WINDOW_SECONDS
    window_end = window_start + WINDOW_SECONDS
    limit = limit_for(bucket)
    count = ratelimits.count_request(get_table(), window_pk, window_start, expires_at=window_end + WINDOW_SECONDS)
    quota = Quota(
        limit=limit,
        remaining=max(0, limit - count),
        reset_after_seconds=max(1, math.ceil(window_end - moment)),
    )
    if count > limit:
        raise RateLimited(
            f"Rate limit exceeded: {limit} requests per minute for {whose}",
            headers={**quota.headers(), "Retry-After": str(quota.reset_after_seconds)},
        )
    return quota
