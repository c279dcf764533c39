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
    """At most ``size`` entries; a hit makes an entry the most recent, the least recent goes first.

    With ``cost`` (an entry's weight, e.g. the talks of a posting list), also at most ``budget`` in all,
    except that the ``keep`` most recent entries always stay: a cache of posting lists then holds many
    rare ones where a count would hold few (a common word's list is 10,000 times a rare word's), and
    never fewer than ``keep`` lists on a corpus whose lists are all long.
    """

    def __init__(self, size: int, *, cost: Callable[[V], int] | None = None, budget: int = 0, keep: int = 1) -> None:
        self.size = size
        self.budget = budget
        self.keep = max(1, keep)
        self._cost = cost
        self._costs: dict[K, int] = {}
        self._spent = 0
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
            if self._cost is not None:
                cost = self._cost(value)
                self._spent += cost - self._costs.get(key, 0)
                self._costs[key] = cost
            while len(self._entries) > self.size or (self._spent > self.budget and len(self._entries) > self.keep):
                evicted, _ = self._entries.popitem(last=False)
                self._spent -= self._costs.pop(evicted, 0)

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
