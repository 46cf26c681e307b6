"""The table's stream to StatsFunction, as Lambda's DynamoDB event source mapping delivers it: Lambda's event
shape, the template's filter (messages, conversations, AI replies), transactional writes included, and a
failed batch delivered again whole, in order (local/stream_worker.py; the counting itself is the analytics
package's)."""

from __future__ import annotations

import dataclasses
import time
import uuid
from typing import Any

import pytest

from local import template as tpl
from local.lambdas import FunctionError
from local.stream_worker import kept, matches, stream_mapping
from mkt_whatsapp.analytics import counting
from mkt_whatsapp.inbound import processor
from tests.support import AwsStack, ShopIds, connect_shop, drain_stats, inbound_text_change, stream_poller


@pytest.fixture
def delivered(monkeypatch: pytest.MonkeyPatch) -> list[list[dict[str, Any]]]:
    """Every batch StatsFunction's ``count_records`` is given."""
    batches: list[list[dict[str, Any]]] = []

    def capture(records: list[dict[str, Any]]) -> dict[str, int]:
        batches.append(records)
        return {"records": len(records)}

    monkeypatch.setattr(counting, "count_records", capture)
    return batches


def put(aws: AwsStack, pk: str, sk: str = "ITEM", **attributes: str) -> None:
    item = {"PK": {"S": pk}, "SK": {"S": sk}, **{name: {"S": value} for name, value in attributes.items()}}
    aws.client("dynamodb").put_item(TableName=aws.table_name, Item=item)


def keys(batches: list[list[dict[str, Any]]]) -> list[tuple[str, str, str]]:
    return [
        (record["eventName"], record["dynamodb"]["Keys"]["PK"]["S"], record["dynamodb"]["Keys"]["SK"]["S"])
        for batch in batches
        for record in batch
    ]


def test_an_inbound_message_reaches_stats_in_lambdas_event_shape(
    api: Any, aws: AwsStack, shop_ids: ShopIds, delivered: list
) -> None:
    connect_shop(api)
    drain_stats(aws)  # what connecting wrote (nothing of it is counted)
    delivered.clear()
    processor.process_change(inbound_text_change(shop_ids.phone_number_id, "84901234567", "wamid.STATS-1"))

    assert drain_stats(aws) >= 2
    records = [record for batch in delivered for record in batch]
    # The message's INSERT (a MODIFY may follow: its automation settled, when flows or agents are registered).
    messages = [
        r for r in records if r["dynamodb"]["Keys"]["PK"]["S"].startswith("MSG#") and r["eventName"] == "INSERT"
    ]
    conversations = [r for r in records if r["dynamodb"]["Keys"]["PK"]["S"].startswith("CONV#")]
    [message] = messages
    assert conversations
    assert all(r["eventName"] in ("INSERT", "MODIFY") for r in conversations)
    stream_arn = aws.client("dynamodb").describe_table(TableName=aws.table_name)["Table"]["LatestStreamArn"]
    assert set(message) == {
        "eventID",
        "eventName",
        "eventVersion",
        "eventSource",
        "awsRegion",
        "dynamodb",
        "eventSourceARN",
    }
    assert (message["eventName"], message["eventSource"], message["awsRegion"]) == (
        "INSERT",
        "aws:dynamodb",
        "us-east-1",
    )
    assert message["eventSourceARN"] == stream_arn
    stream = message["dynamodb"]
    assert stream["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert stream["Keys"] == {"PK": stream["NewImage"]["PK"], "SK": {"S": "MESSAGE"}}
    assert "OldImage" not in stream
    assert stream["NewImage"]["direction"] == {"S": "inbound"}
    assert stream["NewImage"]["shopId"] == {"S": shop_ids.shop_id}
    assert isinstance(stream["ApproximateCreationDateTime"], int)
    assert abs(stream["ApproximateCreationDateTime"] - time.time()) < 120
    assert int(stream["SequenceNumber"]) > 0
    assert stream["SizeBytes"] > 0
    # In order within the shard, and nothing delivered twice.
    numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert numbers == sorted(set(numbers))
    assert drain_stats(aws) == 0


def test_only_messages_conversations_and_ai_replies_are_delivered(aws: AwsStack, delivered: list) -> None:
    for pk in ("MSG#1", "CONV#1", "AIREPLY#1", "SHOP#1", "FLOWRUN#1", "CUST#1", "XMSG#1", "CONV#1#MESSAGES"):
        put(aws, pk)

    assert drain_stats(aws) == 4
    assert keys(delivered) == [
        ("INSERT", "MSG#1", "ITEM"),
        ("INSERT", "CONV#1", "ITEM"),
        ("INSERT", "AIREPLY#1", "ITEM"),
        ("INSERT", "CONV#1#MESSAGES", "ITEM"),  # a prefix filter: CONV#… is kept whatever follows
    ]


def test_updates_and_deletes_carry_old_and_new_images_and_a_write_that_changes_nothing_none(
    aws: AwsStack, delivered: list
) -> None:
    put(aws, "MSG#7", status="queued")
    table = aws.client("dynamodb")
    key = {"PK": {"S": "MSG#7"}, "SK": {"S": "ITEM"}}
    for status in ("sent", "sent"):  # the second changes nothing: DynamoDB Streams records nothing
        table.update_item(
            TableName=aws.table_name,
            Key=key,
            UpdateExpression="SET #s = :s",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": status}},
        )
    table.delete_item(TableName=aws.table_name, Key=key)

    drain_stats(aws)

    [records] = delivered
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    modify, remove = records[1]["dynamodb"], records[2]["dynamodb"]
    assert (modify["OldImage"]["status"], modify["NewImage"]["status"]) == ({"S": "queued"}, {"S": "sent"})
    assert remove["OldImage"]["status"] == {"S": "sent"}
    assert "NewImage" not in remove


def test_a_transactions_items_are_delivered_and_a_cancelled_ones_are_not(aws: AwsStack, delivered: list) -> None:
    table = aws.client("dynamodb")
    name = aws.table_name
    table.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": name, "Item": {"PK": {"S": "MSG#t1"}, "SK": {"S": "MESSAGE"}}}},
            {"Put": {"TableName": name, "Item": {"PK": {"S": "CONV#t1"}, "SK": {"S": "CONV"}}}},
            {"Put": {"TableName": name, "Item": {"PK": {"S": "CUST#t1"}, "SK": {"S": "CUST"}}}},
        ]
    )
    with pytest.raises(table.exceptions.TransactionCanceledException):
        table.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": name, "Item": {"PK": {"S": "MSG#t2"}, "SK": {"S": "MESSAGE"}}}},
                {
                    "Put": {
                        "TableName": name,
                        "Item": {"PK": {"S": "MSG#t1"}, "SK": {"S": "MESSAGE"}},
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                },
            ]
        )
    put(aws, "MSG#after")

    drain_stats(aws)

    assert keys(delivered) == [
        ("INSERT", "MSG#t1", "MESSAGE"),
        ("INSERT", "CONV#t1", "CONV"),
        ("INSERT", "MSG#after", "ITEM"),
    ]


def test_a_failed_batch_is_delivered_again_whole_and_in_order(
    aws: AwsStack, delivered: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    for number in range(5):
        put(aws, f"MSG#{number}")
    attempts: list[list[dict[str, Any]]] = []

    def failing(records: list[dict[str, Any]]) -> dict[str, int]:
        attempts.append(records)
        raise RuntimeError("counters unavailable")

    monkeypatch.setattr(counting, "count_records", failing)
    with pytest.raises(FunctionError, match="counters unavailable"):
        drain_stats(aws)
    put(aws, "MSG#late")  # written after the failure: not added to the batch being retried
    with pytest.raises(FunctionError):
        drain_stats(aws)
    assert len(attempts) == 2
    assert attempts[0] == attempts[1]
    assert [r["dynamodb"]["Keys"]["PK"]["S"] for r in attempts[0]] == [f"MSG#{n}" for n in range(5)]

    monkeypatch.setattr(counting, "count_records", lambda records: delivered.append(records) or {})
    assert drain_stats(aws) == 6
    assert delivered[0] == attempts[0]  # the same records, ids and sequence numbers included
    assert keys(delivered[1:]) == [("INSERT", "MSG#late", "ITEM")]
    assert drain_stats(aws) == 0


def test_batches_hold_at_most_the_templates_batch_size(aws: AwsStack, delivered: list) -> None:
    poller = stream_poller(aws)
    assert poller.mapping.batch_size == 1000
    poller.mapping = dataclasses.replace(poller.mapping, batch_size=3)
    for number in range(7):
        put(aws, f"MSG#{number}")

    assert drain_stats(aws) == 7
    assert [len(batch) for batch in delivered] == [3, 3, 1]


def test_the_mapping_is_the_templates_event_source() -> None:
    [event] = [e for e in tpl.functions()["StatsFunction"].events.values() if e["Type"] == "DynamoDB"]
    props = event["Properties"]
    assert props["Stream"] == {"Fn::GetAtt": ["Table", "StreamArn"]}
    assert (props["StartingPosition"], props["MaximumRetryAttempts"]) == ("TRIM_HORIZON", -1)
    assert (props["BisectBatchOnFunctionError"], props["ParallelizationFactor"]) == (False, 1)
    assert props["BatchSize"] == 1000
    assert props["MaximumBatchingWindowInSeconds"] == 5
    assert tpl.resources()["Table"]["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    mapping = stream_mapping("StatsFunction", "t", props)
    assert mapping.filters == tuple(
        {"dynamodb": {"Keys": {"PK": {"S": [{"prefix": prefix}]}}}} for prefix in ("MSG#", "CONV#", "AIREPLY#")
    )
    alarm = tpl.resources()["StatsIteratorAgeAlarm"]["Properties"]
    assert (alarm["MetricName"], alarm["Threshold"]) == ("IteratorAge", 300000)


def record(pk: str) -> dict[str, Any]:
    return {"eventName": "INSERT", "dynamodb": {"Keys": {"PK": {"S": pk}, "SK": {"S": "X"}}}}


def test_the_filter_matcher_reads_patterns_as_lambda_does() -> None:
    pattern = {"dynamodb": {"Keys": {"PK": {"S": [{"prefix": "MSG#"}, "EXACT"]}}}}
    assert matches(pattern, record("MSG#1"))
    assert matches(pattern, record("EXACT"))
    assert not matches(pattern, record("EXACTLY"))
    assert not matches(pattern, record("msg#1"))
    assert not matches(pattern, {"dynamodb": {"Keys": {"PK": {"N": "1"}}}})
    assert not matches({"eventName": ["REMOVE"]}, record("MSG#1"))
    assert kept(record("anything"), ())  # no filters: every record
    assert kept(
        record("CONV#1"), ({"eventName": ["REMOVE"]}, {"dynamodb": {"Keys": {"PK": {"S": [{"prefix": "CONV#"}]}}}})
    )
    with pytest.raises(NotImplementedError):
        matches({"dynamodb": {"Keys": {"PK": {"S": [{"anything-but": ["x"]}]}}}}, record("x"))


def test_a_new_table_starts_its_stream_afresh(aws: AwsStack, delivered: list) -> None:
    """Positions are per stream: a drain of another table's stream starts at that stream's first record."""
    put(aws, f"MSG#{uuid.uuid4()}")
    assert drain_stats(aws) == 1
    other = f"{aws.table_name}-other"
    tpl.create_table(aws.session, "Table", other)
    try:
        stack = AwsStack(physical={**aws.physical, "Table": other}, session=aws.session)
        put(stack, "MSG#other")
        assert drain_stats(stack) == 1
        assert keys(delivered[-1:]) == [("INSERT", "MSG#other", "ITEM")]
    finally:
        aws.client("dynamodb").delete_table(TableName=other)


def test_the_local_stacks_poller_delivers_in_the_background_and_stops_at_once(aws: AwsStack, delivered: list) -> None:
    """What ``make dev`` runs (local/stack.py starts one per DynamoDB event of the template)."""
    from local.stream_worker import StreamPoller
    from tests.support import lambdas

    mapping = stream_poller(aws).mapping
    poller = StreamPoller(
        lambdas(), mapping, aws.client("dynamodb"), aws.client("dynamodbstreams"), "us-east-1", idle_seconds=0.05
    ).start()
    try:
        put(aws, "MSG#bg")
        put(aws, "SHOP#bg")
        deadline = time.monotonic() + 10
        while not delivered and time.monotonic() < deadline:
            time.sleep(0.05)
        assert keys(delivered) == [("INSERT", "MSG#bg", "ITEM")]
    finally:
        started = time.monotonic()
        poller.request_stop()
        poller.join(5)
    assert time.monotonic() - started < 1
    assert poller.batches_delivered == 1


def test_a_message_is_counted_once_when_its_batch_fails_after_counting(
    api: Any, aws: AwsStack, shop_ids: ShopIds, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plumbing with the real counting: the invocation fails after its transaction was written (a
    timeout), Lambda delivers the same batch again, and the batch's marker makes the second count a no-op."""
    at = int(time.time())
    connect_shop(api)
    processor.process_change(inbound_text_change(shop_ids.phone_number_id, "84901234567", "wamid.STATS-ONCE", at=at))
    real = counting.count_records
    answers: list[dict[str, int]] = []

    def count_then_time_out(records: list[dict[str, Any]]) -> dict[str, int]:
        answers.append(real(records))
        if len(answers) == 1:
            raise TimeoutError("the invocation timed out after its write")
        return answers[-1]

    monkeypatch.setattr(counting, "count_records", count_then_time_out)
    with pytest.raises(FunctionError, match="timed out"):
        drain_stats(aws)
    assert drain_stats(aws) >= 1
    first, again = answers
    assert first["counted"] >= 1
    assert again["chunks"] >= 1
    assert again["skipped"] == again["chunks"]
    today = time.strftime("%Y-%m-%d", time.gmtime(at))  # the UTC day of the message's timestamp
    reply = api.get("/analytics/messages", query={"shopId": shop_ids.shop_id, "startDate": today, "endDate": today})
    assert reply.status == 200, reply.text
    assert [(m["inboundCount"], m["outboundCount"]) for m in reply.data["metrics"]] == [(1, 0)]
