"""The table's changes as its DynamoDB stream (and Lambda) delivers them: records for the analytics counters'
tests and benchmark, without writing the items (tests/unit/test_analytics_*.py, bench/analytics.py)."""

from __future__ import annotations

import itertools
from typing import Any

from local.lambdas import ensure_layer_on_path

_IDS = itertools.count(1)
_RANKS = {"queued": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 9}


def change(event: str, new: dict[str, Any], old: dict[str, Any] | None = None) -> dict[str, Any]:
    """One change record (``INSERT``/``MODIFY``/``REMOVE``) of the item ``new`` (and its ``old`` image)."""
    ensure_layer_on_path()
    from mkt_whatsapp.store.table import serialize

    record: dict[str, Any] = {
        "eventID": f"event-{next(_IDS)}",
        "eventName": event,
        "eventSource": "aws:dynamodb",
        "dynamodb": {"Keys": serialize({"PK": new["PK"], "SK": new["SK"]}), "NewImage": serialize(new)},
    }
    if old is not None:
        record["dynamodb"]["OldImage"] = serialize(old)
    return record


def inbound(shop: str, at: str, **fields: Any) -> dict[str, Any]:
    """An inbound message of ``shop`` stored, Meta's timestamp ``at`` (``fields``: more attributes)."""
    message_id = f"in-{next(_IDS)}"
    item = {
        **fields,
        "PK": f"MSG#{message_id}",
        "SK": "MESSAGE",
        "id": message_id,
        "shopId": shop,
        "direction": "inbound",
        "status": "received",
        "statusRank": 10,
        "timestamp": at,
    }
    return change("INSERT", item)


def outbound(
    shop: str, queued_at: str, moves: list[tuple[str, str]] | list[tuple[str, str, dict[str, Any]]], **fields: Any
) -> list[dict[str, Any]]:
    """An outbound message inserted ``queued``, then moved through ``moves`` ((status, at[, details the
    status sets: errors, pricing]), ...); ``fields``: more attributes of the item (``campaignId``)."""
    message_id = f"out-{next(_IDS)}"
    item: dict[str, Any] = {
        **fields,
        "PK": f"MSG#{message_id}",
        "SK": "MESSAGE",
        "id": message_id,
        "shopId": shop,
        "direction": "outbound",
        "status": "queued",
        "statusRank": 0,
        "timestamp": queued_at,
        "statusTimestamps": {"queued": queued_at},
    }
    records = [change("INSERT", item)]
    for status, at, *details in moves:
        new = {
            **item,
            **(details[0] if details else {}),
            "status": status,
            "statusRank": _RANKS[status],
            "statusUpdatedAt": at,
            "statusTimestamps": {**item["statusTimestamps"], status: at},
        }
        records.append(change("MODIFY", new, item))
        item = new
    return records
