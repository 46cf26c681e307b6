"""Optimistic concurrency, one way: read, decide, write under a condition; if the condition failed
because someone else wrote first, read again. Used wherever an item is changed from what was read
(a customer's tags and consent, an inbound message's customer and conversation)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def optimistically(
    attempt: Callable[[], T],
    *,
    attempts: int,
    retry_on: tuple[type[Exception], ...],
    exhausted: Callable[[], Exception],
) -> T:
    """Run ``attempt`` (which reads afresh each time) until it does not raise one of ``retry_on``; after
    ``attempts`` tries raise ``exhausted()``, chained to the last conflict."""
    last: Exception | None = None
    for _ in range(attempts):
        try:
            return attempt()
        except retry_on as conflict:
            last = conflict
    raise exhausted() from last
