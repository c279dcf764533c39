"""One opened index version, with the per-talk data the search path needs held in memory.

This is the only module of the search function that touches Whoosh (and some of its
internals: the W3 codec's posting blocks, term tables and columns). Whoosh's own searcher
scores every match through Python matcher objects (~100 ms for a word in half the corpus),
so the engine reads raw posting blocks (doc ids and term frequencies, positions only for
phrase candidates) and does its own BM25 arithmetic; what it needs per talk (facet values,
browse order, field lengths) is read from Whoosh columns once per version, in a few
milliseconds each. Decoded terms, prefix expansions and phrase matches are cached per
version in containers the cyclic garbage collector does not track.
"""

from __future__ import annotations

import heapq
import math
import pickle
from bisect import bisect_right
from collections import Counter, OrderedDict
from collections.abc import Collection, Iterable
from functools import cached_property, lru_cache
from itertools import accumulate, repeat
from operator import itemgetter
from pathlib import Path
from threading import Lock
from typing import NamedTuple

from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher, _lenfield
from whoosh.lang import stemmer_for_language
from whoosh.reading import TermNotFound
from whoosh.util.numeric import byte_to_length

from talksearch.schema import FACETS, FOLDED, VALUE_SEPARATOR, fold

#: BM25 free parameters (the usual ones).
K1 = 1.2
B = 0.75
#: Decoded posting lists kept in memory per index version (the most recently used ones).
TERM_CACHE_SIZE = 1024
PHRASE_CACHE_SIZE = 128
#: Typo candidates sharing a head this long are checked against the vocabulary slice starting so,
#: read at most VOCABULARY_SLICE_MAX terms far.
VOCABULARY_SLICE_MIN = 3
VOCABULARY_SLICE_MAX = 1500

_MISSING = object()


class TermData(NamedTuple):
    """One term's talks and what BM25 needs to score them: ``factor * tf / (tf + norms[lengths[doc]])``.

    Only untracked objects inside (a dict of int -> float, bytes, tuples): hundreds of cached terms
    holding thousands of talks each would otherwise make every full garbage collection walk them
    (measured: 200 ms pauses).
    """

    frequencies: dict[int, float]  # talk -> term frequency; its keys are the term's talks
    factor: float  # idf * (K1 + 1)
    lengths: bytes  # the field's length byte of every talk
    norms: tuple[float, ...]  # K1 * (1 - B + B * length / average length), per length byte

    @property
    def docs(self) -> dict[int, float]:
        return self.frequencies


_stem_fr = lru_cache(maxsize=50_000)(stemmer_for_language("fr"))
_stem_en = lru_cache(maxsize=50_000)(stemmer_for_language("en"))


def stem_fr(word: str) -> str:
    return _stem_fr(word)


def stem_en(word: str) -> str:
    return _stem_en(word)


def folded_words(text: str) -> list[str]:
    """Folded, unstemmed, non-stop words of ``text``, exactly as the ``words`` field indexed them."""
    return [token.text for token in FOLDED(text)]


class IndexSnapshot:
    """A read-only Whoosh index opened once and kept open; safe to share between threads."""

    def __init__(self, index_dir: str | Path, version: str = "", built_at: str = "") -> None:
        self.index_dir = Path(index_dir)
        self._index = whoosh_index.open_dir(str(self.index_dir), readonly=True)
        self._searcher = self._index.searcher()
        self._reader = self._searcher.reader()
        self.doc_count = self._reader.doc_count_all()
        #: (segment reader, first doc number): one entry unless an incremental build added segments
        self._leaves = self._reader.leaf_readers()
        self._term_tables = [leaf._terms for leaf, _ in self._leaves]
        self.version = version
        self.built_at = built_at
        self._term_cache: OrderedDict[tuple[str, str], TermData | None] = OrderedDict()
        self._prefix_cache: OrderedDict[tuple, tuple[str, ...]] = OrderedDict()
        self._phrase_cache: OrderedDict[tuple, tuple[int, ...]] = OrderedDict()
        self._slice_cache: OrderedDict[tuple[str, str], dict[str, None] | None] = OrderedDict()
        self._lock = Lock()

    def close(self) -> None:
        self._searcher.close()

    # --- per-talk columns ------------------------------------------------------------------
    def _column(self, fieldname: str) -> list[str | None]:
        """A text column's value for every talk (None where a segment lacks the column)."""
        values: list[bytes | None] = []
        for leaf, _ in self._leaves:
            count = leaf.doc_count_all()
            part = _raw_column(leaf, fieldname) if leaf.has_column(fieldname) else []
            values.extend(part[:count])
            values.extend([None] * (count - len(part)))
        # a few hundred distinct values (events, languages) are decoded once each
        decoded = {raw: raw.decode("utf-8") for raw in set(values) if raw is not None}
        return [decoded.get(raw) if raw is not None else None for raw in values]

    @cached_property
    def deleted(self) -> frozenset[int]:
        """Talks deleted by an incremental build but still in the posting lists until a merge."""
        if not self._reader.has_deletions():
            return frozenset()
        return frozenset(d for d in range(self.doc_count) if self._reader.is_deleted(d))

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
        return {  # tuples: never walked by the cyclic GC once it has seen their contents
            "speaker": tuple(self._speaker_values()),
            "company": tuple(self._column(FACETS["company"])),
            "event": tuple(self._column(FACETS["event"])),
            # the year is the date's (as Talk.year), and reading dates is 10x faster than the numeric column
            "year": tuple(years[d] for d in dates),
            "lang": tuple(self._column(FACETS["lang"])),
        }

    @cached_property
    def dates(self) -> list[str | None]:
        return self._column("date")

    def _speaker_values(self) -> list[tuple[str, ...]]:
        if all(leaf.has_column("speaker_values") for leaf, _ in self._leaves):
            split = VALUE_SEPARATOR
            return [tuple(v.split(split)) if v else () for v in self._column("speaker_values")]
        # index written before the column existed: rebuild it from the exact-value postings (slow, once)
        values: list[list[str]] = [[] for _ in range(self.doc_count)]
        for term in self._reader.lexicon(FACETS["speaker"]):
            name = term.decode("utf-8")
            for doc in self._reader.postings(FACETS["speaker"], name).all_ids():
                values[doc].append(name)
        return [tuple(v) for v in values]

    @cached_property
    def browse_rank(self) -> tuple[int, ...]:
        """Position of each talk in the browse order: newest first, then by title."""
        dates = self.dates
        titles = self._column("sort_title")
        # dates are ISO strings: sort by title ascending, then stably by date descending
        title_keys = [t or "" for t in titles]
        date_keys = [d or "" for d in dates]
        order = sorted(range(self.doc_count), key=title_keys.__getitem__)
        order.sort(key=date_keys.__getitem__, reverse=True)  # stable: equal dates stay in title order
        rank = [0] * self.doc_count
        for position, doc in enumerate(order):
            rank[doc] = position
        return tuple(rank)

    @cached_property
    def browse_order(self) -> tuple[int, ...]:
        rank = self.browse_rank
        order = [0] * self.doc_count
        for doc, position in enumerate(rank):
            order[position] = doc
        deleted = self.deleted
        return tuple(d for d in order if d not in deleted)

    # --- term statistics and postings ----------------------------------------------------------
    def doc_frequency(self, fieldname: str, term: str) -> int:
        """Talks containing the term (straight from the term tables: ~1 µs, no field checks)."""
        key = (fieldname, term.encode("utf-8"))
        return sum(table.doc_frequency(*key) for table in self._term_tables if key in table)

    def has_term(self, fieldname: str, term: str) -> bool:
        key = (fieldname, term.encode("utf-8"))
        return any(key in table for table in self._term_tables)

    def known_terms(self, fieldname: str, candidates: Iterable[str], shared: str = "") -> list[tuple[int, str]]:
        """(document frequency, term) of the candidates present in the field (typo neighbours).

        Candidates starting with ``shared`` are checked against that slice of the sorted vocabulary,
        read once (a few hundred terms); the others one by one in the term table (~3 µs each).
        """
        vocabulary = self.terms_starting(fieldname, shared) if len(shared) >= VOCABULARY_SLICE_MIN else None
        found = []
        for term in candidates:
            if vocabulary is not None and term.startswith(shared) and term not in vocabulary:
                continue
            key = (fieldname, term.encode("utf-8"))
            df = sum(table.doc_frequency(*key) for table in self._term_tables if key in table)
            if df:
                found.append((df, term))
        return found

    def terms_starting(self, fieldname: str, head: str) -> dict[str, None] | None:
        """Every term of the field starting with ``head``, or None when there are too many to be worth it."""
        key = (fieldname, head)
        with self._lock:
            if key in self._slice_cache:
                return self._slice_cache[key]
        wanted = head.encode("utf-8")
        terms: set[str] | None = set()
        for table in self._term_tables:
            for count, (name, term) in enumerate(table.terms_from(fieldname, wanted)):
                if name != fieldname or not term.startswith(wanted):
                    break
                if count >= VOCABULARY_SLICE_MAX:
                    terms = None
                    break
                terms.add(term.decode("utf-8"))
            if terms is None:
                break
        found = dict.fromkeys(terms) if terms is not None else None  # a dict of str: untracked by the GC
        with self._lock:
            self._slice_cache[key] = found
            if len(self._slice_cache) > TERM_CACHE_SIZE:
                self._slice_cache.popitem(last=False)
        return found

    def idf(self, fieldname: str, term: str) -> float:
        df = self.doc_frequency(fieldname, term)
        return math.log(1.0 + (self.doc_count - df + 0.5) / (df + 0.5))

    @lru_cache(maxsize=64)  # noqa: B019 - one snapshot per index version, a handful per container
    def length_norms(self, fieldname: str) -> tuple[bytes, tuple[float, ...]]:
        """(length byte of every talk, BM25 denominator term for each of the 256 length bytes)."""
        lengths = self._length_bytes(fieldname)
        total = self._reader.field_length(fieldname)
        average = total / self.doc_count if self.doc_count and total else 1.0
        norms = tuple(K1 * (1.0 - B + B * byte_to_length(b) / average) for b in range(256))
        return lengths, norms

    def _length_bytes(self, fieldname: str) -> bytes:
        return b"".join(_leaf_length_bytes(leaf, fieldname) for leaf, _ in self._leaves)

    def term(self, fieldname: str, term: str) -> TermData | None:
        """Postings and BM25 factors of one term in one field (None when absent), cached per version."""
        key = (fieldname, term)
        with self._lock:
            found = self._term_cache.get(key, _MISSING)
            if found is not _MISSING:
                self._term_cache.move_to_end(key)
                return found
        ids, frequencies = self._read_postings(fieldname, term)
        if ids:
            if self.deleted:
                kept = [(d, f) for d, f in zip(ids, frequencies, strict=True) if d not in self.deleted]
                ids, frequencies = [d for d, _ in kept], [f for _, f in kept]
            lengths, norms = self.length_norms(fieldname)
            found = TermData(
                dict(zip(ids, frequencies, strict=True)),
                self.idf(fieldname, term) * (K1 + 1.0),
                lengths,
                norms,
            )
        else:
            found = None
        with self._lock:
            self._term_cache[key] = found
            if len(self._term_cache) > TERM_CACHE_SIZE:
                self._term_cache.popitem(last=False)
        return found

    def positions(self, fieldname: str, term: str, docs: Collection[int]) -> dict[int, list[int]]:
        """Word positions of a term in each of ``docs`` (phrase checks read only what they need)."""
        found: dict[int, list[int]] = {}
        for leaf, offset in self._leaves:
            try:
                matcher = leaf.postings(fieldname, term)
            except TermNotFound:
                continue
            if not matcher.supports("positions"):
                continue
            if not isinstance(matcher, W3LeafMatcher):
                while matcher.is_active():
                    if matcher.id() + offset in docs:
                        found[matcher.id() + offset] = list(matcher.value_as("positions"))
                    matcher.next()
                continue
            decode = _decode_positions
            wanted = sorted(d - offset for d in docs if d >= offset)
            while matcher.is_active() and wanted:
                # a block's ids are at most its max id: decode only blocks that may hold a wanted talk
                index = bisect_right(wanted, matcher._maxid)
                if index:
                    matcher._read_data()
                    block = matcher._data
                    raw_ids = block[0] if matcher._byteids else accumulate(block[0])
                    look_for = set(wanted[:index])
                    for i, doc in enumerate(raw_ids):
                        if doc in look_for:
                            found[doc + offset] = decode(block[2][i])
                    del wanted[:index]
                matcher._i = matcher._blocklength
                matcher._next_block()
        return found

    def _read_postings(self, fieldname: str, term: str) -> tuple[list[int], list[float]]:
        ids: list[int] = []
        weights: list[float] = []
        for leaf, offset in self._leaves:
            try:
                matcher = leaf.postings(fieldname, term)
            except TermNotFound:
                continue
            _read_leaf_postings(matcher, offset, ids, weights)
        return ids, weights

    def expand_prefix(self, fieldname: str, prefix: str, scan_limit: int, keep: int) -> tuple[str, ...]:
        """The ``keep`` most frequent terms starting with ``prefix``, looking at no more than ``scan_limit``."""
        key = (fieldname, prefix, scan_limit, keep)
        with self._lock:
            found = self._prefix_cache.get(key)
        if found is not None:
            return found
        wanted = prefix.encode("utf-8")
        frequencies: Counter[bytes] = Counter()
        for leaf, _ in self._leaves:
            # (term, term info) pairs straight from the sorted term table: one read per term
            for scanned, ((name, term), info) in enumerate(leaf._terms.items_from(fieldname, wanted)):
                if scanned >= scan_limit or name != fieldname or not term.startswith(wanted):
                    break
                frequencies[term] += info.doc_frequency()
        found = tuple(t.decode("utf-8") for t, _ in heapq.nlargest(keep, frequencies.items(), key=itemgetter(1)))
        with self._lock:
            self._prefix_cache[key] = found
            if len(self._prefix_cache) > TERM_CACHE_SIZE:
                self._prefix_cache.popitem(last=False)
        return found

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
        the cache key.
        """
        fields_and_words = [(f, tuple(w), slop) for f, w, slop in fields_and_words]
        key = tuple(fields_and_words)
        if cache:
            with self._lock:
                found = self._phrase_cache.get(key)
            if found is not None:
                return set(found)
        matched: set[int] = set()
        for fieldname, words, slop in fields_and_words:
            candidates = set(within) - matched
            per_word: dict[str, dict[int, list[int]]] = {}
            # rarest word first: the common ones are then decoded only for the few talks left
            for word in sorted(set(words), key=lambda w: self.doc_frequency(fieldname, w)):
                if not candidates:
                    break
                per_word[word] = found = self.positions(fieldname, word, candidates)
                candidates &= found.keys()
            matched.update(d for d in candidates if _in_order([per_word[w][d] for w in words], slop))
        if cache:
            with self._lock:
                self._phrase_cache[key] = tuple(matched)  # a tuple of ints is invisible to the cyclic GC
                if len(self._phrase_cache) > PHRASE_CACHE_SIZE:
                    self._phrase_cache.popitem(last=False)
        return matched

    # --- stored talks ----------------------------------------------------------------------------
    def stored(self, doc: int) -> dict:
        return self._reader.stored_fields(doc)

    def doc_for_id(self, talk_id: str) -> int | None:
        return self._searcher.document_number(id=talk_id)


def _decode_positions(value: bytes) -> list[int]:
    """What ``Positions.decode_positions`` does (Whoosh stores the pickle without its final '.'), in C."""
    return list(accumulate(pickle.loads(value[4:] + b".")))


def _raw_column(leaf, fieldname: str) -> list[bytes]:
    """Every value of a bytes column of one segment, sliced out of a single read of its data."""
    reader = leaf.column_reader(fieldname, translate=False)
    offsets, lengths, dbfile = (getattr(reader, name, None) for name in ("_offsets", "_lengths", "_dbfile"))
    if offsets is None or lengths is None or dbfile is None:
        return [v if isinstance(v, bytes) else str(v).encode("utf-8") for v in reader]
    if not len(offsets):
        return []
    data = dbfile.get(reader._basepos, offsets[-1] + lengths[-1])
    return [data[o : o + n] for o, n in zip(offsets, lengths, strict=True)]


def _in_order(positions: list[list[int]], slop: int) -> bool:
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


def _leaf_length_bytes(leaf, fieldname: str) -> bytes:
    """One byte per talk of a segment: Whoosh's logarithmic encoding of the field's length."""
    count = leaf.doc_count_all()
    per_doc = getattr(leaf, "_perdoc", None)
    column_reader = per_doc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN) if per_doc is not None else None
    if column_reader is None:
        return bytes(count)
    raw = getattr(column_reader, "_dbfile", None)
    if raw is not None and getattr(column_reader, "_fixedlen", None) == 1:
        stored = bytes(raw.get(column_reader._basepos, min(count, column_reader._count)))
    else:
        stored = bytes(column_reader[d] for d in range(min(count, len(column_reader))))
    return stored + bytes(count - len(stored))  # the column stops at the last talk having the field


def _read_leaf_postings(matcher, offset: int, ids: list[int], weights: list[float]) -> None:
    """Append a segment's postings, whole blocks at a time (stepping the matcher is ~10x slower)."""
    if not isinstance(matcher, W3LeafMatcher):
        while matcher.is_active():
            ids.append(matcher.id() + offset)
            weights.append(matcher.weight())
            matcher.next()
        return
    while matcher.is_active():
        matcher._read_data()
        block_ids, block_weights = matcher._data[0], matcher._data[1]
        count = matcher._blocklength
        decoded = block_ids if matcher._byteids else accumulate(block_ids)  # ids are delta-encoded
        ids.extend(map((offset).__add__, decoded) if offset else decoded)
        if block_weights is None:
            weights.extend(repeat(1.0, count))
        elif isinstance(block_weights, float):
            weights.extend(repeat(block_weights, count))
        else:
            weights.extend(block_weights)
        matcher._i = count
        matcher._next_block()


__all__ = ["IndexSnapshot", "TermData", "fold", "folded_words", "stem_en", "stem_fr"]
