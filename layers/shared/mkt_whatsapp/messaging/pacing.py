"""The per-phone-number send rate, shared by every sender (Meta allows 80 messages/second per number by
default, up to 1,000): no one-second window, sliding or aligned, holds more sends than the rate.

GCRA-style pacing in DynamoDB: one item per phone number holds the time the next free send slot starts
(``tat``). A container reserves a block of consecutive slots with one conditional UpdateItem (moving
``tat`` on by the block's span) and sends slot i of its block no earlier than its time. The block is as
large as the sends the container expects to make for that number (``expect``: the sender's batch), up to
``MAX_BLOCK``, so a batch of ten costs one write and a single reply reserves one slot.

Why no window ever holds more than the rate: blocks never overlap; a send leaves no earlier than its slot
and no later than ``LATE_SECONDS`` after it (a slot a send would miss is given up, never spent late); and
slots are ``SPACING`` / rate apart, where ``SPACING`` = 1 + ``LATE_SECONDS`` + ``JITTER_SECONDS``. A send
reaching Meta in [a, a + 1) then left a slot in (a − LATE − JITTER, a + 1), an interval of rate slot
spacings, which holds at most rate slots. So a number is paced at rate / SPACING (96% of it) and the
way to Meta may add up to ``JITTER_SECONDS`` without a window going over. After an idle period the first
block starts now, never in the past: no catch-up burst. About rate / block-size writes a second reach the
table.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from mkt_whatsapp.core.settings import get_settings
from mkt_whatsapp.store import get_table, keys

TAT_SK = "TAT"
LATE_SECONDS = 0.010
JITTER_SECONDS = 0.030
SPACING = 1 + LATE_SECONDS + JITTER_SECONDS
MAX_BLOCK = 10
MIN_LEAD_SECONDS = 0.005
MAX_LEAD_SECONDS = 0.25


class NoSlotInTime(Exception):
    """The next free slot starts after the caller's deadline: the send should wait in the queue instead."""


@dataclass
class _Block:
    next_slot: float
    left: int


_reserves: dict[str, _Block] = {}
_round_trips: deque[float] = deque(maxlen=8)
_warmed = threading.Event()  # the container's first reservation (it also creates the client) is done
_expected: dict[str, int] = {}
_idle_hint: dict[str, bool] = {}
_lock = threading.Lock()
_reserving: dict[str, threading.Lock] = {}


def reset() -> None:
    """Forget this container's reservations (tests that switch tables)."""
    with _lock:
        for state in (_reserves, _expected, _idle_hint):
            state.clear()
        _round_trips.clear()
        _warmed.clear()


def _now() -> float:
    return time.time()


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def interval() -> float:
    """Seconds between two slots of one number."""
    return SPACING / get_settings().send_rate_per_second


def expect(phone_number_id: str, sends: int) -> None:
    """This container is about to make ``sends`` sends from ``phone_number_id`` (a batch): the next
    reservation covers them with one write."""
    with _lock:
        _expected[phone_number_id] = max(0, sends)


def acquire(phone_number_id: str, deadline: float | None = None) -> None:
    """Block until this container may send one more message from ``phone_number_id``.

    ``deadline`` (epoch seconds): raise :class:`NoSlotInTime` rather than wait past it, e.g. when the
    Lambda would time out first; the reserved slot is given up.
    """
    spacing = interval()
    while True:
        slot = _take_slot(phone_number_id, spacing)
        if slot is None:
            _reserve(phone_number_id, spacing)
            continue
        if deadline is not None and slot > deadline:
            raise NoSlotInTime(f"next send slot is {slot - _now():.1f} s away")
        now = _now()
        if slot > now:
            _sleep(slot - now)
            now = _now()
        if now > slot + LATE_SECONDS:
            continue  # woke too late for this slot: it is given up, never spent late
        with _lock:
            if _expected.get(phone_number_id):
                _expected[phone_number_id] -= 1
        return


def _take_slot(phone_number_id: str, spacing: float) -> float | None:
    with _lock:
        block = _reserves.get(phone_number_id)
        if not block or block.left <= 0:
            return None
        slot = block.next_slot
        block.next_slot += spacing
        block.left -= 1
        return slot


def _reserve(phone_number_id: str, spacing: float) -> None:
    """Reserve the next block for this container; one thread reserves while the others wait for it."""
    with _lock:
        reserving = _reserving.setdefault(phone_number_id, threading.Lock())
    with reserving:
        with _lock:
            block = _reserves.get(phone_number_id)
            if block and block.left > 0:
                return  # another thread reserved while this one waited
            size = min(MAX_BLOCK, max(1, _expected.get(phone_number_id, 0)))
        start = _reserve_block(phone_number_id, spacing, size)
        with _lock:
            _reserves[phone_number_id] = _Block(next_slot=start, left=size)


def _conditional_update(pk: str, expression: str, values: dict[str, float], condition: str) -> float | None:
    attributes = get_table().update_if(pk, TAT_SK, expression, values, condition=condition, return_values="UPDATED_NEW")
    return float(attributes["tat"]) if attributes is not None else None


def _reserve_block(phone_number_id: str, spacing: float, size: int) -> float:
    """Reserve ``size`` slots; returns when the first of them starts.

    Busy number (its next free slot is not in the past): the slots after the last reserved one, so busy
    containers chain their blocks with no gap. Idle number: the block starts ``lead`` from now, twice the
    recent round trip of this write, so the answer arrives before the first slot (at 1,000/s a block of
    ten spans only 10 ms). The case seen at the last reservation is tried first: a steady sender spends
    one write per block."""
    pk = keys.send_rate_pk(phone_number_id)
    span = size * spacing
    while True:
        now = _now()
        for idle in (True, False) if _idle_hint.get(phone_number_id, True) else (False, True):
            started = time.monotonic()
            if idle:
                end = _conditional_update(
                    pk,
                    "SET tat = :end",
                    {":end": now + _lead() + span, ":now": now},
                    "attribute_not_exists(tat) OR tat < :now",
                )
            else:
                end = _conditional_update(pk, "SET tat = tat + :span", {":span": span, ":now": now}, "tat >= :now")
            if _warmed.is_set():  # a container's first call also creates its client: not a round trip
                _round_trips.append(time.monotonic() - started)
            _warmed.set()
            if end is not None:
                _idle_hint[phone_number_id] = idle
                return end - span


def _lead() -> float:
    """Twice the median of the last few reservation round trips, within [5 ms, 250 ms]."""
    trips = sorted(_round_trips)
    median = trips[len(trips) // 2] if trips else 0.0
    return min(MAX_LEAD_SECONDS, max(MIN_LEAD_SECONDS, 2 * median))
