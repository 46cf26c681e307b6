"""Write units as DynamoDB bills them, computed from the requests the service makes (moto does not
meter capacity): an item's size by DynamoDB's rules, 1 WRU per started KB, transactional writes billed
double, and index writes — one for a new index entry, two when an index key changes (the old entry is
deleted and a new one written), one when a projected attribute changes. Each write is billed against the
item as the previous write of the interval left it (:func:`item_writes`)."""

from __future__ import annotations

import math
import threading
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import Binary, TypeDeserializer

_deserializer = TypeDeserializer()

# template.yaml's indexes: key attributes and what they project (None = ALL)
INDEXES: dict[str, tuple[tuple[str, str], set[str] | None]] = {
    "GSI1": (("GSI1PK", "GSI1SK"), None),
    "GSI2": (("GSI2PK", "GSI2SK"), {"searchName", "phoneDigits", "tags"}),
}
BASE_KEYS = ("PK", "SK")
WRITES = ("TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem")


def value_size(value: Any) -> int:
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, Binary):  # a B attribute as boto3 deserialises it (an account's encrypted token)
        return len(value.value)
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


# How a write changes an index entry (what its index write units buy).
NEW_ENTRY = "new entry"
ENTRY_REMOVED = "entry removed"
KEY_CHANGE = "key change: delete+put"
ATTRIBUTES_CHANGED = "projected attributes changed"


def index_change(before: dict[str, Any] | None, after: dict[str, Any] | None, index: str) -> str | None:
    """What a write from ``before`` to ``after`` does to the item's entry in ``index`` (None: nothing)."""
    old = projected(before, index) if before else None
    new = projected(after, index) if after else None
    (pk, sk), _ = INDEXES[index]
    if old is None and new is None:
        return None
    if old is None:
        return NEW_ENTRY
    if new is None:
        return ENTRY_REMOVED
    if (old[pk], old[sk]) != (new[pk], new[sk]):
        return KEY_CHANGE
    return ATTRIBUTES_CHANGED if old != new else None


def write_units(before: dict[str, Any] | None, after: dict[str, Any] | None, transactional: bool) -> dict[str, int]:
    """WRU of one item write, given the item before and after (None = absent)."""
    size = max(item_size(before or {}), item_size(after or {}))
    cost = {"table": units(size) * (2 if transactional else 1)}
    for index in INDEXES:
        change = index_change(before, after, index)
        if change is None:
            continue
        old = projected(before, index) if before else None
        new = projected(after, index) if after else None
        if change == KEY_CHANGE:
            cost[index] = units(item_size(old or {})) + units(item_size(new or {}))
        else:
            cost[index] = units(item_size(new or old or {}))
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


@dataclass(frozen=True)
class ItemWrite:
    """One item written by one request (a transaction's entry, or a PutItem/UpdateItem/DeleteItem), with
    the item as it was just before and just after that write (None = absent)."""

    operation: str
    kind: str  # Put, Update, Delete or ConditionCheck
    key: tuple[str, str]
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @property
    def transactional(self) -> bool:
        return self.operation == "TransactWriteItems"

    @property
    def units(self) -> dict[str, int]:
        return write_units(self.before, self.after, self.transactional)


def item_writes(
    writes: list[tuple[str, dict[str, Any]]],
    before: dict[tuple[str, str], dict[str, Any]],
    after: dict[tuple[str, str], dict[str, Any]],
) -> list[ItemWrite]:
    """The writes the service made (operation name, request parameters), item by item, in order, each with
    its own before and after: an item written twice in the interval (a message put, then its automation
    outcome) is billed for each write against the item as the previous write left it, not against the
    interval's first image. A put's after is its item and a delete's is None; an update's is the interval's
    last image (exact when it is the item's last write in the interval; snapshots hold nothing between)."""
    remaining = Counter(identity for identity, _ in _entries(writes))
    state: dict[tuple[str, str], dict[str, Any] | None] = dict(before)
    found: list[ItemWrite] = []
    for identity, (operation, kind, body) in _entries(writes):
        remaining[identity] -= 1
        if kind == "Put":
            image: dict[str, Any] | None = plain(body["Item"])
        elif kind == "Delete":
            image = None
        else:
            image = after.get(identity)
        found.append(ItemWrite(operation, kind, identity, state.get(identity), image))
        if kind in ("Put", "Delete") or not remaining[identity]:
            state[identity] = image
    return found


def _entries(
    writes: list[tuple[str, dict[str, Any]]],
) -> list[tuple[tuple[str, str], tuple[str, str, dict[str, Any]]]]:
    entries = []
    for operation, params in writes:
        bodies = (
            [next(iter(entry.items())) for entry in params["TransactItems"]]
            if operation == "TransactWriteItems"
            else [(operation.removesuffix("Item"), params)]
        )
        for kind, body in bodies:
            key = plain(body["Item"] if kind == "Put" else body["Key"])
            entries.append(((key["PK"], key["SK"]), (operation, kind, body)))
    return entries


class ItemImages:
    """The images a phase's writes are billed against, read item by item instead of by scanning the table
    (:func:`snapshot` reads every item, which makes a large table the benchmark's own cost): each item
    written, just before the phase's first write to it (:meth:`note`, called before the request is sent) and
    at the phase's end (:meth:`after`). Equivalent to snapshots taken at the phase's start and end for the
    items the service wrote, when the service is the only writer. Read with a client of its own, so these
    reads are not counted as the service's."""

    def __init__(self) -> None:
        self.client = boto3.client("dynamodb", region_name="us-east-1")
        self.images: dict[tuple[str, str], dict[str, Any] | None] = {}
        self.tables: dict[tuple[str, str], str] = {}
        self.lock = threading.Lock()

    def note(self, operation: str, params: dict[str, Any]) -> None:
        """A write is about to be sent: remember the image of each item it writes, if not yet."""
        with self.lock:
            for identity, (_operation, _kind, body) in _entries([(operation, params)]):
                if identity not in self.images:
                    self.tables[identity] = str(body["TableName"])
                    self.images[identity] = self._read(identity)

    @property
    def before(self) -> dict[tuple[str, str], dict[str, Any]]:
        return {identity: image for identity, image in self.images.items() if image is not None}

    def after(self) -> dict[tuple[str, str], dict[str, Any]]:
        found = {identity: self._read(identity) for identity in self.images}
        return {identity: image for identity, image in found.items() if image is not None}

    def _read(self, identity: tuple[str, str]) -> dict[str, Any] | None:
        pk, sk = identity
        answer = self.client.get_item(
            TableName=self.tables[identity], Key={"PK": {"S": pk}, "SK": {"S": sk}}, ConsistentRead=True
        )
        return plain(answer["Item"]) if answer.get("Item") else None


def write_units_of(
    writes: list[tuple[str, dict[str, Any]]],
    before: dict[tuple[str, str], dict[str, Any]],
    after: dict[tuple[str, str], dict[str, Any]],
) -> dict[str, Any]:
    """WRU of the writes the service made (operation name, request parameters), by table and index."""
    total: Counter[str] = Counter()
    written = item_writes(writes, before, after)
    for write in written:
        total.update(write.units)
    return {"total": sum(total.values()), "by_target": dict(total), "items_written": len(written)}


def read_units(operation: str, params: dict[str, Any], parsed: dict[str, Any]) -> float:
    """RRU of one read as DynamoDB bills it, from its request and its answer (moto does not meter them): per
    started 4 KB, half for an eventually consistent read. A GetItem: the item (or the minimum, none found). A
    BatchGetItem: each key answered on its own, one with no item the minimum. A Query: the items it read
    before any filter — the answered items' size, scaled by ``ScannedCount`` over ``Count`` — at least the
    minimum. Keys left unprocessed are not billed (they are asked again, and billed then)."""
    if operation == "GetItem":
        factor = 1.0 if params.get("ConsistentRead") else 0.5
        return factor * units_4k(item_size(plain(parsed["Item"])) if parsed.get("Item") else 0)
    if operation == "BatchGetItem":
        total = 0.0
        for table, request in params["RequestItems"].items():
            factor = 1.0 if request.get("ConsistentRead") else 0.5
            found = (parsed.get("Responses") or {}).get(table, [])
            unprocessed = len(((parsed.get("UnprocessedKeys") or {}).get(table) or {}).get("Keys", []))
            missing = len(request["Keys"]) - unprocessed - len(found)
            total += factor * (sum(units_4k(item_size(plain(raw))) for raw in found) + missing)
        return total
    if operation == "Query":
        factor = 1.0 if params.get("ConsistentRead") else 0.5
        items = parsed.get("Items", [])
        size = sum(item_size(plain(raw)) for raw in items)
        if items:
            size = math.ceil(size * int(parsed.get("ScannedCount", len(items))) / len(items))
        return factor * units_4k(size)
    raise ValueError(f"not a read: {operation}")


def units_4k(size: int) -> int:
    """Read units of ``size`` bytes read strongly consistently: 1 per started 4 KB, at least 1."""
    return max(1, math.ceil(size / 4096))
