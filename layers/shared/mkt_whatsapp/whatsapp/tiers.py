"""Meta's messaging limits mapped to the API's ``messageTier`` and ``dailyLimit``.

Since October 2025 the limit is set per business portfolio and read from the phone number's
``whatsapp_business_manager_messaging_limit`` field; ``messaging_limit_tier`` is deprecated and only read
when the new field is absent. The ladder is 250 → 2,000 → 10,000 → 100,000 → unlimited unique users in a
moving 24 hours:

| Meta value | messageTier | dailyLimit |
|---|---|---|
| ``TIER_NOT_SET``, ``TIER_250`` (or absent) | ``tier_0`` | 250 |
| ``TIER_50`` (restricted) | ``tier_0`` | 50 |
| ``TIER_2K`` | ``tier_1`` | 2000 |
| ``TIER_1K`` (legacy per-number value) | ``tier_1`` | 1000 |
| ``TIER_10K`` | ``tier_2`` | 10000 |
| ``TIER_100K`` | ``tier_3`` | 100000 |
| ``TIER_UNLIMITED`` | ``tier_unlimited`` | null (no cap) |
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MessagingTier:
    name: str
    daily_limit: int | None


_TIERS: dict[str, MessagingTier] = {
    "TIER_NOT_SET": MessagingTier("tier_0", 250),
    "TIER_50": MessagingTier("tier_0", 50),
    "TIER_250": MessagingTier("tier_0", 250),
    "TIER_1K": MessagingTier("tier_1", 1000),
    "TIER_2K": MessagingTier("tier_1", 2000),
    "TIER_10K": MessagingTier("tier_2", 10000),
    "TIER_100K": MessagingTier("tier_3", 100000),
    "TIER_UNLIMITED": MessagingTier("tier_unlimited", None),
}

DEFAULT_TIER = _TIERS["TIER_250"]


def tier_for(meta_limit: str | None) -> MessagingTier:
    """The API tier for Meta's limit value; unknown or absent values get the entry tier (250)."""
    return _TIERS.get((meta_limit or "").upper(), DEFAULT_TIER)
