"""Meta's webhook verification handshake (``GET /webhooks``) and a delivery's acknowledgement."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from mkt_whatsapp.models import ApiModel, WireModel


class SubscriptionQuery(WireModel):
    mode: Annotated[str, Field(alias="hub.mode", min_length=1)]
    verify_token: Annotated[str, Field(alias="hub.verify_token", min_length=1)]
    challenge: Annotated[str, Field(alias="hub.challenge", min_length=1)]


class WebhookAcknowledgement(ApiModel):
    """``POST /webhooks`` answer (outside the envelope, as api-v1 shows it)."""

    success: Literal[True]
