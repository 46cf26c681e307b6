"""local.moto_seams: moto's transactions backed by item snapshots keep moto's all-or-nothing behaviour and
its cancellation reasons — each case runs once with moto's own transact_write_items and once with the seam,
on tables of their own, and both must end the same."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local import moto_seams
from local import template as tpl
from tests.support import AwsStack

_TABLES = itertools.count(1)

SEED = [
    {"PK": {"S": "SHOP#a"}, "SK": {"S": "ACCOUNT"}, "status": {"S": "active"}, "count": {"N": "1"}},
    {"PK": {"S": "SHOP#a"}, "SK": {"S": "USAGE"}, "count": {"N": "5"}},
    {"PK": {"S": "PHONE#1"}, "SK": {"S": "PHONE"}, "shopId": {"S": "a"}},
]


@pytest.fixture
def table(aws: AwsStack) -> Iterator[Callable[[], tuple[Any, str]]]:
    """Makes a seeded table like the template's; deletes them afterwards."""
    dynamodb = aws.client("dynamodb")
    made: list[str] = []

    def make() -> tuple[Any, str]:
        name = f"seam-{next(_TABLES)}"
        tpl.create_table(aws.session, "Table", name)
        for item in SEED:
            dynamodb.put_item(TableName=name, Item=item)
        made.append(name)
        return dynamodb, name

    yield make
    for name in made:
        dynamodb.delete_table(TableName=name)
    moto_seams.install()


def contents(dynamodb: Any, name: str) -> list[dict[str, Any]]:
    return sorted(dynamodb.scan(TableName=name)["Items"], key=lambda item: (item["PK"]["S"], item["SK"]["S"]))


def stream_changes(dynamodb: Any, name: str) -> list[tuple[str, Any, Any, Any]]:
    """The table's stream: each record's event, keys and images, in order."""
    import boto3

    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    arn = dynamodb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    [shard] = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=1000)["Records"]
    return [
        (r["eventName"], r["dynamodb"]["Keys"], r["dynamodb"].get("OldImage"), r["dynamodb"].get("NewImage"))
        for r in records
    ]


def run(make: Callable[[], tuple[Any, str]], items: Callable[[str], list[dict[str, Any]]], *, seam: bool) -> tuple:
    """Run the transaction on a fresh seeded table; the table's items, the error (code, reasons) and the
    table's stream after."""
    if seam:
        moto_seams.install()
    else:
        moto_seams.uninstall()
    dynamodb, name = make()
    try:
        dynamodb.transact_write_items(TransactItems=items(name))
        error: tuple | None = None
    except ClientError as failure:
        error = (
            failure.response["Error"]["Code"],
            failure.response["Error"]["Message"],
            failure.response.get("CancellationReasons"),
        )
    finally:
        moto_seams.install()
    return contents(dynamodb, name), error, stream_changes(dynamodb, name)


def new_item(name: str) -> dict[str, Any]:
    return {"Put": {"TableName": name, "Item": {"PK": {"S": "SHOP#b"}, "SK": {"S": "ACCOUNT"}, "status": {"S": "new"}}}}


def update_count(name: str) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": name,
            "Key": {"PK": {"S": "SHOP#a"}, "SK": {"S": "ACCOUNT"}},
            "UpdateExpression": "SET #c = #c + :one, #s = :s",
            "ExpressionAttributeNames": {"#c": "count", "#s": "status"},
            "ExpressionAttributeValues": {":one": {"N": "1"}, ":s": {"S": "changed"}},
        }
    }


def delete_usage(name: str) -> dict[str, Any]:
    return {"Delete": {"TableName": name, "Key": {"PK": {"S": "SHOP#a"}, "SK": {"S": "USAGE"}}}}


def claim_taken_phone(name: str, return_old: bool = False) -> dict[str, Any]:
    put: dict[str, Any] = {
        "TableName": name,
        "Item": {"PK": {"S": "PHONE#1"}, "SK": {"S": "PHONE"}, "shopId": {"S": "b"}},
        "ConditionExpression": "attribute_not_exists(PK)",
    }
    if return_old:
        put["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    return {"Put": put}


TRANSACTION_EVENTS = [("INSERT", "SHOP#b"), ("MODIFY", "SHOP#a"), ("REMOVE", "SHOP#a")]

CASES: dict[str, Callable[[str], list[dict[str, Any]]]] = {
    "all succeed": lambda name: [new_item(name), update_count(name), delete_usage(name)],
    "the last fails its condition": lambda name: [
        new_item(name),
        update_count(name),
        delete_usage(name),
        claim_taken_phone(name),
    ],
    "the first fails, with the old item": lambda name: [
        claim_taken_phone(name, return_old=True),
        new_item(name),
        delete_usage(name),
    ],
    "a condition check fails": lambda name: [
        update_count(name),
        {
            "ConditionCheck": {
                "TableName": name,
                "Key": {"PK": {"S": "SHOP#a"}, "SK": {"S": "ACCOUNT"}},
                "ConditionExpression": "#s = :gone",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {":gone": {"S": "disconnected"}},
            }
        },
    ],
    "an update that cannot apply": lambda name: [
        new_item(name),
        {
            "Update": {
                "TableName": name,
                "Key": {"PK": {"S": "SHOP#a"}, "SK": {"S": "ACCOUNT"}},
                "UpdateExpression": "SET #c = #c + :text",
                "ExpressionAttributeNames": {"#c": "count"},
                "ExpressionAttributeValues": {":text": {"S": "x"}},
            }
        },
    ],
    "a missing table": lambda name: [new_item(name), new_item("no-such-table")],
    "the same item twice": lambda name: [new_item(name), update_count(name), delete_usage(name), new_item(name)],
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_seam_ends_as_motos_own_transaction_does(table, case: str) -> None:
    items = CASES[case]
    assert run(table, items, seam=True) == run(table, items, seam=False)


@pytest.mark.parametrize("case", [name for name in CASES if name != "all succeed"])
def test_a_failed_transaction_leaves_every_touched_item_as_it_was(table, case: str) -> None:
    dynamodb, name = table()
    before = contents(dynamodb, name)
    stream_before = stream_changes(dynamodb, name)
    after, error, stream_after = run(lambda: (dynamodb, name), CASES[case], seam=True)
    assert error is not None
    assert after == before  # no new item created, the deleted item restored, the updated one unchanged
    assert stream_after == stream_before  # and no stream record of the writes undone


def test_the_cancellation_reasons_name_each_item(table) -> None:
    _, error, _ = run(table, CASES["the last fails its condition"], seam=True)
    assert error is not None
    code, _, reasons = error
    assert code == "TransactionCanceledException"
    assert [reason["Code"] for reason in reasons] == ["None", "None", "None", "ConditionalCheckFailed"]


def test_a_successful_transaction_applies_every_item(table) -> None:
    after, error, stream = run(table, CASES["all succeed"], seam=True)
    assert error is None
    # The table's stream has a record of each of the transaction's writes, after the seed's three.
    assert [(event, keys["PK"]["S"]) for event, keys, _, _ in stream[len(SEED) :]] == [
        (event, pk) for event, pk in TRANSACTION_EVENTS
    ]
    assert {(item["PK"]["S"], item["SK"]["S"]) for item in after} == {
        ("PHONE#1", "PHONE"),
        ("SHOP#a", "ACCOUNT"),
        ("SHOP#b", "ACCOUNT"),
    }
    [account] = [item for item in after if item["PK"]["S"] == "SHOP#a"]
    assert account["count"] == {"N": "2"}
    assert account["status"] == {"S": "changed"}


def test_the_seam_copies_no_table(table, monkeypatch) -> None:
    """What makes it fast: no deep copy of a whole table, however large."""
    import copy

    from moto.dynamodb.models.table import Table

    copied: list[str] = []
    real_deepcopy = copy.deepcopy

    def watching_deepcopy(value: Any, memo: Any = None) -> Any:
        if isinstance(value, Table):
            copied.append(value.name)
        return real_deepcopy(value, memo)

    monkeypatch.setattr(copy, "deepcopy", watching_deepcopy)
    run(table, CASES["the last fails its condition"], seam=True)
    assert copied == []
    run(table, CASES["the last fails its condition"], seam=False)
    assert copied  # the check sees moto's own copies


def test_a_write_that_changes_nothing_leaves_no_stream_record(table) -> None:
    """DynamoDB Streams records a change only; moto records every write (so without the seam, a counter
    reading MODIFY records would see a change that never happened)."""
    dynamodb, name = table()
    before = stream_changes(dynamodb, name)
    same = dict(SEED[0])
    dynamodb.put_item(TableName=name, Item=same)
    dynamodb.update_item(
        TableName=name,
        Key={"PK": same["PK"], "SK": same["SK"]},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": same["status"]},
    )
    dynamodb.transact_write_items(TransactItems=[{"Put": {"TableName": name, "Item": same}}])
    assert stream_changes(dynamodb, name) == before
    moto_seams.uninstall()
    try:
        dynamodb.put_item(TableName=name, Item=same)
        assert len(stream_changes(dynamodb, name)) == len(before) + 1  # moto's own records it
    finally:
        moto_seams.install()


def test_stream_reads_wait_for_a_dynamodb_request_in_progress(table) -> None:
    """A transaction's records are in moto's stream while it runs and taken out if it is cancelled: a
    reader must not see them in between (it would deliver changes that never happened)."""
    import threading

    import boto3

    dynamodb, name = table()
    arn = dynamodb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    done = threading.Event()

    def describe() -> None:
        streams.describe_stream(StreamArn=arn)
        done.set()

    with moto_seams._DYNAMODB_REQUEST:  # a DynamoDB request in progress
        reader = threading.Thread(target=describe)
        reader.start()
        assert not done.wait(0.5)
    reader.join(5)
    assert done.is_set()


def test_install_refuses_another_moto_version(monkeypatch) -> None:
    monkeypatch.setattr(moto_seams.moto, "__version__", "9.9.9")
    with pytest.raises(RuntimeError, match=r"9\.9\.9"):
        moto_seams.install()


def test_a_conditional_claim_raced_by_many_threads_is_won_once(table: Callable[[], tuple[Any, str]]) -> None:
    """As in DynamoDB, a condition and its write are one step: of threads claiming one item at once (the
    sender's concurrent records), exactly one wins each round."""
    import threading

    dynamodb, name = table()
    moto_seams.install()
    threads, rounds = 8, 25
    for round_number in range(rounds):
        key = {"PK": {"S": f"MSG#{round_number}"}, "SK": {"S": "MESSAGE"}}
        dynamodb.put_item(TableName=name, Item={**key, "status": {"S": "queued"}})
        won: list[int] = []
        refused: list[str] = []
        start = threading.Barrier(threads)

        def claim(
            thread: int, key: dict = key, won: list[int] = won, refused: list[str] = refused, start: Any = start
        ) -> None:
            start.wait()
            try:
                dynamodb.update_item(
                    TableName=name,
                    Key=key,
                    UpdateExpression="SET #status = :sending, claimedBy = :thread",
                    ConditionExpression="#status = :queued",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={
                        ":sending": {"S": "sending"},
                        ":queued": {"S": "queued"},
                        ":thread": {"N": str(thread)},
                    },
                )
            except ClientError as error:
                refused.append(error.response["Error"]["Code"])
            else:
                won.append(thread)

        workers = [threading.Thread(target=claim, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert len(won) == 1, f"round {round_number}: {won} all claimed the item"
        assert refused == ["ConditionalCheckFailedException"] * (threads - 1)
        stored = dynamodb.get_item(TableName=name, Key=key)["Item"]
        assert stored["claimedBy"] == {"N": str(won[0])}


def test_stopping_an_execution_whose_thread_has_not_built_its_environment_waits_for_it(monkeypatch) -> None:
    """moto builds an execution's environment in the execution's thread; a StopExecution just after the
    StartExecution waits for it (AWS stops an execution at any moment) instead of raising AttributeError."""
    import threading
    from types import SimpleNamespace

    from local import stepfunctions

    stopped: list[Any] = []
    worker = SimpleNamespace(env=None)
    monkeypatch.setattr(stepfunctions, "_ORIGINAL_STOP", lambda self, *args: self.env.set_stop(*args))

    def build_environment() -> None:
        worker.env = SimpleNamespace(set_stop=lambda *args: stopped.append(args))

    threading.Timer(0.05, build_environment).start()
    stepfunctions._stop_once_started(worker, "now", None, "the campaign changed")
    assert stopped == [("now", None, "the campaign changed")]

    monkeypatch.setattr(stepfunctions, "STOP_WAIT_SECONDS", 0.05)
    never = SimpleNamespace(env=None)
    stepfunctions._stop_once_started(never, "now", None, "gone")  # nothing to stop: no error
