"""The health check's answer."""

from __future__ import annotations

from typing import Literal

from mkt_whatsapp.models import ApiModel


class Health(ApiModel):
    """``GET /health`` answer: the service can reach its table."""

    status: Literal["ok"]
    table: Literal["reachable"]
