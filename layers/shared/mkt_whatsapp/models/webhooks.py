"""Meta's webhook verification handshake (``GET /webhooks``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from mkt_whatsapp.models import WireModel


class SubscriptionQuery(WireModel):
    mode: Annotated[str, Field(alias="hub.mode", min_length=1)]
    verify_token: Annotated[str, Field(alias="hub.verify_token", min_length=1)]
    challenge: Annotated[str, Field(alias="hub.challenge", min_length=1)]
