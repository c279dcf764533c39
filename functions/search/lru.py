"""The search function's one cache: a bounded least-recently-used map, safe to share between threads.

Every cache of an index version's data is one of these, owned by the object whose data it holds
(the version's ``IndexSnapshot``, ``Expander``, ``Scorer``), so it is dropped with that version.
Stemming, a pure function of a word, is memoised apart (``words.py``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from threading import Lock
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    """At most ``size`` entries; a hit makes an entry the most recent, the least recent goes first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K, default: V | None = None) -> V | None:
        with self._lock:
            if key not in self._entries:
                return default
            self._entries.move_to_end(key)
            return self._entries[key]

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def get_or_compute(self, key: K, compute: Callable[[K], V]) -> V:
        """The cached value of ``key``, or ``compute(key)``, kept for next time. It is computed outside the
        lock: two threads missing together may both compute it, to the same result."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        value = compute(key)
        self.put(key, value)
        return value
