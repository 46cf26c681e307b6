"""GET /analytics/messages and the counters behind it (issue 13, items 1 and 5): known changes of the table
in, exact numbers out — hour, day and week buckets across a day boundary in Asia/Ho_Chi_Minh, empty
buckets, a range over a week boundary; a batch of changes delivered twice counted once; every bad
parameter 400 naming it; another shop's token refused; the analytics rate limit."""

from __future__ import annotations

from typing import Any

import pytest

from local.stream_events import change, inbound, outbound
from mkt_whatsapp.analytics import counting
from mkt_whatsapp.store import get_table, keys
from tests.support import ApiClient, make_token


def counters(shop: str, sk: str) -> dict[str, Any]:
    return get_table().get(keys.stats_pk(shop), sk) or {}


# --- counting ------------------------------------------------------------------------------------------


def test_each_fact_is_counted_once_and_a_batch_delivered_again_changes_nothing(aws: Any) -> None:
    batch = [
        inbound("shop-a", "2026-01-18T16:59:59Z"),
        inbound("shop-a", "2026-01-18T17:00:00Z"),
        *outbound(
            "shop-a",
            "2026-01-18T17:00:01Z",
            [("sent", "2026-01-18T17:00:02Z"), ("delivered", "2026-01-18T17:00:09Z"), ("read", "2026-01-18T18:00:00Z")],
        ),
        *outbound("shop-a", "2026-01-18T17:05:00Z", [("failed", "2026-01-18T17:05:01Z")]),  # never accepted
        *outbound(
            "shop-a", "2026-01-18T17:06:00Z", [("sent", "2026-01-18T17:06:01Z"), ("failed", "2026-01-18T17:07:00Z")]
        ),
        *outbound("shop-a", "2026-01-18T17:08:00Z", [("delivered", "2026-01-18T17:08:05Z")]),  # sent's status came late
        *outbound("shop-b", "2026-01-18T17:09:00Z", [("sent", "2026-01-18T17:09:01Z")]),
        change("INSERT", {"PK": "CONV#x", "SK": "CONVERSATION", "shopId": "shop-a"}),
        {**inbound("shop-a", "2026-01-18T17:10:00Z"), "eventName": "REMOVE"},
    ]
    first = counting.count_records(batch)
    assert first["counted"] == 8
    assert counting.count_records(batch) == {**first, "skipped": first["chunks"]}  # delivered again
    assert counters("shop-a", "H#2026-01-18T16")["inbound"] == 1
    hour = counters("shop-a", "H#2026-01-18T17")
    assert (hour["inbound"], hour["outbound"], hour["failed"]) == (1, 3, 2)
    day = counters("shop-a", "D#2026-01-18")
    assert (day["inbound"], day["outbound"], day["failed"]) == (2, 3, 2)
    assert counters("shop-b", "D#2026-01-18")["outbound"] == 1
    # each hour's share of the message counters is on the day item too (a local day reads two day items)
    assert (day["i@16"], day["i@17"], day["o@17"], day["f@17"]) == (1, 1, 3, 2)
    assert {name for name in day if "@" in name} == {"i@16", "i@17", "o@17", "f@17"}


def test_a_batch_of_many_items_is_written_in_chunks_and_a_retry_skips_the_counted_ones(aws: Any, monkeypatch) -> None:
    from mkt_whatsapp.store.table import Table

    batch = [inbound(f"shop-{n}", "2026-01-18T10:00:00Z") for n in range(120)]  # 240 counter items
    real = Table.transact_write
    calls = []

    def fail_the_third(self: Table, writes: Any) -> None:
        calls.append(len(writes))
        if len(calls) == 3:
            raise RuntimeError("the Lambda timed out")
        real(self, writes)

    monkeypatch.setattr(Table, "transact_write", fail_the_third)
    with pytest.raises(RuntimeError):
        counting.count_records(batch)
    monkeypatch.setattr(Table, "transact_write", real)
    again = counting.count_records(batch)
    assert (again["chunks"], again["skipped"]) == (3, 2)
    assert all(counters(f"shop-{n}", "H#2026-01-18T10")["inbound"] == 1 for n in range(120))


def test_a_transaction_another_shard_cancelled_is_retried_in_the_function(aws: Any, monkeypatch) -> None:
    from mkt_whatsapp.store.table import Table, TransactionConflict

    real = Table.transact_write
    tries: list[int] = []

    def conflicting(self: Table, writes: Any) -> None:
        tries.append(len(writes))
        if len(tries) <= 2:  # another shard's batch wrote the day item at the same moment, twice
            raise TransactionConflict("TransactionConflict")
        real(self, writes)

    monkeypatch.setattr(Table, "transact_write", conflicting)
    monkeypatch.setattr(counting.time, "sleep", lambda seconds: None)
    batch = [inbound("shop-a", "2026-01-18T10:00:00Z"), inbound("shop-a", "2026-01-18T10:30:00Z")]
    assert counting.count_records(batch)["skipped"] == 0
    assert len(tries) == 3
    assert counters("shop-a", "D#2026-01-18")["inbound"] == 2
    tries.clear()

    def always(self: Table, writes: Any) -> None:
        tries.append(len(writes))
        raise TransactionConflict("TransactionConflict")

    monkeypatch.setattr(Table, "transact_write", always)
    with pytest.raises(TransactionConflict):  # the batch fails; Lambda retries it, the marker keeps it exact
        counting.count_records([inbound("shop-a", "2026-01-18T11:00:00Z")])
    assert len(tries) == counting.CONFLICT_ATTEMPTS


# --- the endpoint --------------------------------------------------------------------------------------


@pytest.fixture
def shop(api: ApiClient, aws: Any, shop_ids: Any) -> dict[str, Any]:
    api.token = make_token([shop_ids.shop_id])
    return {"api": api, "shop_id": shop_ids.shop_id}


def traffic(shop_id: str) -> None:
    """Known traffic: Vietnam is UTC+7, so 16:30 UTC on the 18th is the 18th there, 17:30 UTC the 19th."""
    counting.count_records(
        [
            inbound(shop_id, "2026-01-18T16:30:00Z"),
            inbound(shop_id, "2026-01-18T17:30:00Z"),
            inbound(shop_id, "2026-01-18T17:45:00Z"),
            *outbound(shop_id, "2026-01-18T17:31:00Z", [("sent", "2026-01-18T17:31:01Z")]),
            inbound(shop_id, "2026-01-25T18:00:00Z"),  # Monday 26th 01:00 in Vietnam: the next ISO week
            *outbound(shop_id, "2026-01-25T18:01:00Z", [("failed", "2026-01-25T18:01:02Z")]),
        ]
    )


def stats(shop: dict[str, Any], **query: str) -> Any:
    return shop["api"].get("/analytics/messages", query={"shopId": shop["shop_id"], **query})


def test_days_in_the_shops_time_zone_with_empty_days_present(shop: dict[str, Any]) -> None:
    traffic(shop["shop_id"])
    reply = stats(shop, startDate="2026-01-17", endDate="2026-01-20", groupBy="day", timezone="Asia/Ho_Chi_Minh")
    assert reply.status == 200, reply.text
    assert [(m["date"], m["inboundCount"], m["outboundCount"], m["totalCount"]) for m in reply.data["metrics"]] == [
        ("2026-01-17", 0, 0, 0),
        ("2026-01-18", 1, 0, 1),
        ("2026-01-19", 2, 1, 3),
        ("2026-01-20", 0, 0, 0),
    ]
    assert reply.data["summary"] == {"totalInbound": 3, "totalOutbound": 1, "totalFailed": 0, "averagePerDay": 1.0}
    utc = stats(shop, startDate="2026-01-17", endDate="2026-01-20")
    assert [m["inboundCount"] for m in utc.data["metrics"]] == [0, 3, 0, 0]  # all on the 18th in UTC


def test_hours_carry_their_offset(shop: dict[str, Any]) -> None:
    traffic(shop["shop_id"])
    reply = stats(shop, startDate="2026-01-19", endDate="2026-01-19", groupBy="hour", timezone="Asia/Ho_Chi_Minh")
    assert reply.status == 200, reply.text
    assert len(reply.data["metrics"]) == 24
    busy = {m["date"]: (m["inboundCount"], m["outboundCount"]) for m in reply.data["metrics"] if m["totalCount"]}
    assert busy == {"2026-01-19T00:00:00+07:00": (2, 1)}


def test_weeks_start_on_monday_across_a_week_boundary(shop: dict[str, Any]) -> None:
    traffic(shop["shop_id"])
    reply = stats(shop, startDate="2026-01-14", endDate="2026-01-28", groupBy="week", timezone="Asia/Ho_Chi_Minh")
    assert reply.status == 200, reply.text
    assert [(m["date"], m["inboundCount"], m["outboundCount"], m["failedCount"]) for m in reply.data["metrics"]] == [
        ("2026-01-12", 1, 0, 0),
        ("2026-01-19", 2, 1, 0),  # Monday the 19th begins at 17:00 UTC on the 18th
        ("2026-01-26", 1, 0, 1),
    ]


def test_a_utc_range_of_days_reads_one_item_a_day(shop: dict[str, Any]) -> None:
    from tests.support import counted_aws_calls

    traffic(shop["shop_id"])
    with counted_aws_calls() as calls:
        reply = stats(shop, startDate="2025-10-21", endDate="2026-01-18")  # 90 days
    assert reply.status == 200, reply.text
    assert len(reply.data["metrics"]) == 90
    assert calls["dynamodb:BatchGetItem"] == 1  # 90 keys: one request (the guard's rate-limit write aside)


def test_a_range_in_another_time_zone_reads_its_utc_day_items_not_its_hours(shop: dict[str, Any], monkeypatch) -> None:
    from mkt_whatsapp.store.table import Table

    traffic(shop["shop_id"])
    asked: list[list[str]] = []
    real = Table.batch_get

    def recorded(self: Table, keys: Any) -> Any:
        asked.append([sk for _, sk in keys])
        return real(self, keys)

    monkeypatch.setattr(Table, "batch_get", recorded)
    days = stats(shop, startDate="2025-10-21", endDate="2026-01-18", timezone="Asia/Ho_Chi_Minh")  # 90 days
    assert days.status == 200, days.text
    assert [sum(map(len, asked)), {sk[:2] for request in asked for sk in request}] == [91, {"D#"}]
    assert days.data["summary"]["totalInbound"] == 1  # 16:30 UTC on the 18th; the rest is the 19th there
    asked.clear()
    hours = stats(
        shop, startDate="2026-01-01", endDate="2026-01-31", groupBy="hour", timezone="Asia/Ho_Chi_Minh"
    )  # 31 days of hours: 744 buckets from 32 day items
    assert hours.status == 200, hours.text
    assert (len(hours.data["metrics"]), sum(map(len, asked))) == (744, 32)
    assert hours.data["summary"] == {"totalInbound": 4, "totalOutbound": 1, "totalFailed": 1, "averagePerDay": 0.16}


def test_a_day_item_counted_before_it_kept_its_hours_is_read_from_its_hour_items(shop: dict[str, Any]) -> None:
    shop_id = shop["shop_id"]
    table = get_table()
    # as the counters were written before the day item kept its hours: hour items and bare day totals
    table.put({"PK": keys.stats_pk(shop_id), "SK": "H#2026-01-18T16", "inbound": 2})
    table.put({"PK": keys.stats_pk(shop_id), "SK": "H#2026-01-18T17", "inbound": 5, "outbound": 1})
    table.put({"PK": keys.stats_pk(shop_id), "SK": "D#2026-01-18", "inbound": 7, "outbound": 1})
    counting.count_records([inbound(shop_id, "2026-01-19T03:00:00Z")])  # a day counted today: its hours kept
    reply = stats(shop, startDate="2026-01-18", endDate="2026-01-19", timezone="Asia/Ho_Chi_Minh")
    assert reply.status == 200, reply.text
    assert [(m["date"], m["inboundCount"], m["outboundCount"]) for m in reply.data["metrics"]] == [
        ("2026-01-18", 2, 0),
        ("2026-01-19", 6, 1),
    ]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"startDate": "18/01/2026"}, "startDate"),
        ({"endDate": "2026-13-01"}, "endDate"),
        ({"startDate": "2026-02-01", "endDate": "2026-01-01"}, "endDate"),
        ({"startDate": "2025-01-01", "endDate": "2026-01-18"}, "endDate"),
        ({"startDate": "2026-01-01", "endDate": "2026-02-15", "groupBy": "hour"}, "groupBy"),
        ({"groupBy": "month"}, "groupBy"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "Asia/Kolkata"}, "timezone"),
    ],
)
def test_every_bad_parameter_is_400_naming_it(shop: dict[str, Any], query: dict[str, str], field: str) -> None:
    reply = stats(shop, **query)
    assert reply.status == 400, reply.text
    assert reply.field == field


def test_another_shops_token_sees_nothing_and_the_rate_limit_holds(shop: dict[str, Any]) -> None:
    import time

    from mkt_whatsapp.http.ratelimit import WINDOW_SECONDS

    traffic(shop["shop_id"])
    if time.time() % WINDOW_SECONDS > WINDOW_SECONDS - 15:  # the twelve requests fall in one fixed window
        time.sleep(WINDOW_SECONDS - time.time() % WINDOW_SECONDS + 0.1)
    shop["api"].token = make_token(["another-shop"])
    assert stats(shop).status == 403
    shop["api"].token = make_token([shop["shop_id"]])
    statuses = [stats(shop).status for _ in range(11)]
    assert statuses[:9] == [200] * 9  # the 403 above counted against the caller too
    assert statuses[-1] == 429
