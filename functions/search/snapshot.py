"""One opened index version, with the per-talk data the search path needs held in memory.

This is the only module of the search function that touches Whoosh. Whoosh's own searcher
scores every match through Python matcher objects (~100 ms for a word in half the corpus),
so the engine reads raw posting blocks (doc ids and term frequencies) and does its own
BM25 arithmetic; what it needs per talk (facet values, browse order, field lengths) is read
from Whoosh columns once per version, in a few milliseconds each.
"""

from __future__ import annotations

import heapq
import math
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from functools import cached_property, lru_cache
from pathlib import Path
from threading import Lock

from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.lang import stemmer_for_language
from whoosh.query import Or, Phrase
from whoosh.reading import TermNotFound
from whoosh.util.numeric import byte_to_length

from talksearch.schema import FACETS, FOLDED, VALUE_SEPARATOR, fold

#: BM25 free parameters (the usual ones).
K1 = 1.2
B = 0.75
#: Posting lists kept decoded in memory, per index version (the most recently used ones).
POSTINGS_CACHE_SIZE = 512

Postings = tuple[Sequence[int], Sequence[float]]

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
        self.version = version
        self.built_at = built_at
        self._postings_cache: OrderedDict[tuple[str, str], Postings] = OrderedDict()
        self._lock = Lock()

    def close(self) -> None:
        self._searcher.close()

    # --- per-talk columns ------------------------------------------------------------------
    def _column(self, fieldname: str) -> list:
        if not self._reader.has_column(fieldname):
            return [None] * self.doc_count
        return list(self._reader.column_reader(fieldname))

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
        """Facet name -> value of every talk (a tuple of names for ``speaker``, "" or None when unknown)."""
        return {
            "speaker": self._speaker_values(),
            "company": self._column(FACETS["company"]),
            "event": self._column(FACETS["event"]),
            "year": self._column(FACETS["year"]),
            "lang": self._column(FACETS["lang"]),
        }

    def _speaker_values(self) -> list[tuple[str, ...]]:
        if self._reader.has_column("speaker_values"):
            split = VALUE_SEPARATOR
            return [tuple(v.decode("utf-8").split(split)) if v else () for v in self._column("speaker_values")]
        # index written before the column existed: rebuild it from the exact-value postings (slow, once)
        values: list[list[str]] = [[] for _ in range(self.doc_count)]
        for term in self._reader.lexicon(FACETS["speaker"]):
            name = term.decode("utf-8")
            for doc in self._reader.postings(FACETS["speaker"], name).all_ids():
                values[doc].append(name)
        return [tuple(v) for v in values]

    @cached_property
    def browse_rank(self) -> list[int]:
        """Position of each talk in the browse order: newest first, then by title."""
        dates = self._column("date")
        titles = self._column("sort_title")
        # dates are ISO strings: sort by title ascending, then stably by date descending
        order = sorted(range(self.doc_count), key=lambda d: titles[d] or "")
        order.sort(key=lambda d: dates[d] or "", reverse=True)
        rank = [0] * self.doc_count
        for position, doc in enumerate(order):
            rank[doc] = position
        return rank

    @cached_property
    def browse_order(self) -> list[int]:
        rank = self.browse_rank
        order = [0] * self.doc_count
        for doc, position in enumerate(rank):
            order[position] = doc
        deleted = self.deleted
        return [d for d in order if d not in deleted] if deleted else order

    # --- term statistics and postings ----------------------------------------------------------
    def doc_frequency(self, fieldname: str, term: str) -> int:
        return self._reader.doc_frequency(fieldname, term)

    def has_term(self, fieldname: str, term: str) -> bool:
        return (fieldname, term) in self._reader

    def idf(self, fieldname: str, term: str) -> float:
        df = self.doc_frequency(fieldname, term)
        return math.log(1.0 + (self.doc_count - df + 0.5) / (df + 0.5))

    @lru_cache(maxsize=64)  # noqa: B019 - one snapshot per index version, a handful per container
    def length_norms(self, fieldname: str) -> tuple[bytes, list[float]]:
        """(length byte of every talk, BM25 denominator term for each of the 256 length bytes)."""
        lengths = self._length_bytes(fieldname)
        total = self._reader.field_length(fieldname)
        average = total / self.doc_count if self.doc_count and total else 1.0
        norms = [K1 * (1.0 - B + B * byte_to_length(b) / average) for b in range(256)]
        return lengths, norms

    def _length_bytes(self, fieldname: str) -> bytes:
        reader = self._reader
        per_doc = getattr(reader, "_perdoc", None)
        column_reader = None
        if per_doc is not None:
            from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield

            column_reader = per_doc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
        if column_reader is None:
            return bytes(self.doc_count)
        raw = getattr(column_reader, "_dbfile", None)
        if raw is not None and getattr(column_reader, "_fixedlen", None) == 1:
            return bytes(raw.get(column_reader._basepos, self.doc_count))
        return bytes(column_reader[d] for d in range(self.doc_count))

    def postings(self, fieldname: str, term: str) -> Postings:
        """(doc ids, term frequencies) of one term, decoded block by block and cached."""
        key = (fieldname, term)
        with self._lock:
            found = self._postings_cache.get(key)
            if found is not None:
                self._postings_cache.move_to_end(key)
                return found
        found = self._read_postings(fieldname, term)
        with self._lock:
            self._postings_cache[key] = found
            if len(self._postings_cache) > POSTINGS_CACHE_SIZE:
                self._postings_cache.popitem(last=False)
        return found

    def _read_postings(self, fieldname: str, term: str) -> Postings:
        try:
            matcher = self._reader.postings(fieldname, term)
        except TermNotFound:
            return (), ()
        ids: list[int] = []
        weights: list[float] = []
        if isinstance(matcher, W3LeafMatcher):
            # whole blocks at a time: ~10x faster than stepping the matcher posting by posting
            while matcher.is_active():
                matcher._read_ids()
                matcher._read_weights()
                start = matcher._i
                ids.extend(matcher._ids[start:])
                weights.extend(matcher._weights[start:])
                matcher._i = matcher._blocklength
                matcher._next_block()
        else:
            while matcher.is_active():
                ids.append(matcher.id())
                weights.append(matcher.weight())
                matcher.next()
        return ids, weights

    def expand_prefix(self, fieldname: str, prefix: str, scan_limit: int, keep: int) -> list[str]:
        """The ``keep`` most frequent terms starting with ``prefix``, looking at no more than ``scan_limit``."""
        candidates = []
        for count, term in enumerate(self._reader.expand_prefix(fieldname, prefix)):
            if count >= scan_limit:
                break
            text = term.decode("utf-8") if isinstance(term, bytes) else term
            candidates.append((self._reader.doc_frequency(fieldname, text), text))
        return [text for _, text in heapq.nlargest(keep, candidates)]

    def phrase_docs(self, fields_and_words: Iterable[tuple[str, list[str], int]], within: set[int]) -> set[int]:
        """Talks among ``within`` where the words appear in order (``slop`` allows removed stop words)."""
        queries = [Phrase(f, words, slop=slop) for f, words, slop in fields_and_words if words]
        if not queries or not within:
            return set()
        docs = set()
        for doc in Or(queries).docs(self._searcher):
            if doc in within:
                docs.add(doc)
        return docs

    # --- stored talks ----------------------------------------------------------------------------
    def stored(self, doc: int) -> dict:
        return self._reader.stored_fields(doc)

    def doc_for_id(self, talk_id: str) -> int | None:
        return self._searcher.document_number(id=talk_id)

    def vocabulary_size(self) -> int:
        return self._reader.field_length("words")


def lang_words(word: str) -> tuple[str, str]:
    """The French and English stems of a folded word, as the title/summary fields index them."""
    return stem_fr(word), stem_en(word)


__all__ = ["IndexSnapshot", "fold", "folded_words", "lang_words", "stem_en", "stem_fr"]
