"""Facet filters and counts from in-memory per-talk values, never from scored results.

Semantics: values of one facet are OR-ed, facets are AND-ed, and the counts of facet X
apply every active filter except X's own (disjunctive facets), so a visitor can widen a
selection as easily as narrow it. Counting is a C-level ``Counter`` over the values of the
matching talks: about 1 ms per 10,000 talks and facet. Facets of many values (speakers, companies,
events) over a large match are counted from their largest values down instead, until no value left
can reach the top (``_count_top_down``): a common word's 12,000 talks have 13,000 speakers, of which
the top 20 are found among the few hundred who gave the most talks.
"""

from __future__ import annotations

import bisect
import heapq
import re
import sys
import weakref
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from itertools import accumulate, chain, groupby
from operator import countOf, itemgetter
from threading import Lock

from functions.search.lru import LRU, size_of_strings
from functions.search.snapshot import IndexSnapshot
from talksearch.analysis import fold
from talksearch.contracts import FACET_NAMES, FACETS

#: Values returned per facet (selected values are always added).
FACET_LIMIT = 20
_MULTI_VALUED = {"speaker"}
#: Counting from the largest values down is tried over at least this many talks (below, the Counter is
#: cheaper) and for facets of more values than this (fewer: every value is counted anyway) ...
TOP_DOWN_MIN_TALKS = 2000
TOP_DOWN_MIN_VALUES = 4 * FACET_LIMIT
#: ... and given up, for the Counter, once the talks of the values counted pass this share of the match.
TOP_DOWN_BUDGET = 2.0
#: ... from a facet's second match of TOP_DOWN_MIN_TALKS talks or more (its values are then sorted by size).
TOP_DOWN_FROM_MATCH = 2

#: Counts of unfiltered matches of this many talks or more kept per index version, by the match's set
#: object (a word's match is cached, ``matching.WORD_CACHE_SIZE``: the same object comes back). An entry
#: refers to its set weakly: holding the sets of 256 common words' matches held 400 MB at 100,000 talks,
#: after the word cache had let them go.
COUNTED_CACHE_SIZE = 256

#: (value -> its talks, the same pairs by number of talks descending, those numbers, their running sums)
_ValueTalks = tuple[
    dict[object, tuple[int, ...]], tuple[tuple[object, tuple[int, ...]], ...], tuple[int, ...], tuple[int, ...]
]


class FacetIndex:
    """Per-talk facet values of one index version, plus value -> talks maps built on first use."""

    def __init__(self, snapshot: IndexSnapshot) -> None:
        self._snapshot = snapshot
        self._values = snapshot.facet_values
        self._by_year: dict[int, tuple[int, ...]] | None = None
        self._browse_counts: dict[str, list[dict]] | None = None
        self._speaker_names: NamePrefixIndex | None = None
        self._non_empty: dict[str, bool] = {}
        self._every_talk_counts: dict[str, Counter] = {}
        self._by_value: dict[str, _ValueTalks | None] = {}
        self._large_matches: Counter[str] = Counter()  # per facet, large matches counted so far
        self._counted: LRU[int, tuple[weakref.ref[frozenset[int]], dict[str, list[dict]]]] = LRU(
            COUNTED_CACHE_SIZE, cost=_counts_bytes
        )
        self._lock = Lock()

    def warm(self) -> None:
        """What the page's first request (a listing) needs: per-talk values, browse order, unfiltered counts."""
        self._snapshot.browse_order  # noqa: B018 - a cached property, computed here on purpose
        self.filter_and_count(None, {})

    def _has_values(self, facet: str) -> bool:
        found = self._non_empty.get(facet)
        if found is None:
            found = self._non_empty[facet] = any(self._values[facet])
        return found

    def speaker_names(self) -> NamePrefixIndex:
        """Speakers by the folded start of any of their names, for search-as-you-type (built on first use)."""
        if self._speaker_names is None:
            talks = self._every_talk_counts.get("speaker")
            if talks is None:
                self._count("speaker", self._snapshot.live_docs, ())
                talks = self._every_talk_counts["speaker"]
            self._speaker_names = NamePrefixIndex(talks)
        return self._speaker_names

    def talks_with(self, facet: str, selected: Iterable[object]) -> frozenset[int]:
        """Talks having any of the selected values of one facet.

        Read from the exact-value posting lists (``f_speaker``, ``f_event``…, one cached read per
        value), years from the per-talk years: no value -> talks map of 13,000 speakers to build.
        """
        if facet == "year":
            return frozenset(chain.from_iterable(self._talks_by_year().get(year, ()) for year in selected))
        field = FACETS[facet]
        found = [self._snapshot.term(field, str(value)) for value in selected]
        return frozenset(chain.from_iterable(data.frequencies for data in found if data is not None))

    def _talks_by_year(self) -> dict[int, tuple[int, ...]]:
        if self._by_year is None:
            deleted = self._snapshot.deleted
            pairs = sorted((year, doc) for doc, year in enumerate(self._values["year"]) if year is not None)
            self._by_year = {  # tuples of ints: untracked by the GC
                year: tuple(doc for _, doc in group if doc not in deleted)
                for year, group in groupby(pairs, key=itemgetter(0))
            }
        return self._by_year

    def filter_and_count(
        self, matching: Collection[int] | None, filters: Mapping[str, tuple]
    ) -> tuple[Collection[int], dict[str, list[dict]]]:
        """(talks passing every filter, facet counts); ``matching`` None means every talk."""
        if matching is None and not filters:
            with self._lock:
                cached = self._browse_counts
            if cached is None:
                cached = self._count_all(self._snapshot.live_docs, {})
                with self._lock:
                    self._browse_counts = cached
            return self._snapshot.live_docs, cached
        if not filters and isinstance(matching, frozenset) and len(matching) >= TOP_DOWN_MIN_TALKS:
            # counts depend on the talks alone; the entry's weak reference tells a reused id from its set
            found = self._counted.get(id(matching))
            if found is None or found[0]() is not matching:
                found = (weakref.ref(matching), self._count_all(matching, {}))
                self._counted.put(id(matching), found)
            return matching, found[1]
        base: Collection[int] = self._snapshot.live_docs if matching is None else matching
        allowed = {facet: self.talks_with(facet, values) for facet, values in filters.items()}
        result = _intersect(base, allowed.values())
        counts = {}
        pick = _picker(result)  # shared by every facet counted over the result
        for facet in FACET_NAMES:
            others = [docs for name, docs in allowed.items() if name != facet]
            # counts of facet X ignore X's own filter: same docs as the result when X is not filtered
            scope = result if facet not in allowed else _intersect(base, others)
            counts[facet] = self._count(facet, scope, filters.get(facet, ()), pick if scope is result else None)
        return result, counts

    def _count_all(self, docs: Collection[int], filters: Mapping[str, tuple]) -> dict[str, list[dict]]:
        return {facet: self._count(facet, docs, filters.get(facet, ())) for facet in FACET_NAMES}

    def _count(
        self, facet: str, docs: Collection[int], selected: tuple, pick: Callable[[Sequence], Iterable] | None = None
    ) -> list[dict]:
        if not self._has_values(facet):  # e.g. no talk has a company: nothing to count
            return [{"value": value, "count": 0} for value in selected]
        every_talk = docs is self._snapshot.live_docs
        counter = self._every_talk_counts.get(facet) if every_talk else None
        if counter is None and not every_talk and len(docs) >= TOP_DOWN_MIN_TALKS:
            counter = self._count_top_down(facet, docs if isinstance(docs, (set, frozenset)) else set(docs), selected)
        if counter is None:
            picked = (pick or _picker(docs))(self._values[facet])
            if facet in _MULTI_VALUED:
                counter = Counter(chain.from_iterable(picked))
            else:
                counter = Counter(picked)
                counter.pop(None, None)
                counter.pop("", None)
            if every_talk:  # a filter on this facet alone: counted over every talk, like browsing
                self._every_talk_counts[facet] = counter
        top = top_values(counter, FACET_LIMIT)
        shown = {value for value, _ in top}
        top.extend((value, counter.get(value, 0)) for value in selected if value not in shown)
        return [{"value": value, "count": count} for value, count in top]

    def _count_top_down(self, facet: str, docs: set[int] | frozenset[int], selected: tuple) -> dict[object, int] | None:
        """The counts within ``docs`` of every value that can be among the FACET_LIMIT largest and of the
        selected values, or None when counting every talk's values is cheaper.

        Values are taken by their number of talks, largest first; a value with fewer talks than the
        FACET_LIMIT-th count found so far cannot reach the top, nor can any after it, so the top and the
        values tied at its last count are the Counter's (ties are then ordered by ``top_values``).
        """
        if facet not in self._by_value:
            # the value table costs a pass over every talk's values (90 ms at 21.7k talks, most of a cold
            # container's first answer): built at the facet's second large match, the first counts talks
            self._large_matches[facet] += 1
            if self._large_matches[facet] < TOP_DOWN_FROM_MATCH:
                return None
        found = self._values_by_size(facet)
        if found is None or self._too_flat(found[2], found[3], len(docs)):
            return None
        counts = self._largest_counts(found[1], docs)
        if counts is not None:
            for value in selected:  # a selected value is listed with its count even outside the top
                if value not in counts and (count := len(docs.intersection(found[0].get(value, ())))):
                    counts[value] = count
        return counts

    def _too_flat(self, sizes: tuple[int, ...], cumulative: tuple[int, ...], matched: int) -> bool:
        """Whether counting from the largest values down would likely pass its budget: the values with at
        least the FACET_LIMIT-th largest value's share of the match (the top's last count if every value
        were spread evenly) hold more talks than the budget allows (flat values: every speaker gives 2
        talks). Only the way of counting is chosen here, never the counts."""
        expected_cut = sizes[FACET_LIMIT - 1] * matched / max(1, self._snapshot.doc_count)
        reaching = bisect.bisect_right(sizes, -expected_cut, key=int.__neg__)  # sizes descending
        return reaching > 0 and cumulative[reaching - 1] > matched * TOP_DOWN_BUDGET

    @staticmethod
    def _largest_counts(by_size: Sequence[tuple[object, tuple[int, ...]]], docs: set[int] | frozenset[int]):
        """Counts within ``docs`` of the values by size until none left can reach the top (None: over budget)."""
        budget = len(docs) * TOP_DOWN_BUDGET
        counts: dict[object, int] = {}
        lowest: list[int] = []  # min-heap of the FACET_LIMIT largest counts so far
        intersection = docs.intersection
        for value, talks in by_size:
            size = len(talks)
            if len(lowest) == FACET_LIMIT and size < lowest[0]:
                return counts
            budget -= size
            if budget < 0:
                return None
            count = len(intersection(talks))
            if count:
                counts[value] = count
                if len(lowest) < FACET_LIMIT:
                    heapq.heappush(lowest, count)
                elif count > lowest[0]:
                    heapq.heapreplace(lowest, count)
        return counts

    def _values_by_size(self, facet: str) -> _ValueTalks | None:
        """(value -> its talks, the same pairs by number of talks descending) of a facet of many values,
        built on first use per version; None for a facet of few values, or where a talk lists one value
        twice (the Counter counts it twice)."""
        if facet in self._by_value:
            return self._by_value[facet]
        values = self._values[facet]
        if facet not in _MULTI_VALUED and len(set(values) - {None, ""}) <= TOP_DOWN_MIN_VALUES:
            # few values (years, languages): known from one C-level pass, not the value -> talks pass below
            self._by_value[facet] = None
            return None
        talks: dict[object, list[int]] = {}
        if facet in _MULTI_VALUED:
            for doc, names in enumerate(values):
                for name in names:
                    talks.setdefault(name, []).append(doc)
        else:
            for doc, value in enumerate(values):
                if value is not None and value != "":
                    talks.setdefault(value, []).append(doc)
        # a talk listing a name twice would be counted once here, twice by the Counter
        repeated = any(len(set(docs)) != len(docs) for docs in talks.values())
        if repeated or len(talks) <= TOP_DOWN_MIN_VALUES:
            built = None
        else:  # tuples of ints and strs: untracked by the cyclic GC
            by_value = {value: tuple(docs) for value, docs in talks.items()}
            by_size = tuple(sorted(by_value.items(), key=lambda item: -len(item[1])))
            sizes = tuple(len(docs) for _, docs in by_size)
            built = by_value, by_size, sizes, tuple(accumulate(sizes))
        self._by_value[facet] = built
        return built


class NamePrefixIndex:
    """Names found by the start of any of their words, folded (``gael`` finds ``Gaël Varoquaux``)."""

    def __init__(self, counts: Mapping[str, int]) -> None:
        entries = sorted((token, name) for name in counts for token in re.findall(r"\w+", fold(name)))
        self._tokens = tuple(token for token, _ in entries)  # tuples of str: untracked by the GC
        self._names = tuple(name for _, name in entries)
        self._counts = counts

    def starting_with(self, prefix: str, limit: int, scan: int = 500) -> list[str]:
        start = bisect.bisect_left(self._tokens, prefix)
        found: set[str] = set()
        for i in range(start, min(start + scan, len(self._tokens))):
            if not self._tokens[i].startswith(prefix):
                break
            found.add(self._names[i])
        return sorted(found, key=lambda name: (-self._counts[name], name))[:limit]


def _counts_bytes(entry: tuple[weakref.ref, dict[str, list[dict]]]) -> int:
    """A match's facet counts: a small dict per value shown, and the values' strings."""
    counts = entry[1]
    rows = [row for shown in counts.values() for row in shown]
    return size_of_strings(counts, (row["value"] for row in rows if isinstance(row["value"], str))) + sum(
        map(sys.getsizeof, rows)
    )


def _picker(docs: Collection[int]) -> Callable[[Sequence], Iterable]:
    """values -> the values of ``docs``: one ``itemgetter`` call (C) rather than a ``map`` per facet."""
    if len(docs) < 2:  # itemgetter with one index returns the item itself, not a tuple
        return lambda values: [values[d] for d in docs]
    return itemgetter(*docs)


def top_values(counter: Mapping[object, int], limit: int) -> list[tuple[object, int]]:
    """The ``limit`` values with the largest counts in the canonical order: count descending, then value.

    ``heapq.nlargest`` with a C-level key picks them (sorting 13,000 speakers by count would cost
    ~5 ms); when more values share the last count than were taken (counted in C), the first of them
    by value are taken instead of those met first.
    """
    top = heapq.nlargest(limit, counter.items(), key=itemgetter(1))
    if len(top) == limit:
        cut = top[-1][1]
        taken = sum(1 for _, count in top if count == cut)
        if countOf(counter.values(), cut) > taken:
            tied = sorted(((v, c) for v, c in counter.items() if c == cut), key=_by_count_then_value)
            top = [(v, c) for v, c in top if c != cut] + tied[:taken]
    return sorted(top, key=_by_count_then_value)


def _by_count_then_value(item: tuple[object, int]) -> tuple[int, str]:
    return -item[1], str(item[0])


def _intersect(base: Collection[int], others: Iterable[frozenset[int]]) -> Collection[int]:
    result = base
    for docs in sorted(others, key=len):
        result = docs.intersection(result) if len(docs) < len(result) else set(result).intersection(docs)
    return result
