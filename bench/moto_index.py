"""A benchmark-only seam for moto's server: a Query on an index answered from the index partition kept
sorted, instead of moto's walk of the whole table.

Why: moto 5.2.5 answers every Query on an index by sorting every item of the table (``Table.all_items``),
picking the partition's items, sorting those, and then walking them from the first to the page's start
key. A page deep in a 100,000-customer index costs seconds there, where DynamoDB reads the page: with moto
as it is, the campaign fan-out benchmark (bench/campaigns.py) would measure moto's sorting, over an hour
for 100,000 recipients. Here the partition's items are sorted once (moto's own ``sorted_items``), the start
key is found by bisection with moto's own comparison (``_item_comes_before_dct``), and the page is built by
the same steps as moto's Query (the limit and the 1 MB limit on the items read, the last evaluated key, the
index's projection, the filter after the limit, the projection expression).

Exact, not approximate: a partition's sorted list is dropped by any write (put, update, delete — a
transaction's and a batch's go through the same three) whose item, before or after it, has the index's
hash key attribute; a rolled-back transaction wrote through them first. Queries it does not cover (a range
condition, descending, the legacy ``KeyConditions`` filters, an index of several key attributes) are
moto's. The benchmark checks the outcome it relies on: every customer of the audience becomes one
recipient and one queue message.

Installed only in the benchmark's emulator process (``python -m bench.moto_server``), never in the tests
or ``make dev``.
"""

from __future__ import annotations

import bisect
import copy
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import RESULT_SIZE_LIMIT, Table

_ORIGINAL: dict[str, Any] = {}
# (table name, index name, hash value) -> the partition's items sorted as moto sorts them
_SORTED: dict[tuple[str, str, DynamoType], list[Item]] = {}
# (table name, partition key) -> the table partition's sort keys and items, sorted by sort key
_SORTED_PARTITIONS: dict[tuple[str, DynamoType], tuple[list[str], list[Item]]] = {}


def _index_keys(table: Table, index_name: str) -> tuple[str, str] | None:
    index = table.get_index(index_name)
    hashes = [key["AttributeName"] for key in index.schema if key["KeyType"] == "HASH"]
    ranges = [key["AttributeName"] for key in index.schema if key["KeyType"] == "RANGE"]
    if len(hashes) != 1 or len(ranges) != 1:
        return None
    return hashes[0], ranges[0]


def _partition(table: Table, index_name: str, hash_attr: str, range_attr: str, value: DynamoType) -> list[Item]:
    cached = _SORTED.get((table.name, index_name, value))
    if cached is not None:
        return cached
    members = [
        item
        for partition in table.items.values()
        for item in (partition.values() if table.range_key_attr else [partition])
        if isinstance(item, Item)
        and hash_attr in item.attrs
        and item.attrs[hash_attr] == value
        and item.attrs.get(range_attr)
    ]
    ordered = table.sorted_items([hash_attr, table.hash_key_attr], [range_attr, table.range_key_attr], members)
    _SORTED[(table.name, index_name, value)] = ordered
    return ordered


def query(
    self: Table,
    hash_key: DynamoType | None,
    range_comparison: str | None,
    range_objs: list[DynamoType],
    limit: int,
    exclusive_start_key: dict[str, Any],
    scan_index_forward: bool,
    projection_expressions: list[list[str]] | None,
    index_name: str | None = None,
    consistent_read: bool = False,
    filter_expression: Any = None,
    hash_key_conditions: list[tuple[str, DynamoType]] | None = None,
    range_key_conditions: list[tuple[str, str, list[DynamoType]]] | None = None,
    **filter_kwargs: Any,
) -> tuple[list[Item], int, dict[str, Any] | None]:
    index_keys = _index_keys(self, index_name) if index_name else None
    covered = (
        index_keys is not None
        and not range_comparison
        and not range_key_conditions
        and not filter_kwargs
        and scan_index_forward
        and hash_key_conditions is not None
        and len(hash_key_conditions) == 1
        and hash_key_conditions[0][0] == index_keys[0]
    )
    if not covered:
        if index_name is None and hash_key is not None and self.range_key_attr:
            # A query of the table reads the one partition (moto walks the whole table, sorted, for it), and
            # of it only the sort keys a prefix or an equality can match.
            partition = _table_partition(self, hash_key, range_comparison, range_objs)
            self.all_items = lambda: partition  # type: ignore[method-assign]
        try:
            return _ORIGINAL["query"](  # type: ignore[no-any-return]
                self,
                hash_key,
                range_comparison,
                range_objs,
                limit,
                exclusive_start_key,
                scan_index_forward,
                projection_expressions,
                index_name,
                consistent_read,
                filter_expression,
                hash_key_conditions=hash_key_conditions,
                range_key_conditions=range_key_conditions,
                **filter_kwargs,
            )
        finally:
            self.__dict__.pop("all_items", None)
    assert index_name is not None
    assert index_keys is not None
    assert hash_key_conditions is not None
    hash_attr, range_attr = index_keys
    ordered = _partition(self, index_name, hash_attr, range_attr, hash_key_conditions[0][1])
    hash_attrs, range_attrs = [hash_attr, self.hash_key_attr], [range_attr, self.range_key_attr]
    first = 0
    if exclusive_start_key is not None:
        # The first item after the start key: items "before or at" it form a prefix of the sorted list.
        first = bisect.bisect_left(
            range(len(ordered)),
            True,
            key=lambda at: (
                not self._item_comes_before_dct(ordered[at], exclusive_start_key, hash_attrs, range_attrs, True)
            ),
        )
    results: list[Item] = []
    size = 0
    last_evaluated_key = None
    for item in ordered[first:]:
        if len(results) == limit or size + item.size() > RESULT_SIZE_LIMIT:
            last_evaluated_key = self._get_last_evaluated_key(results[-1], index_name)
            break
        results.append(item)
        size += item.size()
    scanned = len(results)
    results = [self.get_index(index_name).project(item) for item in copy.deepcopy(results)]
    if filter_expression is not None:
        results = [item for item in results if filter_expression.expr(item)]
    if projection_expressions:
        results = [item.project(projection_expressions) for item in results]
    return results, scanned, last_evaluated_key


def _table_partition(
    table: Table, hash_key: DynamoType, range_comparison: str | None, range_objs: list[DynamoType]
) -> list[Item]:
    """The items of the table's partition ``hash_key`` that a sort-key condition may match (a superset: moto
    applies the condition to them), from the partition kept sorted by its string sort keys."""
    cached = _SORTED_PARTITIONS.get((table.name, hash_key))
    if cached is None:
        members = [item for item in table.items.get(hash_key, {}).values() if isinstance(item, Item)]
        if not all(item.range_key is not None and item.range_key.type == "S" for item in members):
            return members
        members.sort(key=lambda item: str(item.range_key.value))  # type: ignore[union-attr]
        cached = ([str(item.range_key.value) for item in members], members)  # type: ignore[union-attr]
        _SORTED_PARTITIONS[(table.name, hash_key)] = cached
    sort_keys, members = cached
    wanted = range_objs[0].value if range_objs and range_objs[0].type == "S" else None
    comparison = {"BEGINS_WITH": "prefix", "EQ": "equal", "=": "equal"}.get((range_comparison or "").upper())
    if comparison is None or not isinstance(wanted, str):
        return list(members)
    first = bisect.bisect_left(sort_keys, wanted)
    last = first
    while last < len(sort_keys) and (
        sort_keys[last].startswith(wanted) if comparison == "prefix" else sort_keys[last] == wanted
    ):
        last += 1
    return members[first:last]


def _forget(backend: DynamoDBBackend, table_name: str, *items: Item | None) -> None:
    """Drop the sorted partitions any of ``items`` belongs to (an item before or after a write)."""
    table = backend.get_table(table_name)
    for item in items:
        if item is not None:
            _SORTED_PARTITIONS.pop((table.name, item.hash_key), None)
    for index in table.all_indexes():
        keys = _index_keys(table, index.name)
        if keys is None:
            continue
        for item in items:
            if item is not None and keys[0] in item.attrs:
                _SORTED.pop((table.name, index.name, item.attrs[keys[0]]), None)


def _written(name: str) -> Any:
    original = _ORIGINAL[name]

    def write(self: DynamoDBBackend, table_name: str, *args: Any, **kwargs: Any) -> Any:
        table = self.get_table(table_name)
        key = args[0] if args else kwargs.get("key") or kwargs.get("item_attrs")
        before = self.get_item(table_name, _key_of(table, key)) if isinstance(key, dict) else None
        if before is not None:
            before = copy.deepcopy(before)
        try:
            return original(self, table_name, *args, **kwargs)
        finally:
            after = self.get_item(table_name, _key_of(table, key)) if isinstance(key, dict) else None
            _forget(self, table_name, before, after)
            if not isinstance(key, dict):  # a call shape this seam does not know: forget the table's partitions
                for cached in [k for k in _SORTED if k[0] == table.name]:
                    _SORTED.pop(cached, None)
                for partition in [k for k in _SORTED_PARTITIONS if k[0] == table.name]:
                    _SORTED_PARTITIONS.pop(partition, None)

    return write


def _key_of(table: Table, attrs: dict[str, Any]) -> dict[str, Any]:
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return key


def install() -> None:
    if _ORIGINAL:
        return
    _ORIGINAL["query"] = Table.query
    Table.query = query  # type: ignore[method-assign]
    for name in ("put_item", "update_item", "delete_item"):
        _ORIGINAL[name] = getattr(DynamoDBBackend, name)
        setattr(DynamoDBBackend, name, _written(name))


def uninstall() -> None:
    if not _ORIGINAL:
        return
    Table.query = _ORIGINAL.pop("query")  # type: ignore[method-assign]
    for name in ("put_item", "update_item", "delete_item"):
        setattr(DynamoDBBackend, name, _ORIGINAL.pop(name))
    _SORTED.clear()
    _SORTED_PARTITIONS.clear()
