"""The search function's one cache: a bounded least-recently-used map, safe to share between threads,
and the memory budget every cache of the process shares.

Every cache of an index version's data is one of these, owned by the object whose data it holds
(the version's ``IndexSnapshot``, ``Expander``, ``Scorer``), so it is dropped with that version.
Stemming, a pure function of a word, is memoised apart (``words.py``).

A cache with a ``cost`` (the bytes an entry holds, estimated from the sizes CPython gives its objects)
charges them to the process' ``MemoryBudget``: a share of the memory the function has
(``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``, which Lambda sets), less what the runtime and each opened index
version hold (its memory after open, measured, and its files). Over it, the least recently used entry
of *any* cache goes first: a common word's contributions at 100,000 talks (3 MB) and a rare word's
posting list (a few hundred bytes) compete by bytes and recency, and the version an index swap left
behind (kept for the requests still using it) gives its entries back as the new one fills. The kept
answers are the exception: they have a budget of their own, which their version holds out of this one
(``engine.ANSWER_CACHE_BYTES``), so that the per-talk entries they spare the next ask do not evict them.
"""

from __future__ import annotations

import os
import sys
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from itertools import count
from threading import Lock, RLock
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: Set by Lambda: the function's memory in MB (its ``MemorySize``). Locally, the template's default.
ENV_MEMORY_SIZE = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"
DEFAULT_MEMORY_MB = 1024
#: The share of the function's memory its caches may fill up to, with the runtime and the open versions.
#: The rest is the margin: one request's own working memory (a common word's scores at 100,000 talks:
#: tens of MB), what freed entries leave behind (Python's allocator keeps a block of 1 MB while one object
#: lives in it: resident memory stays above the bytes alive), and a version swap, when the next version
#: opens while the previous one still answers. Measured at 100,000 talks and 1,024 MB: 603 MB resident
#: at most, 782 MB with two versions open (0.6: 709 and 900 MB). docs/reliability.md.
MEMORY_SHARE = 0.5
#: What the Python runtime and the search function's imports hold before any index opens (measured: 32 MB
#: after importing the handler here; Lambda's runtime client adds its own), and the least the caches are
#: given when an index leaves less (they still hold one entry each at a time, computed for the request).
RUNTIME_BYTES = 80 << 20
MIN_CACHE_BYTES = 16 << 20
#: Bytes of one int or float object (28 and 24, in the allocator's 32-byte blocks) and the bookkeeping
#: of one cache entry (its key, the ordered map's slot and node, its cost and recency).
NUMBER_BYTES = 32
ENTRY_BYTES = 256


def memory_size_mb() -> int:
    """The function's memory in MB: Lambda's setting, else DEFAULT_MEMORY_MB (a bad value counts as unset)."""
    raw = os.environ.get(ENV_MEMORY_SIZE, "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_MEMORY_MB


def resident_bytes(kind: str = "VmRSS") -> int:
    """This process' resident memory (Linux: VmRSS; ``RssAnon``: not counting mapped files), 0 without /proc."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(f"{kind}:"):
                    return int(line.split()[1]) << 10
    except OSError:
        pass
    return 0


class MemoryBudget:
    """The bytes every cache charging it may hold together, given back least recently used first."""

    def __init__(
        self,
        memory_bytes: int,
        *,
        share: float = MEMORY_SHARE,
        runtime_bytes: int = RUNTIME_BYTES,
        floor: int = MIN_CACHE_BYTES,
    ) -> None:
        self.memory_bytes = memory_bytes
        self.share = share
        self.runtime_bytes = runtime_bytes
        self.floor = floor
        self.spent = 0
        #: one lock for every cache of the budget: an eviction reaches into other caches (re-entrant: a cache
        #: dropped by the garbage collector, which may run inside the lock, gives its bytes back under it)
        self.lock = RLock()
        self._caches: weakref.WeakSet[LRU] = weakref.WeakSet()
        self._versions: dict[int, int] = {}  # id of an opened version -> the bytes it holds
        self._opening = 0  # room made for a version being opened, until it is held
        self._ceiling: int | None = None  # ``capped``
        self._clock = count()
        self.limit = 0
        self._update_limit()

    @classmethod
    def from_environment(cls) -> MemoryBudget:
        return cls(memory_size_mb() << 20)

    def _update_limit(self) -> None:
        """``limit``, what the caches may hold: the share of memory left once the runtime and the open versions
        are paid (at least ``floor``)."""
        held = self.runtime_bytes + sum(self._versions.values()) + self._opening
        self.limit = max(self.floor, int(self.memory_bytes * self.share) - held)
        if self._ceiling is not None:
            self.limit = min(self.limit, self._ceiling)

    @contextmanager
    def capped(self, nbytes: int) -> Iterator[None]:
        """Within it, the caches hold at most ``nbytes``, whatever the memory: for a process that asks each query
        once (the builder's answering engine, ``index_builder.answers``), where caches sized to the function's
        memory only raise the peak."""
        with self.lock:
            previous, self._ceiling = self._ceiling, nbytes
            self._update_limit()
            self._evict()
        try:
            yield
        finally:
            with self.lock:
                self._ceiling = previous
                self._update_limit()

    def make_room(self) -> None:
        """Before an index version opens: give back as much as the largest open version holds, so that the new
        one reuses that memory (freed later, it would stay in the allocator's hands, and resident)."""
        with self.lock:
            self._opening = max(self._versions.values(), default=0)
            self._update_limit()
            self._evict()

    def cancel_room(self) -> None:
        """The version being opened failed to open."""
        with self.lock:
            self._opening = 0
            self._update_limit()

    def hold(self, owner: object, nbytes: int) -> None:
        """``owner`` (an opened index version) holds ``nbytes`` outside the caches until ``release`` (or its end)."""
        with self.lock:
            self._opening = 0
            if id(owner) not in self._versions:
                weakref.finalize(owner, self._release, id(owner))
            self._versions[id(owner)] = max(0, nbytes)
            self._update_limit()
            self._evict()

    def release(self, owner: object) -> None:
        self._release(id(owner))

    def _release(self, owner_id: int) -> None:
        with self.lock:
            if self._versions.pop(owner_id, None) is not None:
                self._update_limit()

    def tick(self) -> int:
        return next(self._clock)

    def _register(self, cache: LRU) -> None:
        self._caches.add(cache)
        weakref.finalize(cache, self._forget, cache._costs)

    def _forget(self, costs: dict) -> None:
        """A cache was dropped (its version closed): what it held is no longer spent."""
        with self.lock:
            self.spent -= sum(costs.values())

    def _evict(self) -> None:
        """Drop least recently used entries, from whichever caches hold them, until the spent bytes fit (lock held)."""
        while self.spent > self.limit:
            heads = sorted((c._ticks[next(iter(c._entries))], id(c), c) for c in self._caches if c._entries)
            if not heads:
                return
            cache = heads[0][2]
            runner_up = heads[1][0] if len(heads) > 1 else None
            # the oldest cache keeps giving entries while they are older than any other cache's oldest
            while self.spent > self.limit and cache._entries:
                key = next(iter(cache._entries))
                if runner_up is not None and cache._ticks[key] > runner_up:
                    break
                cache._drop(key)


#: The budget of every cache of this process (the search function has one memory).
PROCESS_BUDGET = MemoryBudget.from_environment()


class LRU(Generic[K, V]):
    """At most ``size`` entries; a hit makes an entry the most recent, the least recent goes first.

    With ``cost`` (the bytes an entry holds), every entry is charged to ``budget`` (the process' by
    default), which evicts the least recently used entries of all its caches when they hold too much:
    an entry larger than the whole budget is computed, returned, and not kept.
    """

    def __init__(
        self, size: int, *, cost: Callable[[V], int] | None = None, budget: MemoryBudget | None = None
    ) -> None:
        self.size = size
        self._cost = cost
        self._budget = (budget or PROCESS_BUDGET) if cost is not None else None
        self._lock = self._budget.lock if self._budget is not None else Lock()
        self._costs: dict[K, int] = {}
        self._ticks: dict[K, int] = {}
        self._entries: OrderedDict[K, V] = OrderedDict()
        if self._budget is not None:
            self._budget._register(self)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def spent(self) -> int:
        """The bytes this cache's entries are charged (0 without a cost)."""
        return sum(self._costs.values())

    def get(self, key: K, default: V | None = None) -> V | None:
        with self._lock:
            if key not in self._entries:
                return default
            self._entries.move_to_end(key)
            if self._budget is not None:
                self._ticks[key] = self._budget.tick()
            return self._entries[key]

    def items(self) -> list[tuple[K, V]]:
        """Every entry now, least recently used first (without touching them)."""
        with self._lock:
            return list(self._entries.items())

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            budget = self._budget
            if budget is not None:
                cost = self._cost(value)
                budget.spent += cost - self._costs.get(key, 0)
                self._costs[key] = cost
                self._ticks[key] = budget.tick()
            while len(self._entries) > self.size:
                self._drop(next(iter(self._entries)))
            if budget is not None:
                budget._evict()

    def _drop(self, key: K) -> None:
        """Forget one entry (lock held)."""
        del self._entries[key]
        self._ticks.pop(key, None)
        if self._budget is not None:
            self._budget.spent -= self._costs.pop(key, 0)

    def get_or_compute(self, key: K, compute: Callable[[K], V]) -> V:
        """The cached value of ``key``, or ``compute(key)``, kept for next time. It is computed outside the
        lock: two threads missing together may both compute it, to the same result."""
        found = self.get(key, _MISSING)
        if found is not _MISSING:
            return found
        value = compute(key)
        self.put(key, value)
        return value


_MISSING: object = object()


# --- what entries hold, in bytes ------------------------------------------------------------------------
def size_of_numbers(container: object, new_numbers: int = 0) -> int:
    """A container (dict, set, tuple) and the ``new_numbers`` int or float objects only it holds."""
    return ENTRY_BYTES + sys.getsizeof(container) + new_numbers * NUMBER_BYTES


def size_of_strings(container: object, strings: object) -> int:
    """A container and the strings it holds (``strings``: an iterable of them)."""
    return ENTRY_BYTES + sys.getsizeof(container) + sum(map(sys.getsizeof, strings))


def size_of_record(record: dict) -> int:
    """A stored talk: a dict of strings, numbers and lists of strings."""
    total = ENTRY_BYTES + sys.getsizeof(record)
    for value in record.values():
        total += sys.getsizeof(value)
        if isinstance(value, list | tuple):
            total += sum(map(sys.getsizeof, value))
    return total
