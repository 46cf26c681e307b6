"""Customers as the API shows them."""

from __future__ import annotations

from typing import Any

from mkt_whatsapp.models import ApiModel


class Consent(ApiModel):
    status: str
    timestamp: str | None = None
    source: str | None = None


class CustomerSummary(ApiModel):
    id: str
    wa_id: str | None
    bsuid: str | None = None
    name: str | None
    tags: list[str]
    opt_in_status: str
    conversation_count: int
    last_contacted_at: str | None
    created_at: str


class CustomerStats(ApiModel):
    conversation_count: int
    average_response_time: str | None
    last_purchase_date: str | None


class CustomerProfile(ApiModel):
    id: str
    wa_id: str | None
    bsuid: str | None = None
    shop_id: str
    name: str | None
    username: str | None = None
    profile_picture_url: str | None = None
    consent: Consent
    tags: list[str]
    custom_fields: dict[str, Any]
    stats: CustomerStats
    created_at: str
    last_contacted_at: str | None
