"""A thin typed wrapper over the DynamoDB client for the single table: (de)serialisation and the calls
this service makes. Domain code never sees attribute-value JSON."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from mkt_whatsapp.core import aws
from mkt_whatsapp.core.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

Item = dict[str, Any]

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _to_dynamo(value: Any) -> Any:
    """DynamoDB numbers are Decimals: floats (e.g. a location's latitude) are stored exactly as written."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    if isinstance(value, set):
        return {_from_dynamo(v) for v in value}
    if isinstance(value, Binary):
        return bytes(value.value)  # type: ignore[attr-defined]
    return value


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(_to_dynamo(value)) for key, value in item.items() if value is not None}


def deserialize(item: Mapping[str, Any]) -> Item:
    return {key: _from_dynamo(_deserializer.deserialize(value)) for key, value in item.items()}


class TransactionCancelled(Exception):
    """DynamoDB cancelled a transaction for a reason no write names (throttling, validation…);
    ``reasons`` holds one code per write, in order (``"None"`` if fine)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(f"transaction cancelled: {reasons}")
        self.reasons = reasons


class ConditionFailed(Exception):
    """A write's condition did not hold. Each write names its own subclass (``MessageExists``,
    ``CustomerChanged``…), so domain code says which fact it meets, never which position failed."""


class TransactionConflict(Exception):
    """Another transaction wrote one of the items at the same moment: reading again and retrying is safe."""


@dataclass(frozen=True, slots=True)
class Write:
    """One write of a transaction, and the exception that says its condition failed."""

    operation: TransactWriteItemTypeDef
    fails_with: type[ConditionFailed] = ConditionFailed


class Table:
    def __init__(self, name: str, client: DynamoDBClient) -> None:
        self.name = name
        self.client = client

    def get(self, pk: str, sk: str, *, consistent: bool = False) -> Item | None:
        response = self.client.get_item(
            TableName=self.name, Key=serialize({"PK": pk, "SK": sk}), ConsistentRead=consistent
        )
        raw = response.get("Item")
        return deserialize(raw) if raw else None

    def put(self, item: Mapping[str, Any], *, condition: str | None = None) -> None:
        kwargs: dict[str, Any] = {"TableName": self.name, "Item": serialize(item)}
        if condition:
            kwargs["ConditionExpression"] = condition
        self.client.put_item(**kwargs)

    def batch_get(self, key_pairs: Sequence[tuple[str, str]], *, consistent: bool = False) -> list[Item]:
        """Items for (PK, SK) pairs, in no particular order (absent ones are simply missing)."""
        items: list[Item] = []
        unique = list(dict.fromkeys(key_pairs))
        for start in range(0, len(unique), 100):
            request: dict[str, Any] = {
                self.name: {
                    "Keys": [serialize({"PK": pk, "SK": sk}) for pk, sk in unique[start : start + 100]],
                    "ConsistentRead": consistent,
                }
            }
            for _attempt in range(8):
                response = self.client.batch_get_item(RequestItems=request)
                items.extend(deserialize(raw) for raw in response.get("Responses", {}).get(self.name, []))
                request = dict(response.get("UnprocessedKeys") or {})
                if not request:
                    break
        return items

    def query_index(
        self,
        index: str,
        pk_name: str,
        pk_value: str,
        *,
        newest_first: bool = False,
        filter_expression: str | None = None,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
        limit: int | None = None,
        sort_key_below: str | None = None,
    ) -> list[Item]:
        """Items of one index partition in sort-key order (descending if ``newest_first``), optionally
        filtered, up to ``limit`` matching items (all of them without one)."""
        sort_name = pk_name.replace("PK", "SK")
        condition = "#pk = :pk"
        all_names = {"#pk": pk_name, **(names or {})}
        all_values: dict[str, Any] = {":pk": pk_value, **(values or {})}
        if sort_key_below is not None:
            condition += " AND #sk < :below"
            all_names["#sk"] = sort_name
            all_values[":below"] = sort_key_below
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": all_names,
            "ExpressionAttributeValues": serialize(all_values),
            "ScanIndexForward": not newest_first,
        }
        if filter_expression:
            kwargs["FilterExpression"] = filter_expression
        items: list[Item] = []
        while True:
            if limit is not None:
                kwargs["Limit"] = max(1, limit - len(items)) if not filter_expression else max(limit, 100)
            response = self.client.query(**kwargs)
            items.extend(deserialize(raw) for raw in response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            if not last or (limit is not None and len(items) >= limit):
                return items[:limit] if limit is not None else items
            kwargs["ExclusiveStartKey"] = last

    def query_page(
        self,
        index: str | None,
        pk_name: str,
        pk_value: str,
        *,
        limit: int,
        start: Mapping[str, Any] | None = None,
        sk_prefix: str | None = None,
        filter_expression: str | None = None,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
    ) -> tuple[list[Item], dict[str, Any] | None]:
        """One page of an index partition (``index`` None: the table's), in sort-key order and only sort keys
        starting with ``sk_prefix`` if given: the items among the next ``limit`` entries after ``start`` that
        match the filter, and where the next page starts (None: the partition is done). One Query call: a page
        reads at most ``limit`` entries, however few match."""
        condition, all_names = "#pk = :pk", {"#pk": pk_name, **(names or {})}
        all_values: dict[str, Any] = {":pk": pk_value, **(values or {})}
        if sk_prefix is not None:
            condition += " AND begins_with(#sk, :prefix)"
            all_names["#sk"] = pk_name.replace("PK", "SK")
            all_values[":prefix"] = sk_prefix
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": all_names,
            "ExpressionAttributeValues": serialize(all_values),
            "Limit": limit,
        }
        if index is not None:
            kwargs["IndexName"] = index
        if filter_expression:
            kwargs["FilterExpression"] = filter_expression
        if start:
            kwargs["ExclusiveStartKey"] = serialize(start)
        response = self.client.query(**kwargs)
        last = response.get("LastEvaluatedKey")
        return [deserialize(raw) for raw in response.get("Items", [])], deserialize(last) if last else None

    def query_prefix(
        self,
        pk: str,
        sk_prefix: str,
        *,
        consistent: bool = False,
        filter_expression: str | None = None,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
        limit: int | None = None,
    ) -> list[Item]:
        """All items of a partition whose sort key starts with ``sk_prefix`` (a bounded set by design),
        optionally filtered by DynamoDB (``filter_expression`` over ``values`` and ``names``); with
        ``limit``, the first ``limit`` of them (read no further than needed)."""
        items: list[Item] = []
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": serialize({":pk": pk, ":prefix": sk_prefix, **(values or {})}),
            "ConsistentRead": consistent,
        }
        if filter_expression:
            kwargs["FilterExpression"] = filter_expression
        if names:
            kwargs["ExpressionAttributeNames"] = dict(names)
        while True:
            response = self.client.query(**kwargs)
            items.extend(deserialize(raw) for raw in response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            if limit is not None and len(items) >= limit:
                return items[:limit]
            if not last:
                return items
            kwargs["ExclusiveStartKey"] = last

    def update(
        self,
        pk: str,
        sk: str,
        expression: str,
        values: Mapping[str, Any],
        *,
        names: Mapping[str, str] | None = None,
        condition: str | None = None,
        return_values: str = "NONE",
    ) -> Item:
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "Key": serialize({"PK": pk, "SK": sk}),
            "UpdateExpression": expression,
            "ExpressionAttributeValues": serialize(values),
            "ReturnValues": return_values,
        }
        if names:
            kwargs["ExpressionAttributeNames"] = dict(names)
        if condition:
            kwargs["ConditionExpression"] = condition
        response = self.client.update_item(**kwargs)
        return deserialize(response.get("Attributes", {}))

    def update_if(
        self,
        pk: str,
        sk: str,
        expression: str,
        values: Mapping[str, Any],
        *,
        condition: str,
        names: Mapping[str, str] | None = None,
        return_values: str = "NONE",
    ) -> Item | None:
        """:meth:`update` under ``condition``; None (nothing written) when the condition does not hold."""
        try:
            return self.update(
                pk, sk, expression, values, names=names, condition=condition, return_values=return_values
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return None
            raise

    def transact_write(self, writes: Sequence[Write]) -> None:
        """All ``writes`` or none. A failed condition raises the first failing write's ``fails_with``
        (in the order given); a concurrent transaction raises :class:`TransactionConflict`."""
        try:
            self.client.transact_write_items(TransactItems=[write.operation for write in writes])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = [str(reason.get("Code", "None")) for reason in error.response.get("CancellationReasons", [])]
            for write, reason in zip(writes, reasons, strict=False):
                if reason == "ConditionalCheckFailed":
                    raise write.fails_with(f"condition failed: {write.fails_with.__name__}") from error
            if "TransactionConflict" in reasons:
                raise TransactionConflict(f"transaction conflict: {reasons}") from error
            raise TransactionCancelled(reasons) from error

    def put_op(
        self,
        item: Mapping[str, Any],
        *,
        condition: str | None = None,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
        fails_with: type[ConditionFailed] = ConditionFailed,
    ) -> Write:
        put: dict[str, Any] = {"TableName": self.name, "Item": serialize(item)}
        if condition:
            put["ConditionExpression"] = condition
        if values:
            put["ExpressionAttributeValues"] = serialize(values)
        if names:
            put["ExpressionAttributeNames"] = dict(names)
        return Write({"Put": put}, fails_with)  # type: ignore[typeddict-item]

    def update_op(
        self,
        pk: str,
        sk: str,
        expression: str,
        values: Mapping[str, Any],
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        fails_with: type[ConditionFailed] = ConditionFailed,
    ) -> Write:
        update: dict[str, Any] = {
            "TableName": self.name,
            "Key": serialize({"PK": pk, "SK": sk}),
            "UpdateExpression": expression,
        }
        if values:  # DynamoDB refuses an empty map (a REMOVE needs no values)
            update["ExpressionAttributeValues"] = serialize(values)
        if condition:
            update["ConditionExpression"] = condition
        if names:
            update["ExpressionAttributeNames"] = dict(names)
        return Write({"Update": update}, fails_with)  # type: ignore[typeddict-item]

    def delete_op(
        self,
        pk: str,
        sk: str,
        *,
        condition: str | None = None,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
        fails_with: type[ConditionFailed] = ConditionFailed,
    ) -> Write:
        delete: dict[str, Any] = {"TableName": self.name, "Key": serialize({"PK": pk, "SK": sk})}
        if condition:
            delete["ConditionExpression"] = condition
        if values:
            delete["ExpressionAttributeValues"] = serialize(values)
        if names:
            delete["ExpressionAttributeNames"] = dict(names)
        return Write({"Delete": delete}, fails_with)  # type: ignore[typeddict-item]

    def probe(self) -> None:
        """Read one (absent) item: raises if the table cannot be reached. Costs 0.5 RCU."""
        self.get("HEALTH", "HEALTH")


@cache
def get_table() -> Table:
    return Table(get_settings().table_name, aws.dynamodb())
