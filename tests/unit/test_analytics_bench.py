"""The analytics benchmark (bench/analytics.py, issue 13 "Benchmark") at small scale: GET /analytics/messages
for 90 days grouped by day reads the same items for a shop with 1,000 messages as for one with 100,000
(their counters written directly), 90 in UTC and 90 + 1 in Asia/Ho_Chi_Minh — one BatchGetItem of the day
roll-ups, which hold their hours' message counts."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace
from typing import Any

from bench import analytics
from tests.support import lambdas


def test_reads_do_not_grow_with_the_shops_volume(aws: Any) -> None:
    stack = SimpleNamespace(physical={"Table": aws.table_name}, lambdas=lambdas(), calls=Counter())
    figures = analytics.measure_reads(stack, {"small": 1_000, "large": 100_000})
    small, large = figures["small"], figures["large"]
    for timezone in analytics.TIMEZONES:
        assert small[timezone]["messages_in_answer"] <= 1_000
        assert large[timezone]["messages_in_answer"] <= 100_000
        for figure in ("batch_get_requests", "keys_requested", "read_units"):
            assert small[timezone][figure] == large[timezone][figure], (timezone, figure)
    utc = large["UTC"]
    assert utc["items_read"] == small["UTC"]["items_read"] == analytics.DAYS <= analytics.TARGET_DAY_READS
    assert (utc["batch_get_requests"], utc["read_units"]) == (1, analytics.DAYS * 0.5)
    vietnam = large["Asia/Ho_Chi_Minh"]  # a local day is two UTC days' hours: 90 local days, 91 day items
    assert (vietnam["batch_get_requests"], vietnam["keys_requested"]) == (1, analytics.TARGET_DAY_READS)
