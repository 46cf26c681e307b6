"""The hot-counter benchmark (bench/hot_counter.py) at small scale: one shop's 2,000 messages at 1,000 a
second through the stream as template.yaml configures it, counted by the real counting on moto. The
counters come out exact with batches delivered again, and the shop's hottest counter item is written a
few times a second — bounded by the stream's invocations, where a counter per message would take 1,000."""

from __future__ import annotations

import math
from typing import Any

import pytest

from bench import hot_counter
from mkt_whatsapp.analytics import counting

MESSAGES = 2_000


@pytest.fixture(scope="module")
def figures(module_aws: Any) -> dict[str, Any]:
    return hot_counter.measure(messages=MESSAGES)


def test_counters_are_exact_after_batches_are_delivered_again(figures: dict[str, Any]) -> None:
    for label, run in figures["runs"].items():
        assert run["counters_grew_by"] == {"hour": MESSAGES, "day": MESSAGES}, label
        assert run["batches_delivered_again"] >= 1, label
        assert run["redelivered_transactions_cancelled"] == run["batches_delivered_again"], label


def test_the_hottest_item_is_written_per_batch_not_per_message(figures: dict[str, Any]) -> None:
    settings = hot_counter.stream_settings()
    # One invocation at a time per shard and parallelization slot, each at least INVOCATION_SECONDS long.
    per_lane = math.ceil(1 / figures["invocation_seconds_modelled"])
    for label, run in figures["runs"].items():
        lanes = run["shards"] * settings.parallelization_factor
        hottest = run["hottest_item_writes_per_second"]
        assert run["hottest_item"].startswith("D#"), label
        assert 1 <= hottest["max"] <= lanes * per_lane < 100, (label, hottest)
        assert run["largest_batch"] <= settings.batch_size, label
        # The same traffic, counted in each message's own write: every message a write of the item.
        own = run["counter_in_each_messages_own_write"]
        assert own["hottest_item_writes_per_second"]["max"] == hot_counter.RATE, label
        assert own["hottest_item_write_units_per_second_max"] > own["partition_limit_write_units_per_second"]
        assert run["write_units_per_message"] < own["write_units_per_message"] / 50, label


def test_one_shard_sends_full_batches_and_one_transaction_each(figures: dict[str, Any]) -> None:
    run = figures["runs"]["inbound_1_shard"]
    assert run["stream_changes"] == 3 * MESSAGES
    assert run["batches"] == math.ceil(run["stream_changes"] / hot_counter.stream_settings().batch_size)
    assert run["counter_transactions"] == run["batches"]  # the hour's and the day's item in one transaction
    assert run["hottest_item_transactions_overlapping_another_shards"] == 0


def test_counting_a_redelivered_batch_again_fails_the_measurement(
    module_aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = iter(range(10**6))
    monkeypatch.setattr(counting, "batch_id", lambda records: f"never-the-same-{next(ids)}")
    with pytest.raises(hot_counter.CountsWrong):
        hot_counter.measure(messages=MESSAGES, shards=(1,), sent=False)
