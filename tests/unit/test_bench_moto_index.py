"""bench/moto_index.py answers an index Query exactly as moto does, page after page, while items of the
partition are written, moved out of it and deleted between the pages."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bench import moto_index


def _table(name: str) -> Any:
    """A table of its own (the suite's workers keep one emulator for all their tests)."""
    resource = boto3.resource("dynamodb", region_name="us-east-1")
    return resource.create_table(
        TableName=f"{name}-{uuid.uuid4().hex[:12]}",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": attribute, "AttributeType": "S"} for attribute in ("PK", "SK", "GSI2PK", "GSI2SK")
        ],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "GSI2",
                "KeySchema": [
                    {"AttributeName": "GSI2PK", "KeyType": "HASH"},
                    {"AttributeName": "GSI2SK", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )


@pytest.fixture
def emulator() -> Iterator[None]:
    with mock_aws():
        try:
            yield
        finally:
            moto_index.uninstall()


def _customer(n: int, partition: str = "P#1", sort: str | None = None) -> dict[str, Any]:
    # Several customers share a sort value: the table's keys break the tie, as in DynamoDB.
    return {
        "PK": "SHOP#1",
        "SK": f"C#{n:05d}",
        "GSI2PK": partition,
        "GSI2SK": sort or f"2026-01-{n % 7:02d}",
        "tags": ["vip"] if n % 3 else ["other"],
    }


def _pages(table: Any, between: Any = None, **extra: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    kwargs: dict[str, Any] = {
        "IndexName": "GSI2",
        "KeyConditionExpression": "GSI2PK = :p",
        "ExpressionAttributeValues": {":p": "P#1", **extra.pop("values", {})},
        "Limit": 7,
        **extra,
    }
    while len(pages) < 100:  # 120 items, 7 a page, a few more written meanwhile
        page = table.query(**kwargs)
        pages.append([item["SK"] for item in page["Items"]])
        if between is not None:
            between(len(pages))
        if "LastEvaluatedKey" not in page:
            return pages
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    raise AssertionError("the pages never ended")


def _writes(table: Any, seed: int) -> Any:
    chance = random.Random(seed)

    def between(page: int) -> None:
        n = chance.randrange(200)
        action = chance.choice(("put", "move", "delete", "other"))
        if action == "put":
            table.put_item(Item=_customer(100 + n + page * 1000, sort=f"2026-01-{chance.randrange(9):02d}"))
        elif action == "move":
            table.update_item(
                Key={"PK": "SHOP#1", "SK": f"C#{n:05d}"},
                UpdateExpression="SET GSI2SK = :s",
                ExpressionAttributeValues={":s": "2026-02-01"},
            )
        elif action == "delete":
            table.delete_item(Key={"PK": "SHOP#1", "SK": f"C#{n:05d}"})
        else:
            table.put_item(Item={"PK": "CAMPAIGN#1", "SK": f"RECIPIENT#{n}"})
        # A query of the table's partition after each write: the sorted partition it was read from is dropped.
        for prefix in ("C#000", "RECIPIENT#"):
            partition = "CAMPAIGN#1" if prefix == "RECIPIENT#" else "SHOP#1"
            read = table.query(
                KeyConditionExpression="PK = :p AND begins_with(SK, :s)",
                ExpressionAttributeValues={":p": partition, ":s": prefix},
            )["Items"]
            seen.append([item["SK"] for item in read])

    seen: list[list[str]] = []
    between.seen = seen  # type: ignore[attr-defined]
    return between


def _filled(name: str) -> Any:
    table = _table(name)
    with table.batch_writer() as batch:
        for n in range(120):
            batch.put_item(Item=_customer(n, partition="P#1" if n % 5 else "P#2"))
    return table


@pytest.mark.usefixtures("emulator")
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pages_are_moto_s_under_writes_between_them(seed: int) -> None:
    plain = _filled("plain")
    plain_writes = _writes(plain, seed)
    expected = _pages(plain, plain_writes, FilterExpression="contains(tags, :t)", values={":t": "vip"})
    moto_index.install()
    seamed = _filled("seamed")
    seamed_writes = _writes(seamed, seed)
    answered = _pages(seamed, seamed_writes, FilterExpression="contains(tags, :t)", values={":t": "vip"})
    assert answered == expected
    assert seamed_writes.seen == plain_writes.seen
    assert len(expected) > 5
    assert sum(map(len, expected)) > 40


@pytest.mark.usefixtures("emulator")
def test_queries_it_does_not_cover_are_moto_s() -> None:
    table = _filled("t")
    descending = _pages(table, ScanIndexForward=False)
    moto_index.install()
    assert _pages(table, ScanIndexForward=False) == descending
    assert descending[0][0] != _pages(table)[0][0]


@pytest.mark.usefixtures("emulator")
def test_table_queries_read_the_partition_as_moto_does() -> None:
    table = _filled("t")
    with table.batch_writer() as batch:
        for n in range(30):
            batch.put_item(Item={"PK": "CAMPAIGN#1", "SK": f"RECIPIENT#{n:03d}"})
            batch.put_item(Item={"PK": "CAMPAIGN#1", "SK": f"COUNTS#{n % 16:02d}"})

    def read() -> list[list[str]]:
        pages = []
        for condition in ("PK = :p AND begins_with(SK, :s)", "PK = :p"):
            kwargs: dict[str, Any] = {
                "KeyConditionExpression": condition,
                "ExpressionAttributeValues": {
                    ":p": "CAMPAIGN#1",
                    **({":s": "RECIPIENT#"} if ":s" in condition else {}),
                },
                "Limit": 9,
            }
            while True:
                page = table.query(**kwargs)
                pages.append([item["SK"] for item in page["Items"]])
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return pages

    expected = read()
    moto_index.install()
    assert read() == expected
    assert sum(map(len, expected)) == 30 + 46


@pytest.mark.usefixtures("emulator")
def test_a_table_query_reads_only_its_partition_and_its_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    """The seam's point: the whole table is never walked for a covered query (moto's Table.all_items)."""
    from moto.dynamodb.models.table import Table

    table = _filled("t")
    table.put_item(Item={"PK": "SHOP#1", "SK": "ACCOUNT"})
    table.put_item(Item={"PK": "SHOP#1", "SK": "ACCOUNT#USAGE#1"})
    moto_index.install()

    def walked(self: Any) -> list[Any]:
        raise AssertionError("moto walked the whole table")

    monkeypatch.setattr(Table, "all_items", walked)
    prefix = table.query(
        KeyConditionExpression="PK = :p AND begins_with(SK, :s)",
        ExpressionAttributeValues={":p": "SHOP#1", ":s": "ACCOUNT"},
    )["Items"]
    assert [item["SK"] for item in prefix] == ["ACCOUNT", "ACCOUNT#USAGE#1"]
    exact = table.query(
        KeyConditionExpression="PK = :p AND SK = :s", ExpressionAttributeValues={":p": "SHOP#1", ":s": "C#00007"}
    )["Items"]
    assert [item["SK"] for item in exact] == ["C#00007"]
    index = table.query(
        IndexName="GSI2", KeyConditionExpression="GSI2PK = :p", ExpressionAttributeValues={":p": "P#2"}
    )["Items"]
    assert len(index) == 24
