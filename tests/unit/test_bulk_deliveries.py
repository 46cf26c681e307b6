"""Bulk deliveries: the receiver packs many changes into few queue messages and few SQS calls, cuts a huge
change into pieces, keeps an event too large for the queue in S3; the processor applies a message of
several changes exactly once, queues a failed change again on its own, and still reads the one-change
messages an earlier version queued."""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import pytest

from local.lambdas import FunctionError
from local.make_events import bulk_webhook_body, sqs_event
from mkt_whatsapp.core.errors import ServiceUnavailable
from mkt_whatsapp.inbound import packing, processor
from mkt_whatsapp.store import get_table
from mkt_whatsapp.store import messages as message_store
from tests.support import (
    ApiClient,
    AwsStack,
    ShopIds,
    connect_shop,
    counted_aws_calls,
    drain_inbound,
    inbound_text_change,
    lambdas,
    post_webhook,
    queue_depth,
)


def queued_bodies(aws: AwsStack) -> list[Any]:
    """Every message on the inbound queue (taken off it), JSON-decoded."""
    sqs, url = aws.client("sqs"), aws.physical["InboundQueue"]
    bodies = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        bodies += [json.loads(message["Body"]) for message in messages]
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        )
    return bodies


def in_queue(aws: AwsStack) -> list[str]:
    """The bodies of the messages on the inbound queue, in flight ones too (read in the emulator)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sqs.models import sqs_backends

    queue = sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_queue(aws.physical["InboundQueue"].rsplit("/", 1)[-1])
    return [message.body for message in queue._messages]


def wamids_of(units: list[dict[str, Any]]) -> list[str]:
    return [message["id"] for unit in units for message in unit["value"].get("messages", [])]


def stored(shop_id: str, wamid: str) -> dict[str, Any] | None:
    return message_store.get(get_table(), processor.inbound_message_id(shop_id, wamid))


@pytest.fixture
def shop(api: ApiClient, shop_ids: ShopIds) -> ApiClient:
    return connect_shop(api)


# --- the receiver: packing ------------------------------------------------------------------------------


def test_a_delivery_of_500_changes_is_two_sqs_calls_and_every_change_is_queued(
    shop: ApiClient, aws: AwsStack, shop_ids: ShopIds
) -> None:
    body = bulk_webhook_body(shop_ids.phone_number_id, changes=500, messages_per_change=1, tag="p500")
    with counted_aws_calls() as calls:
        assert post_webhook(shop, body).status == 200
    assert calls == Counter({"sqs:SendMessageBatch": 2})  # was 50: one message per change, ten per call

    messages = queued_bodies(aws)
    assert len(messages) == 500 // packing.MAX_EVENTS_PER_MESSAGE
    assert all(isinstance(message, list) for message in messages)
    units = [unit for message in messages for unit in message]
    assert wamids_of(units) == [f"wamid.BULK.p500.{n}" for n in range(500)]  # each once, in Meta's order


def test_a_change_of_1000_messages_is_cut_into_pieces_of_25_each_with_its_own_contacts(
    shop: ApiClient, aws: AwsStack, shop_ids: ShopIds
) -> None:
    body = bulk_webhook_body(shop_ids.phone_number_id, changes=1, messages_per_change=1000, tag="c1000")
    with counted_aws_calls() as calls:
        assert post_webhook(shop, body).status == 200
    assert calls == Counter({"sqs:SendMessageBatch": 4})

    units = [unit for message in queued_bodies(aws) for unit in message]
    assert len(units) == 40
    assert all(len(unit["value"]["messages"]) == 25 for unit in units)
    assert wamids_of(units) == [f"wamid.BULK.c1000.{n}" for n in range(1000)]
    for unit in units:
        assert [c["wa_id"] for c in unit["value"]["contacts"]] == [m["from"] for m in unit["value"]["messages"]]
        assert unit["value"]["metadata"]["phone_number_id"] == shop_ids.phone_number_id


def test_pieces_keep_the_contact_each_message_finds_in_the_whole_change() -> None:
    contacts = [{"wa_id": "841", "profile": {"name": "A"}}, {"user_id": "VN.2", "profile": {"name": "B"}}]
    messages = [
        {"id": "m1", "from": "841"},
        {"id": "m2", "from_user_id": "VN.2"},
        {"id": "m3", "from": "849"},  # names no contact: none in the whole change, none in its piece
        {"id": "m4", "from": "841"},
    ]
    unit = {"field": "messages", "value": {"metadata": {"phone_number_id": "1"}, "contacts": contacts}}
    unit["value"].update(messages=messages, statuses=[{"id": "s1"}], errors=[{"code": 1}])

    first, second = packing.pieces(unit, size=3)

    assert first["value"]["contacts"] == contacts
    assert first["value"]["errors"] == [{"code": 1}]  # logged once, with the first piece
    # m4 and s1: m4's contact only (a lone contact is every message's, which is m4's anyway)
    assert second["value"] == {
        "metadata": {"phone_number_id": "1"},
        "messages": [messages[3]],
        "contacts": [contacts[0]],
        "statuses": [{"id": "s1"}],
    }
    # m3 alone with m1 would make A a lone contact, given to m3 too: a second entry keeps m3 unmatched
    assert packing.ContactIndex(contacts).contacts_for([messages[0], messages[2]]) == contacts


@pytest.mark.parametrize("seed", range(20))
def test_every_message_of_a_piece_finds_the_contact_it_finds_in_the_whole_change(seed: int) -> None:
    from mkt_whatsapp.whatsapp.webhook_models import ChangeValue

    pick = random.Random(seed)
    phones, user_ids = ["841", "842", "843", None], ["VN.1", "VN.2", None]
    contacts = [
        {"wa_id": pick.choice(phones), "user_id": pick.choice(user_ids), "profile": {"name": f"C{n}"}}
        for n in range(pick.randint(0, 4))
    ]
    messages = [
        {"id": f"m{n}", "timestamp": "1", "from": pick.choice(phones), "from_user_id": pick.choice(user_ids)}
        for n in range(pick.randint(1, 12))
    ]
    value = {"metadata": {"phone_number_id": "1"}, "contacts": contacts, "messages": messages}
    whole = ChangeValue.model_validate(value)

    for piece in packing.pieces({"field": "messages", "value": value}, size=pick.randint(1, 4)):
        part = ChangeValue.model_validate(piece["value"])
        for message in part.messages:
            expected = whole.contact_for(message)
            assert part.contact_for(message) == expected, (seed, message.id)


def test_units_are_packed_by_events_and_bytes() -> None:
    small = (packing.encode({"value": {"messages": [{}] * 10}}), 10)
    assert [len(json.loads(b)) for b in packing.pack([small] * 5)] == [2, 2, 1]
    big = ("x" * 600_000, 1)
    assert [len(b) for b in packing.pack([big, big])] == [600_002, 600_002]
    with pytest.raises(ValueError, match="S3"):
        packing.pack([("x" * (packing.MAX_UNIT_BYTES + 1), 1)])


# --- the processor: several changes a message, exactly once -----------------------------------------------


def three_changes(shop_ids: ShopIds, tag: str) -> list[dict[str, Any]]:
    return [
        inbound_text_change(shop_ids.phone_number_id, f"849000{tag}{n}", f"wamid.{tag}.{n}", name=f"K {n}")
        for n in range(3)
    ]


def test_a_message_of_several_changes_stores_each_once_even_when_delivered_again(
    shop: ApiClient, aws: AwsStack, shop_ids: ShopIds
) -> None:
    message = json.dumps(three_changes(shop_ids, "71"))
    event = sqs_event([message, message])  # Meta's duplicate, queued twice and in one batch
    assert lambdas().invoke("InboundProcessorFunction", event) == {"batchItemFailures": []}
    assert lambdas().invoke("InboundProcessorFunction", sqs_event([message])) == {"batchItemFailures": []}

    for n in range(3):
        assert stored(shop_ids.shop_id, f"wamid.71.{n}") is not None
    listing = shop.get("/conversations", query={"shopId": shop_ids.shop_id}).data
    assert listing["totalCount"] == 3
    assert [c["messageCount"] for c in listing["conversations"]] == [1, 1, 1]
    assert queue_depth(aws, "InboundQueue") == 0


def test_a_change_that_fails_is_retried_alone_without_redoing_or_losing_the_others(
    shop: ApiClient, aws: AwsStack, shop_ids: ShopIds, monkeypatch
) -> None:
    applied: list[str] = []
    apply = processor.process_change

    def fail_the_second_once(unit: dict[str, Any]) -> dict[str, int]:
        wamid = unit["value"]["messages"][0]["id"]
        applied.append(wamid)
        if wamid == "wamid.72.1" and applied.count(wamid) == 1:
            raise ServiceUnavailable("throttled")
        return apply(unit)

    monkeypatch.setattr(processor, "process_change", fail_the_second_once)
    sqs = aws.client("sqs")
    sqs.send_message(QueueUrl=aws.physical["InboundQueue"], MessageBody=json.dumps(three_changes(shop_ids, "72")))

    assert drain_inbound(aws) == 2  # the message, then the failed change queued again on its own

    assert applied == ["wamid.72.0", "wamid.72.1", "wamid.72.2", "wamid.72.1"]
    for n in range(3):
        assert stored(shop_ids.shop_id, f"wamid.72.{n}") is not None
    assert queue_depth(aws, "InboundQueue") == 0


def test_a_change_that_keeps_failing_alone_fails_its_record_for_the_dead_letter_queue(
    shop: ApiClient, aws: AwsStack, shop_ids: ShopIds
) -> None:
    changes = three_changes(shop_ids, "73")
    changes[1]["value"]["messages"][0]["from"] = "not-a-phone"
    changes[1]["value"]["contacts"][0]["wa_id"] = "not-a-phone"
    aws.client("sqs").send_message(QueueUrl=aws.physical["InboundQueue"], MessageBody=json.dumps(changes))

    drain_inbound(aws)

    assert stored(shop_ids.shop_id, "wamid.73.0") is not None
    assert stored(shop_ids.shop_id, "wamid.73.2") is not None
    # the refused change alone stays on the queue, failed (redelivered until maxReceiveCount, then the DLQ)
    [left] = in_queue(aws)
    assert json.loads(left) == [changes[1]]
    with pytest.raises(FunctionError, match="names its sender in no shape Meta uses"):
        lambdas().invoke("InboundProcessorFunction", sqs_event([left]))  # a batch of only failures fails whole


def test_if_the_failed_change_cannot_be_queued_again_the_whole_message_is_retried(
    shop: ApiClient, aws: AwsStack, shop_ids: ShopIds, monkeypatch
) -> None:
    from mkt_whatsapp.core import queues

    changes = three_changes(shop_ids, "74")
    changes[2]["value"]["messages"][0]["from"] = "not-a-phone"
    changes[2]["value"]["contacts"][0]["wa_id"] = "not-a-phone"

    def queue_down(*_: Any, **__: Any) -> int:
        raise ServiceUnavailable("queue down", code="QUEUE_UNAVAILABLE")

    monkeypatch.setattr(queues, "send_all", queue_down)
    other = inbound_text_change(shop_ids.phone_number_id, "84900074009", "wamid.74.9")
    event = sqs_event([json.dumps(changes), json.dumps([other])])
    answer = lambdas().invoke("InboundProcessorFunction", event)
    # the record is retried whole (the changes it applied are no-ops then); the other record of the batch stands
    assert answer == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert stored(shop_ids.shop_id, "wamid.74.0") is not None
    assert stored(shop_ids.shop_id, "wamid.74.9") is not None


def test_a_message_whose_changes_all_fail_fails_as_it_is(
    shop: ApiClient, aws: AwsStack, shop_ids: ShopIds, monkeypatch
) -> None:
    apply = processor.process_change

    def throttled(unit: dict[str, Any]) -> dict[str, int]:
        if unit["value"]["messages"][0]["id"].startswith("wamid.77."):
            raise ServiceUnavailable("throttled")
        return apply(unit)

    monkeypatch.setattr(processor, "process_change", throttled)
    message = json.dumps(three_changes(shop_ids, "77"))
    other = json.dumps([inbound_text_change(shop_ids.phone_number_id, "84900078009", "wamid.78.9")])
    event = sqs_event([message, other])
    with counted_aws_calls() as calls:
        answer = lambdas().invoke("InboundProcessorFunction", event)
    assert answer == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert calls["sqs:SendMessage"] + calls["sqs:SendMessageBatch"] == 0  # retried whole: no message per change
    assert stored(shop_ids.shop_id, "wamid.78.9") is not None


def test_a_one_change_message_of_the_previous_version_is_still_processed(
    shop: ApiClient, aws: AwsStack, shop_ids: ShopIds
) -> None:
    legacy = inbound_text_change(shop_ids.phone_number_id, "84900075000", "wamid.75.0")
    legacy["entryId"] = "1"
    assert lambdas().invoke("InboundProcessorFunction", sqs_event([json.dumps(legacy)])) == {"batchItemFailures": []}
    assert stored(shop_ids.shop_id, "wamid.75.0") is not None


def test_a_packed_message_is_no_change_to_the_previous_versions_entry_point() -> None:
    """The previous version handed each record's body to process_change: an array fails there (the record is
    retried, by a new processor after the deploy) instead of being skipped as "not a messages value"."""
    with pytest.raises(AttributeError):
        processor.process_change(json.loads(packing.alone({"field": "messages", "value": {}})))  # type: ignore[arg-type]


# --- an event too large for the queue -------------------------------------------------------------------


def test_a_signed_message_of_1_mb_of_text_is_kept_in_s3_and_stored(
    shop: ApiClient, aws: AwsStack, shop_ids: ShopIds
) -> None:
    text = "Đơn hàng " + "x" * 1_000_000
    change = inbound_text_change(shop_ids.phone_number_id, "84900076000", "wamid.76.0", body=text)
    delivery = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [change]}]}

    with counted_aws_calls() as calls:
        assert post_webhook(shop, delivery).status == 200
    assert calls == Counter({"s3:PutObject": 1, "sqs:SendMessage": 1})

    bucket = aws.physical["InboundOverflowBucket"]
    [kept] = aws.client("s3").list_objects_v2(Bucket=bucket)["Contents"]
    assert kept["Key"].startswith("inbound/")
    assert kept["Size"] > 1_000_000
    [[pointer]] = [json.loads(body) for body in in_queue(aws)]
    assert pointer["overflowKey"] == kept["Key"]

    assert drain_inbound(aws) == 1
    message = stored(shop_ids.shop_id, "wamid.76.0")
    assert message is not None
    assert message["content"]["type"] == "text"
    assert message["content"]["text"] == text[:4096]  # a DynamoDB item holds 400 KB: the rest is cut, and said so
    assert message["content"]["truncated"]["originalBytes"] > 1_000_000
    assert queue_depth(aws, "InboundQueue") == 0
