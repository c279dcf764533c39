"""One opened index version, with the per-talk data the search path needs held in memory.

Whoosh's own searcher scores every match through Python matcher objects (~100 ms for a word in
half the corpus), so the engine reads raw postings (talks and term frequencies, positions only
for phrase candidates) and does its own BM25 arithmetic: from the version's search pack
(``talksearch.search_pack.PackFiles``, the search function's), or from a Whoosh index directory
through ``talksearch.index_files`` (which answers the same: tests, the bench, the evaluation). What
it needs per talk (facet values, browse order, field lengths) is read once per version, in a
few milliseconds each. Decoded terms, prefix expansions and phrase matches are cached per
version (``LRU``, dropped with the snapshot) in containers the cyclic garbage collector does
not track.
"""

from __future__ import annotations

import heapq
import math
import re
from bisect import bisect_right
from collections.abc import Collection, Iterable, Sequence
from functools import cached_property
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

from functions.search.lru import LRU, size_of_numbers, size_of_record, size_of_strings
from talksearch.analysis import LENGTH_OF_BYTE, STOP_WORDS
from talksearch.contracts import FACETS, VALUE_SEPARATOR
from talksearch.search_pack.precomputed import ELIDED

#: BM25 free parameters (the usual ones).
K1 = 1.2
B = 0.75
#: Entries kept per index version, at most, in each cache; what they hold together is bounded by the memory
#: the function has (``lru.MemoryBudget``: each entry is charged the bytes it holds). Decoded posting lists:
#: many rare terms stay cached next to a few common ones (1,024 lists thrashed over a 700-query mix:
#: re-reading them was the largest cost of warm queries).
TERM_CACHE_ENTRIES = 16384
#: Prefix expansions and vocabulary slices.
TERM_CACHE_SIZE = 1024
#: Phrase matches (tuples of talks).
PHRASE_CACHE_SIZE = 4096
#: Positions of a term in one talk (proximity and phrase checks).
POSITIONS_CACHE_SIZE = 65536
#: ... asked for at most this many talks at once: a common phrase's first check reads a word's positions in
#: thousands of talks, and keeping each in the cache cost as much as decoding them (its answer is cached whole).
POSITIONS_KEPT_MAX = 256
#: Stored talks (title, speakers, summary…): the talks that head common queries come back page after
#: page, and reading one is a block decompression and an unpickling.
STORED_CACHE_SIZE = 2048
#: Typo candidates sharing a head this long are checked against the vocabulary slice starting so,
#: read at most VOCABULARY_SLICE_MAX terms far.
VOCABULARY_SLICE_MIN = 3
VOCABULARY_SLICE_MAX = 1500
#: The pseudo-field of the stop words of titles (``stop_word_titles``): the index drops stop words,
#: but a query of stop words only (``the``, ``les``, ``AI``) searches them as words.
TITLE_STOP_WORDS = "title:stop"


class TermData(NamedTuple):
    """One term's talks and what BM25 needs to score them: ``tf / (tf + norms[lengths[talk]])``.

    Only untracked objects inside (a dict of int -> float, bytes, tuples): hundreds of cached terms
    holding thousands of talks each would otherwise make every full garbage collection walk them
    (measured: 200 ms pauses).
    """

    frequencies: dict[int, float]  # talk -> term frequency; its keys are the term's talks
    lengths: bytes  # the field's length byte of every talk
    norms: tuple[float, ...]  # K1 * (1 - B + B * length / average length), per length byte


class IndexSnapshot:
    """A read-only index opened once and kept open; safe to share between threads."""

    def __init__(self, index_dir: str | Path | None = None, version: str = "", built_at: str = "", files=None) -> None:
        """Over ``files`` (the search function's ``talksearch.search_pack.PackFiles``, which answers as
        ``IndexFiles`` does), or else over the Whoosh index in ``index_dir`` (tests, the bench, the evaluation)."""
        if files is None:
            from talksearch.index_files.reading import IndexFiles  # Whoosh's index modules: not on the search path

            files = IndexFiles(Path(index_dir))
        self.files = files
        self.doc_count = self.files.doc_count
        self.deleted = self.files.deleted
        self.version = version
        self.built_at = built_at
        self._terms: LRU[tuple[str, str], TermData | None] = LRU(TERM_CACHE_ENTRIES, cost=_term_bytes)
        self._prefixes: LRU[tuple, tuple[str, ...]] = LRU(TERM_CACHE_SIZE, cost=_strings_bytes)
        self._phrases: LRU[tuple, tuple[int, ...]] = LRU(PHRASE_CACHE_SIZE, cost=size_of_numbers)
        self._slices: LRU[tuple[str, str], dict[str, None] | None] = LRU(TERM_CACHE_SIZE, cost=_strings_bytes)
        self._norms: LRU[str, tuple[bytes, tuple[float, ...]]] = LRU(64)  # one per field: a few kB each
        self._stop_words: LRU[str, dict[int, float]] = LRU(64, cost=_frequencies_bytes)
        self._stored: LRU[int, dict] = LRU(STORED_CACHE_SIZE, cost=size_of_record)
        self._positions: LRU[tuple[str, str, int], tuple[int, ...]] = LRU(POSITIONS_CACHE_SIZE, cost=_positions_bytes)

    def close(self) -> None:
        self.files.close()

    # --- per-talk columns ------------------------------------------------------------------
    def _column(self, fieldname: str) -> list[str | None]:
        """A text column's value for every talk (None where a segment lacks the column)."""
        values = self.files.column(fieldname)
        # a few hundred distinct values (events, languages) are decoded once each
        decoded = {raw: raw.decode("utf-8") for raw in set(values) if raw is not None}
        return [decoded.get(raw) if raw is not None else None for raw in values]

    @cached_property
    def live_docs(self) -> frozenset[int]:
        return frozenset(range(self.doc_count)) - self.deleted

    @cached_property
    def facet_values(self) -> dict[str, list]:
        """Facet name -> value of every talk (a tuple of names for ``speaker``; "" or None when unknown)."""
        dates = self.dates
        years: dict[str | None, int | None] = {}
        for date in set(dates):
            head = (date or "")[:4]
            years[date] = int(head) if len(head) == 4 and head.isdigit() else None
        split = VALUE_SEPARATOR
        return {  # tuples: never walked by the cyclic GC once it has seen their contents
            "speaker": tuple(tuple(v.split(split)) if v else () for v in self._column("speaker_values")),
            "company": tuple(self._column(FACETS["company"])),
            "event": tuple(self._column(FACETS["event"])),
            # the year is the date's (as Talk.year), and reading dates is 10x faster than the numeric column
            "year": tuple(years[d] for d in dates),
            "lang": tuple(self._column(FACETS["lang"])),
        }

    @cached_property
    def dates(self) -> list[str | None]:
        return self._column("date")

    @cached_property
    def browse_rank(self) -> tuple[int, ...]:
        """Position of each talk in the browse order: newest first, then by title."""
        titles = self._column("sort_title")
        # dates are ISO strings: sort by title ascending, then stably by date descending
        title_keys = [t or "" for t in titles]
        date_keys = [d or "" for d in self.dates]
        order = sorted(range(self.doc_count), key=title_keys.__getitem__)
        order.sort(key=date_keys.__getitem__, reverse=True)  # stable: equal dates stay in title order
        rank = [0] * self.doc_count
        for position, doc in enumerate(order):
            rank[doc] = position
        return tuple(rank)

    @cached_property
    def browse_order(self) -> tuple[int, ...]:
        order = [0] * self.doc_count
        for doc, position in enumerate(self.browse_rank):
            order[position] = doc
        deleted = self.deleted
        return tuple(d for d in order if d not in deleted)

    # --- term statistics and postings ----------------------------------------------------------
    def doc_frequency(self, fieldname: str, term: str) -> int:
        return self.files.doc_frequency(fieldname, term)

    def has_term(self, fieldname: str, term: str) -> bool:
        return self.files.has_term(fieldname, term)

    def known_terms(self, fieldname: str, candidates: Iterable[str], shared: str = "") -> list[tuple[int, str]]:
        """(document frequency, term) of the candidates present in the field (typo neighbours).

        Candidates starting with ``shared`` are checked against that slice of the sorted vocabulary,
        read once (a few hundred terms); the others one by one in the term table (~3 µs each).
        """
        vocabulary = self.terms_starting(fieldname, shared) if len(shared) >= VOCABULARY_SLICE_MIN else None
        if vocabulary is not None:
            candidates = [t for t in candidates if not t.startswith(shared) or t in vocabulary]
        return [(df, term) for df, term in self.files.known_terms(fieldname, candidates) if df]

    def terms_starting(self, fieldname: str, head: str) -> dict[str, None] | None:
        """Every term of the field starting with ``head``, or None when there are too many to be worth it."""

        def read(key: tuple[str, str]) -> dict[str, None] | None:
            terms = self.files.terms_starting(*key, VOCABULARY_SLICE_MAX)
            return dict.fromkeys(terms) if terms is not None else None  # a dict of str: untracked by the GC

        return self._slices.get_or_compute((fieldname, head), read)

    def idf(self, fieldname: str, term: str) -> float:
        df = self.doc_frequency(fieldname, term)
        return math.log(1.0 + (self.doc_count - df + 0.5) / (df + 0.5))

    def length_norms(self, fieldname: str) -> tuple[bytes, tuple[float, ...]]:
        """(length byte of every talk, BM25 denominator term for each of the 256 length bytes)."""

        def read(name: str) -> tuple[bytes, tuple[float, ...]]:
            total = self.files.total_length(name)
            average = total / self.doc_count if self.doc_count and total else 1.0
            norms = tuple(K1 * (1.0 - B + B * LENGTH_OF_BYTE[b] / average) for b in range(256))
            return self.files.length_bytes(name), norms

        return self._norms.get_or_compute(fieldname, read)

    @cached_property
    def _titles(self) -> tuple[str, list[int]]:
        """Every folded title (the ``sort_title`` column) joined by newlines, and where each talk's starts."""
        starts, parts, at = [], [], 0
        deleted = self.deleted
        for doc, title in enumerate(self._column("sort_title")):
            text = "" if title is None or doc in deleted else title.replace("\n", " ")
            starts.append(at)
            parts.append(text)
            at += len(text) + 1
        return "\n".join(parts), starts

    def stop_word_titles(self, word: str) -> dict[int, float]:
        """{talk: frequency of the stop word in its title}: from the pack (``talksearch.search_pack.precomputed``),
        else one regex search of every title (21 ms at 21.7k talks); cached per version. An elided article
        (``l'``, ``c'est``) and ``j'ai`` are not the words."""

        def read(word: str) -> dict[int, float]:
            # a pack holds every stop word's titles, computed at build time (a regex over 21.7k titles is 21 ms)
            precomputed = getattr(self.files, "title_stop_words", None)
            found = precomputed(word) if precomputed is not None else None
            if found is not None:
                return found
            text, starts = self._titles
            before = r"(?<!\w)(?<!j')(?<!j’)" if word == "ai" else r"(?<!\w)"
            after = r"(?!\w)(?!['’]\w)" if word in ELIDED else r"(?!\w)"
            counts: dict[int, float] = {}
            for match in re.finditer(before + re.escape(word) + after, text):
                doc = bisect_right(starts, match.start()) - 1
                counts[doc] = counts.get(doc, 0.0) + 1.0
            return counts

        return self._stop_words.get_or_compute(word, read)

    def term(self, fieldname: str, term: str) -> TermData | None:
        """Postings and BM25 length norms of one term in one field (None when absent), cached per version."""
        if fieldname == TITLE_STOP_WORDS:
            frequencies = self.stop_word_titles(term) if term in STOP_WORDS else None
            return TermData(frequencies, *self.length_norms("title")) if frequencies else None

        def read(key: tuple[str, str]) -> TermData | None:
            ids, frequencies = self.files.postings(*key)
            if not ids:
                return None
            return TermData(dict(zip(ids, frequencies, strict=True)), *self.length_norms(fieldname))

        return self._terms.get_or_compute((fieldname, term), read)

    def expand_prefix(self, fieldname: str, prefix: str, scan_limit: int, keep: int) -> tuple[str, ...]:
        """The ``keep`` most frequent terms starting with ``prefix``, looking at no more than ``scan_limit``."""

        def read(key: tuple) -> tuple[str, ...]:
            frequencies = self.files.prefix_frequencies(fieldname, prefix, scan_limit)
            return tuple(t for t, _ in heapq.nlargest(keep, frequencies.items(), key=itemgetter(1)))

        return self._prefixes.get_or_compute((fieldname, prefix, scan_limit, keep), read)

    def phrase_docs(
        self,
        fields_and_words: Iterable[tuple[str, list[str], int]],
        within: Collection[int],
        *,
        cache: bool = False,
    ) -> set[int]:
        """Talks among ``within`` where the words appear in this order in one of the fields.

        ``slop`` is how far apart consecutive words may be (1: adjacent; more where stop words were
        removed). Positions are decoded only for the candidate talks. ``cache``: only when ``within``
        follows from the words themselves (every talk having them all), the fields and words being
        the cache key. Candidates without a word whose posting list is cached are dropped first: the
        blocks holding their numbers are then not decoded (a common word's positions cost a block each).
        """
        fields_and_words = [(f, tuple(w), slop) for f, w, slop in fields_and_words]
        key = tuple(fields_and_words)
        if cache:
            found = self._phrases.get(key)
            if found is not None:
                return set(found)
        matched: set[int] = set()
        for fieldname, words, slop in fields_and_words:
            candidates = set(within) - matched
            for word in words:  # talks without a word in this field have no positions to decode
                known = self._terms.get((fieldname, word))
                if known is not None and candidates:
                    frequencies = known.frequencies
                    if len(candidates) <= len(frequencies):
                        candidates = {d for d in candidates if d in frequencies}
                    else:
                        candidates = candidates.intersection(frequencies)
            per_word: dict[str, dict[int, list[int]]] = {}
            # rarest word first: the common ones are then decoded only for the few talks left
            for word in sorted(set(words), key=lambda w: self.doc_frequency(fieldname, w)):
                if not candidates:
                    break
                per_word[word] = found = self.positions(fieldname, word, candidates)
                candidates &= found.keys()
            matched.update(d for d in candidates if _in_order([per_word[w][d] for w in words], slop))
        if cache:
            self._phrases.put(key, tuple(matched))  # a tuple of ints is invisible to the cyclic GC
        return matched

    def positions(self, fieldname: str, term: str, docs: set[int]) -> dict[int, Sequence[int]]:
        """A term's positions in each of ``docs`` that has it, per talk cached per version: the talks that
        head common queries come back in query after query's proximity check, and decoding one talk's
        positions of a common word decodes (unpickles) its whole posting block. More than POSITIONS_KEPT_MAX
        talks: read and returned as they are (a common phrase's first ask at 100,000 talks spent as long
        making tuples of them as reading them)."""
        if len(docs) > POSITIONS_KEPT_MAX:
            return self.files.positions(fieldname, term, docs)
        found: dict[int, tuple[int, ...]] = {}
        missing = []
        get = self._positions.get
        for doc in docs:
            known = get((fieldname, term, doc))
            if known is None:
                missing.append(doc)
            elif known:
                found[doc] = known
        if missing:
            read = self.files.positions(fieldname, term, missing)
            for doc in missing:
                positions = tuple(read.get(doc, ()))  # () also says "not in this talk"
                self._positions.put((fieldname, term, doc), positions)
                if positions:
                    found[doc] = positions
        return found

    # --- stored talks ----------------------------------------------------------------------------
    def stored(self, doc: int) -> dict:
        """One talk's stored fields (shared between requests: read, never change)."""
        return self._stored.get_or_compute(doc, self.files.stored)

    def doc_for_id(self, talk_id: str) -> int | None:
        return self.files.doc_for_id(talk_id)


def _frequencies_bytes(frequencies: dict[int, float]) -> int:
    """{talk: frequency}: the dict, its talk numbers and its frequencies."""
    return size_of_numbers(frequencies, 2 * len(frequencies))


def _term_bytes(data: TermData | None) -> int:
    """A posting list; its lengths and norms are the field's, shared by every term of it."""
    return size_of_numbers(()) if data is None else _frequencies_bytes(data.frequencies)


def _strings_bytes(strings: tuple[str, ...] | dict[str, None] | None) -> int:
    return size_of_numbers(()) if strings is None else size_of_strings(strings, strings)


def _positions_bytes(positions: tuple[int, ...]) -> int:
    """A talk's positions of a term, and its key (positions up to 256 are ints CPython shares; they are in
    increasing order, so bisect counts the others)."""
    return size_of_numbers(positions, 3 + len(positions) - bisect_right(positions, 256))


def _in_order(positions: list[list[int]], slop: int) -> bool:
    """Whether the words' positions follow each other, each at most ``slop`` after the one before."""
    if len(positions) == 2:  # one set test in C: a common phrase checks thousands of talks on its first ask
        return not set(positions[1]).isdisjoint([p + k for k in range(1, slop + 1) for p in positions[0]])
    following = [set(p) for p in positions[1:]]
    for start in positions[0]:
        at = start
        for nexts in following:
            at = next((q for q in range(at + 1, at + slop + 1) if q in nexts), -1)
            if at < 0:
                break
        else:
            return True
    return False
