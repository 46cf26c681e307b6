"""The per-phone-number send rate: no one-second window (sliding) ever holds more sends than the rate,
across several containers, and an idle number gets no catch-up burst."""

from __future__ import annotations

from collections import Counter

import pytest

from bench.sender import busiest_window
from mkt_whatsapp.messaging import pacing
from tests.support import AwsStack, counted_aws_calls, reset_caches


@pytest.fixture
def clock(aws: AwsStack, monkeypatch) -> list[float]:
    """A fake clock that sleeping advances, so the test takes no real time."""
    now = [1_800_000_000.25]
    monkeypatch.setattr(pacing, "_now", lambda: now[0])

    def sleep(seconds: float) -> None:
        now[0] += seconds

    monkeypatch.setattr(pacing, "_sleep", sleep)
    return now


def in_container(monkeypatch, state: dict[str, dict]) -> None:
    """Switch the module's per-container state, as if the next call ran in another Lambda container."""
    for name in ("_reserves", "_expected", "_idle_hint"):
        monkeypatch.setattr(pacing, name, state.setdefault(name, {}))


@pytest.mark.parametrize("rate", [1, 7, 25, 80, 1000])
@pytest.mark.parametrize("batch", [1, 10])
def test_no_sliding_second_exceeds_the_rate_across_containers(clock, monkeypatch, rate: int, batch: int) -> None:
    monkeypatch.setenv("SEND_RATE_PER_SECOND", str(rate))
    reset_caches()
    containers: list[dict[str, dict]] = [{} for _ in range(3)]
    sent: list[float] = []
    for n in range(rate * 4 + 5):
        in_container(monkeypatch, containers[(n // batch) % 3])
        if n % batch == 0:
            pacing.expect("5550001", batch)
        pacing.acquire("5550001")
        sent.append(clock[0])
    assert busiest_window(sent) <= rate
    assert len(sent) == rate * 4 + 5  # and every send went out
    monkeypatch.delenv("SEND_RATE_PER_SECOND")
    reset_caches()


@pytest.mark.parametrize("rate", [10, 80, 1000])
def test_a_busy_sender_uses_the_rate(clock, monkeypatch, rate: int) -> None:
    """One container sending as fast as it may reaches the rate less the spacing margin (96%), not less."""
    monkeypatch.setenv("SEND_RATE_PER_SECOND", str(rate))
    reset_caches()
    sent = []
    for n in range(rate * 3):
        if n % 10 == 0:
            pacing.expect("5550002", 10)
        pacing.acquire("5550002")
        sent.append(clock[0])
    assert int(rate / pacing.SPACING) <= busiest_window(sent) <= rate
    monkeypatch.delenv("SEND_RATE_PER_SECOND")
    reset_caches()


def test_a_send_that_wakes_late_gives_its_slot_up(clock, monkeypatch) -> None:
    """A thread that oversleeps (a busy machine) never spends its slot late: a window still holds at most
    the rate when every other wake-up is 30 ms late."""
    monkeypatch.setenv("SEND_RATE_PER_SECOND", "80")
    reset_caches()
    wakes = [0]

    def late_sleep(seconds: float) -> None:
        wakes[0] += 1
        clock[0] += seconds + (0.030 if wakes[0] % 2 else 0)

    monkeypatch.setattr(pacing, "_sleep", late_sleep)
    taken = [0]
    take_slot = pacing._take_slot

    def counted_take(phone_number_id: str, spacing: float) -> float | None:
        slot = take_slot(phone_number_id, spacing)
        taken[0] += slot is not None
        return slot

    monkeypatch.setattr(pacing, "_take_slot", counted_take)
    sent = []
    for n in range(400):
        if n % 10 == 0:
            pacing.expect("5550003", 10)
        pacing.acquire("5550003")
        sent.append(clock[0])
    assert busiest_window(sent) <= 80
    assert taken[0] > 500  # late slots were given up and others taken


def test_a_slot_past_the_deadline_is_refused(clock, monkeypatch) -> None:
    monkeypatch.setenv("SEND_RATE_PER_SECOND", "1")
    reset_caches()
    pacing.acquire("5550004")
    with pytest.raises(pacing.NoSlotInTime):
        pacing.acquire("5550004", deadline=clock[0] + 0.5)  # the next slot is about a second away
    pacing.acquire("5550004", deadline=clock[0] + 5)
    monkeypatch.delenv("SEND_RATE_PER_SECOND")
    reset_caches()


def test_an_idle_number_gets_no_catch_up_burst(clock, monkeypatch) -> None:
    monkeypatch.setenv("SEND_RATE_PER_SECOND", "10")
    reset_caches()
    for _ in range(10):
        pacing.acquire("777")
    clock[0] += 60  # a minute of silence
    monkeypatch.setattr(pacing, "_reserves", {})
    sent = []
    for _ in range(30):
        pacing.acquire("777")
        sent.append(clock[0])
    assert busiest_window(sent) <= 10
    monkeypatch.delenv("SEND_RATE_PER_SECOND")
    reset_caches()


def test_numbers_do_not_share_a_rate(clock, monkeypatch) -> None:
    monkeypatch.setenv("SEND_RATE_PER_SECOND", "1")
    reset_caches()
    start = clock[0]
    first_sends = []
    for number in ("111", "222", "333"):
        pacing.acquire(number)
        first_sends.append(clock[0])
    assert clock[0] - start < 0.5  # three numbers, one send each: nobody waited a slot (only the lead)
    pacing.acquire("111")
    assert clock[0] >= first_sends[0] + 1  # the second send of one number waits a full second
    monkeypatch.delenv("SEND_RATE_PER_SECOND")
    reset_caches()


def test_a_block_costs_one_write(aws: AwsStack, clock, monkeypatch) -> None:
    with counted_aws_calls() as calls:
        for _ in range(3):
            pacing.expect("999", 10)
            for _ in range(10):
                pacing.acquire("999")
    # one write per batch of ten: the first finds the number idle, the next two busy (after one miss, the
    # container tries the busy case first)
    assert calls == Counter({"dynamodb:UpdateItem": 4})


def test_a_single_send_reserves_a_single_slot(aws: AwsStack, clock, monkeypatch) -> None:
    """A reply sent within the request takes one slot: other containers' sends are not pushed back."""
    monkeypatch.setenv("SEND_RATE_PER_SECOND", "10")
    reset_caches()
    start = clock[0]
    for container in ({}, {}, {}):
        in_container(monkeypatch, container)
        pacing.acquire("888")
    # the first container starts the idle number after the lead; the next two take the next two slots
    assert 2 * pacing.SPACING / 10 <= clock[0] - start <= 2 * pacing.SPACING / 10 + 0.05
    monkeypatch.delenv("SEND_RATE_PER_SECOND")
    reset_caches()


def test_threads_of_one_container_share_one_reservation(aws: AwsStack, monkeypatch) -> None:
    """The sender sends a batch's records concurrently: ten threads, one write. (A stopped clock: no
    thread can wake late, so the count is exact.)"""
    import threading

    monkeypatch.setattr(pacing, "_now", lambda: 1_800_000_000.0)
    monkeypatch.setattr(pacing, "_sleep", lambda seconds: None)
    monkeypatch.setenv("SEND_RATE_PER_SECOND", "1000")
    reset_caches()
    left: list[float] = []
    with counted_aws_calls() as calls:
        pacing.expect("666", 10)
        threads = [
            threading.Thread(target=lambda: (pacing.acquire("666"), left.append(pacing._now()))) for _ in range(10)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(left) == 10
    assert calls == Counter({"dynamodb:UpdateItem": 1})
    monkeypatch.delenv("SEND_RATE_PER_SECOND")
    reset_caches()
