"""A thin typed wrapper over the DynamoDB client for the single table: (de)serialisation and the calls
this service makes. Domain code never sees attribute-value JSON."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from mkt_whatsapp import aws
from mkt_whatsapp.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

Item = dict[str, Any]

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in item.items() if value is not None}


def deserialize(item: Mapping[str, Any]) -> Item:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


class TransactionCancelled(Exception):
    """A transaction's condition failed; ``reasons`` holds one code per item, in order (``"None"`` if fine)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(f"transaction cancelled: {reasons}")
        self.reasons = reasons


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

    def query_prefix(self, pk: str, sk_prefix: str, *, consistent: bool = False) -> list[Item]:
        """All items of a partition whose sort key starts with ``sk_prefix`` (a bounded set by design)."""
        items: list[Item] = []
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": serialize({":pk": pk, ":prefix": sk_prefix}),
            "ConsistentRead": consistent,
        }
        while True:
            response = self.client.query(**kwargs)
            items.extend(deserialize(raw) for raw in response.get("Items", []))
            last = response.get("LastEvaluatedKey")
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

    def transact_write(self, operations: Sequence[TransactWriteItemTypeDef]) -> None:
        try:
            self.client.transact_write_items(TransactItems=list(operations))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = [str(reason.get("Code", "None")) for reason in error.response.get("CancellationReasons", [])]
            raise TransactionCancelled(reasons) from error

    def put_op(
        self, item: Mapping[str, Any], *, condition: str | None = None, values: Mapping[str, Any] | None = None
    ) -> TransactWriteItemTypeDef:
        put: dict[str, Any] = {"TableName": self.name, "Item": serialize(item)}
        if condition:
            put["ConditionExpression"] = condition
        if values:
            put["ExpressionAttributeValues"] = serialize(values)
        return {"Put": put}  # type: ignore[typeddict-item]

    def update_op(
        self,
        pk: str,
        sk: str,
        expression: str,
        values: Mapping[str, Any],
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
    ) -> TransactWriteItemTypeDef:
        update: dict[str, Any] = {
            "TableName": self.name,
            "Key": serialize({"PK": pk, "SK": sk}),
            "UpdateExpression": expression,
            "ExpressionAttributeValues": serialize(values),
        }
        if condition:
            update["ConditionExpression"] = condition
        if names:
            update["ExpressionAttributeNames"] = dict(names)
        return {"Update": update}  # type: ignore[typeddict-item]

    def delete_op(
        self, pk: str, sk: str, *, condition: str | None = None, values: Mapping[str, Any] | None = None
    ) -> TransactWriteItemTypeDef:
        delete: dict[str, Any] = {"TableName": self.name, "Key": serialize({"PK": pk, "SK": sk})}
        if condition:
            delete["ConditionExpression"] = condition
        if values:
            delete["ExpressionAttributeValues"] = serialize(values)
        return {"Delete": delete}  # type: ignore[typeddict-item]

    def probe(self) -> None:
        """Read one (absent) item: raises if the table cannot be reached. Costs 0.5 RCU."""
        self.get("HEALTH", "HEALTH")


@cache
def get_table() -> Table:
    return Table(get_settings().table_name, aws.dynamodb())
