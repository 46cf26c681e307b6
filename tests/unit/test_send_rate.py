"""The per-phone-number send rate: no one-second window (sliding) ever holds more sends than the rate,
across several containers, and an idle number gets no catch-up burst."""

from __future__ import annotations

import pytest

from bench.sender import busiest_window
from mkt_whatsapp import send_rate
from tests.support import AwsStack, reset_caches


@pytest.fixture
def clock(aws: AwsStack, monkeypatch) -> list[float]:
    """A fake clock that sleeping advances, so the test takes no real time."""
    now = [1_800_000_000.25]
    monkeypatch.setattr(send_rate, "_now", lambda: now[0])

    def sleep(seconds: float) -> None:
        now[0] += seconds

    monkeypatch.setattr(send_rate, "_sleep", sleep)
    return now


@pytest.mark.parametrize("rate", [1, 7, 25, 80, 1000])
def test_no_sliding_second_exceeds_the_rate_across_containers(clock, monkeypatch, rate: int) -> None:
    monkeypatch.setenv("SEND_RATE_PER_SECOND", str(rate))
    reset_caches()
    containers = [{} for _ in range(3)]  # each container keeps its own reserved block
    sent: list[float] = []
    for n in range(rate * 4 + 5):
        monkeypatch.setattr(send_rate, "_reserves", containers[n % 3])
        send_rate.acquire("5550001")
        sent.append(clock[0])
    assert busiest_window(sent) <= rate
    assert len(sent) == rate * 4 + 5  # and every send went out
    monkeypatch.delenv("SEND_RATE_PER_SECOND")
    reset_caches()


@pytest.mark.parametrize("rate", [10, 80, 1000])
def test_a_busy_sender_uses_the_rate(clock, monkeypatch, rate: int) -> None:
    """One container sending as fast as it may reaches 90% of the rate (the pacing margin), not less."""
    monkeypatch.setenv("SEND_RATE_PER_SECOND", str(rate))
    reset_caches()
    sent = []
    for _ in range(rate * 3):
        send_rate.acquire("5550002")
        sent.append(clock[0])
    assert int(rate * send_rate.PACING) <= busiest_window(sent) <= rate
    monkeypatch.delenv("SEND_RATE_PER_SECOND")
    reset_caches()


def test_an_idle_number_gets_no_catch_up_burst(clock, monkeypatch) -> None:
    monkeypatch.setenv("SEND_RATE_PER_SECOND", "10")
    reset_caches()
    for _ in range(10):
        send_rate.acquire("777")
    clock[0] += 60  # a minute of silence
    monkeypatch.setattr(send_rate, "_reserves", {})
    sent = []
    for _ in range(30):
        send_rate.acquire("777")
        sent.append(clock[0])
    assert busiest_window(sent) <= 10
    monkeypatch.delenv("SEND_RATE_PER_SECOND")
    reset_caches()


def test_numbers_do_not_share_a_rate(clock, monkeypatch) -> None:
    monkeypatch.setenv("SEND_RATE_PER_SECOND", "1")
    reset_caches()
    start = clock[0]
    for number in ("111", "222", "333"):
        send_rate.acquire(number)
    assert clock[0] == start  # three numbers, one send each: nobody waited
    send_rate.acquire("111")
    assert clock[0] >= start + 1  # the second send of one number waits a full second
    monkeypatch.delenv("SEND_RATE_PER_SECOND")
    reset_caches()


def test_a_block_costs_one_write(aws: AwsStack, clock, monkeypatch) -> None:
    from mkt_whatsapp import aws as aws_clients

    calls: list[str] = []
    aws_clients.session().events.register(
        "before-call", lambda model, **_: calls.append(model.name), unique_id="send-rate-counter"
    )
    try:
        monkeypatch.setattr(send_rate, "_reserves", {})
        for _ in range(send_rate.BLOCK):
            send_rate.acquire("999")
        for _ in range(send_rate.BLOCK):
            send_rate.acquire("999")
    finally:
        aws_clients.session().events.unregister("before-call", unique_id="send-rate-counter")
    # the first block finds the number idle (a failed busy attempt, then the idle write); the next one busy
    assert calls == ["UpdateItem", "UpdateItem", "UpdateItem"]
