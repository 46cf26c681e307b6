"""Readiness: the service is healthy when it can reach its table."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from mkt_whatsapp.core.errors import ServiceUnavailable
from mkt_whatsapp.store import get_table


def check() -> dict[str, str]:
    table = get_table()
    try:
        table.probe()
    except (BotoCoreError, ClientError) as error:
        raise ServiceUnavailable("The service cannot reach its table", code="TABLE_UNREACHABLE") from error
    return {"status": "ok", "table": "reachable"}
