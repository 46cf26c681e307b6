"""The one time-limited cache of a warm container: short-lived copies of what many invocations read
(a shop's account for the sender, decrypted access tokens), so a burst of work reads each once.

Built on cachetools' ``TTLCache`` with a lock (the sender's threads share it). Every cache made here is
registered, so tests and the local stack forget them all at once (:func:`forget_all`) the way a new
container would start empty."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from cachetools import TTLCache

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_caches: list[TimedCache[object, object]] = []


class TimedCache(Generic[K, V]):
    """Values kept for ``seconds`` after they were loaded (monotonic clock), at most ``maxsize`` of them."""

    def __init__(self, seconds: float, maxsize: int = 1024) -> None:
        self._entries: TTLCache[K, V] = TTLCache(maxsize=maxsize, ttl=seconds, timer=time.monotonic)
        self._lock = threading.Lock()
        _caches.append(self)  # type: ignore[arg-type]

    def get(self, key: K, load: Callable[[], V]) -> V:
        """The cached value for ``key``, or ``load()``'s (kept for next time). Loads outside the lock: two
        threads missing at once may both load; both values are equally fresh."""
        with self._lock:
            if key in self._entries:
                return self._entries[key]
        value = load()
        with self._lock:
            self._entries[key] = value
        return value

    def forget(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def forget_all() -> None:
    """Empty every cache of this process (a new container's state)."""
    for cache in _caches:
        cache.clear()
