"""Write units as DynamoDB bills them, computed from the requests the service makes (moto does not
meter capacity): an item's size by DynamoDB's rules, 1 WRU per started KB, transactional writes billed
double, and index writes — one for a new index entry, two when an index key changes (the old entry is
deleted and a new one written), one when a projected attribute changes."""

from __future__ import annotations

import math
from collections import Counter
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer

_deserializer = TypeDeserializer()

# template.yaml's indexes: key attributes and what they project (None = ALL)
INDEXES: dict[str, tuple[tuple[str, str], set[str] | None]] = {
    "GSI1": (("GSI1PK", "GSI1SK"), None),
    "GSI2": (("GSI2PK", "GSI2SK"), {"searchName", "phoneDigits", "tags"}),
}
BASE_KEYS = ("PK", "SK")


def value_size(value: Any) -> int:
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, int | float | Decimal):
        digits = len(str(abs(Decimal(str(value)))).replace(".", "").lstrip("0")) or 1
        return math.ceil(digits / 2) + 1
    if isinstance(value, dict):
        return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in value.items())
    if isinstance(value, list | set | tuple):
        return 3 + sum(value_size(v) + 1 for v in value)
    return len(str(value))


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def projected(item: dict[str, Any], index: str) -> dict[str, Any] | None:
    (pk, sk), attributes = INDEXES[index]
    if pk not in item or sk not in item:
        return None
    keep = set(BASE_KEYS) | {pk, sk} | (attributes if attributes is not None else set(item))
    return {name: value for name, value in item.items() if name in keep}


def write_units(before: dict[str, Any] | None, after: dict[str, Any] | None, transactional: bool) -> dict[str, int]:
    """WRU of one item write, given the item before and after (None = absent)."""
    size = max(item_size(before or {}), item_size(after or {}))
    cost = {"table": units(size) * (2 if transactional else 1)}
    for index in INDEXES:
        old = projected(before, index) if before else None
        new = projected(after, index) if after else None
        (pk, sk), _ = INDEXES[index]
        if old is None and new is None:
            continue
        if old is None or new is None:
            cost[index] = units(item_size(new or old or {}))
        elif (old[pk], old[sk]) != (new[pk], new[sk]):
            cost[index] = units(item_size(old)) + units(item_size(new))
        elif old != new:
            cost[index] = units(item_size(new))
    return cost


def plain(raw: dict[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in raw.items()}


def snapshot(table_name: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Every item of the table (a benchmark's table is small), to know each write's 'before'. Read with a
    client of its own, so these reads are not counted as the service's calls."""
    items: dict[tuple[str, str], dict[str, Any]] = {}
    kwargs: dict[str, Any] = {"TableName": table_name}
    client = boto3.client("dynamodb", region_name="us-east-1")
    while True:
        page = client.scan(**kwargs)
        for raw in page.get("Items", []):
            item = plain(raw)
            items[(item["PK"], item["SK"])] = item
        if not page.get("LastEvaluatedKey"):
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def write_units_of(
    writes: list[tuple[str, dict[str, Any]]],
    before: dict[tuple[str, str], dict[str, Any]],
    after: dict[tuple[str, str], dict[str, Any]],
) -> dict[str, Any]:
    """WRU of the writes the service made (operation name, request parameters), by table and index."""
    total: Counter[str] = Counter()
    items = 0
    for operation, params in writes:
        transactional = operation == "TransactWriteItems"
        entries = params["TransactItems"] if transactional else [{operation.removesuffix("Item"): params}]
        for entry in entries:
            [(kind, body)] = entry.items()
            key = plain(body["Item"] if kind == "Put" else body["Key"])
            identity = (key["PK"], key["SK"])
            for name, cost in write_units(before.get(identity), after.get(identity), transactional).items():
                total[name] += cost
            items += 1
    return {"total": sum(total.values()), "by_target": dict(total), "items_written": items}
