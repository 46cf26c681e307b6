"""The per-phone-number send rate, shared by every sender (Meta allows 80 messages/second per number by
default, up to 1,000): paced so that no one-second window, sliding or aligned, holds more than the rate.

GCRA-style pacing in DynamoDB: one item per phone number holds the time the next free send slot starts
(``tat``). A container reserves a block of ``BLOCK`` consecutive slots with one conditional UpdateItem
(moving ``tat`` on by BLOCK/rate) and sends slot i of its block no earlier than start + i/rate. Blocks
never overlap, a send happens within half an interval of its slot (a slot a busy container missed is
dropped, never spent late), and slots are spaced for 90% of the rate, so any one-second window holds at
most 0.9 × rate + 1 sends: within the rate, with room for network jitter. After an idle period the
first block starts now, never in the past, so there is no catch-up burst. About rate/BLOCK writes a
second reach the table.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from botocore.exceptions import ClientError

from mkt_whatsapp.settings import get_settings
from mkt_whatsapp.store import get_table, keys

BLOCK = 10
TAT_SK = "TAT"
# Sends are paced at 90% of the configured rate: the jitter between leaving here and arriving at Meta
# then never pushes a one-second window over the rate.
PACING = 0.9


@dataclass
class _Block:
    next_slot: float
    left: int


_reserves: dict[str, _Block] = {}
_lock = threading.Lock()


def _now() -> float:
    return time.time()


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def _conditional_update(pk: str, expression: str, values: dict[str, float], condition: str) -> float | None:
    try:
        attributes = get_table().update(
            pk, TAT_SK, expression, values, condition=condition, return_values="UPDATED_NEW"
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return None
        raise
    return float(attributes["tat"])


def _reserve_block(phone_number_id: str, interval: float) -> float:
    """Reserve BLOCK slots; returns when the first of them starts."""
    pk = keys.send_rate_pk(phone_number_id)
    span = BLOCK * interval
    while True:
        now = _now()
        # Busy number: the next slot is in the future, take the following block.
        busy = _conditional_update(pk, "SET tat = tat + :span", {":span": span, ":now": now}, "tat >= :now")
        if busy is not None:
            return busy - span
        # Idle number: start now.
        idle = _conditional_update(
            pk, "SET tat = :end", {":end": now + span, ":now": now}, "attribute_not_exists(tat) OR tat < :now"
        )
        if idle is not None:
            return idle - span


def acquire(phone_number_id: str) -> None:
    """Block until this container may send one more message from ``phone_number_id``."""
    interval = 1 / (get_settings().send_rate_per_second * PACING)
    while True:
        slot = _next_slot(phone_number_id, interval)
        if slot is None:
            start = _reserve_block(phone_number_id, interval)
            with _lock:
                _reserves[phone_number_id] = _Block(next_slot=start, left=BLOCK)
            continue
        now = _now()
        if slot > now:
            _sleep(slot - now)
            now = _now()
        if now > slot + interval / 2:
            continue  # too late for this slot (busy, or woke late): it is wasted, never spent late
        return


def _next_slot(phone_number_id: str, interval: float) -> float | None:
    with _lock:
        block = _reserves.get(phone_number_id)
        if not block or block.left <= 0:
            return None
        slot = block.next_slot
        block.next_slot += interval
        block.left -= 1
        return slot
