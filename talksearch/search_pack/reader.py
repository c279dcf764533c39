"""Reading a search pack: ``PackFiles`` answers what ``talksearch.index_files.reading.IndexFiles`` answers.

Built from the pack's bytes held in memory. Opening reads the header, the section table and the meta
section only; a field's vocabulary, its chunk directory, a column, a stored talk are decoded on first
use (vocabularies and directories kept, chunks and talks decoded per read), or by ``warm`` for what every
kind of query reads first. Decoding is
zlib, ``array.frombytes``, ``itertools.accumulate`` and ``bisect``: no Python loop per posting or per
position. Everything in a pack is untrusted: a damaged one raises ``PackError`` (``format``), from the
open for its header, table and meta, from the first read that meets any other damage, each read
bounded by the caps in ``format``.
"""

from __future__ import annotations

import json
import operator
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Collection, Iterable
from itertools import accumulate, compress, islice, repeat
from threading import Lock

from talksearch.search_pack.answers import ANSWERS, PrecomputedAnswers
from talksearch.search_pack.format import (
    CODEC_ZLIB,
    MAX_CHUNK_BYTES,
    MAX_DICTIONARY_BYTES,
    MAX_META_BYTES,
    MAX_SEGMENTS,
    MAX_STORED_TALK_BYTES,
    MAX_SYNONYMS_BYTES,
    MAX_TALKS,
    MAX_TERMS,
    SYNONYMS_SECTION,
    PackError,
    inflate,
    read_arrays,
    read_table,
)
from talksearch.search_pack.precomputed import (
    TITLE_STOP_POSTINGS,
    TITLE_STOP_WORDS,
    VOCABULARY_PREFIX,
    BlockVocabulary,
    TitleStopWords,
)

__all__ = ["PackFiles"]

#: What a corrupt section can make Python's own decoders raise; each becomes a ``PackError``.
_DECODING_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError, UnicodeError)


class _Field:
    """One field's vocabulary, document frequencies and posting chunk directory."""

    __slots__ = ("chunks", "df", "name", "positional", "positions", "postings", "terms")

    def __init__(
        self,
        name: str,
        terms: BlockVocabulary | _Terms,
        df: array,
        chunks: list[array],
        sections: tuple,
        positional: bool,
    ):
        self.name = name
        self.terms = terms
        self.df = df
        #: first term, talks stream offset, its inflated length, positions stream offset, its inflated length
        self.chunks = chunks
        self.postings, self.positions = sections
        self.positional = positional


class PackFiles:
    """One search pack opened for reading; document numbers as Whoosh's across segments, deleted talks included."""

    def __init__(self, data: bytes | memoryview) -> None:
        self._data = memoryview(data).cast("B") if not isinstance(data, bytes) else memoryview(data)
        #: the pack's bytes, held in memory while it is open (the search function's caches leave them out)
        self.nbytes = self._data.nbytes
        self._table = read_table(self._data)
        self._lock = Lock()
        self._fields: dict[str, _Field | None] = {}
        self._segment_df: dict[str, list[array]] = {}
        meta = self._meta()
        self.doc_count: int = meta["doc_count"]
        self._segments: list[tuple[int, int]] = meta["segments"]
        self._field_meta: dict[str, dict] = meta["fields"]
        self._column_meta: dict[str, dict] = meta["columns"]
        self._total_lengths: dict[str, int] = meta["lengths"]
        self._stored_index: tuple[array, array, bytes] | None = None
        self._title_stop: TitleStopWords | None = None
        self._answers: PrecomputedAnswers | None = None
        (deleted,) = self._arrays("deleted", 1)
        if deleted and max(deleted) >= self.doc_count:
            raise PackError("the deleted talks include numbers past the talk count")
        self.deleted = frozenset(deleted)

    def close(self) -> None:
        """Nothing to release: the pack is bytes in memory (kept for ``IndexFiles``' interface)."""

    def warm(self) -> None:
        """Decode now what a first ask of each query kind would otherwise decode in a visitor's request: every
        searched field's vocabulary and chunk directory, the stored talks' index, the precomputed answers and the
        title stop words (about 50 ms of inflating at 21.7k talks, paid once per version when the engine opens;
        the cold start's first search paid most of it anyway). Not the talk ids' (15 ms, /api/talks only)."""
        for fieldname in self._field_meta:
            if fieldname != "id":
                self._field(fieldname)
        if self._stored_index is None:
            self._stored_index = self._read_stored_index()
        self.precomputed_answer(())
        self.title_stop_words("")

    # --- sections ------------------------------------------------------------------------------------
    def _section(self, name: str) -> bytes | memoryview:
        entry = self._table.get(name)
        if entry is None:
            raise PackError(f"the pack has no section {name!r}")
        offset, stored, inflated, codec = entry
        data = self._data[offset : offset + stored]
        return inflate(data, inflated, f"section {name!r}") if codec == CODEC_ZLIB else data

    def _arrays(self, name: str, count: int) -> list[array]:
        return read_arrays(self._section(name), count, f"section {name!r}")

    def _meta(self) -> dict:
        entry = self._table.get("meta")
        if entry is None:
            raise PackError("the pack has no meta section")
        if entry[2] > MAX_META_BYTES:
            raise PackError(f"the meta section declares {entry[2]:,} bytes, over the {MAX_META_BYTES:,} cap")
        try:
            meta = json.loads(bytes(self._section("meta")).decode("utf-8"))
            return _checked_meta(meta)
        except PackError:
            raise
        except _DECODING_ERRORS as error:
            raise PackError(f"the meta section is not what a pack holds ({type(error).__name__})") from None

    def _field(self, fieldname: str) -> _Field | None:
        """A field's vocabulary and chunk directory, decoded at its first use; None for a field the pack lacks."""
        if fieldname in self._fields:
            return self._fields[fieldname]
        with self._lock:
            if fieldname not in self._fields:
                self._fields[fieldname] = self._read_field(fieldname)
        return self._fields[fieldname]

    def _read_field(self, fieldname: str) -> _Field | None:
        described = self._field_meta.get(fieldname)
        if described is None:
            return None
        count = described["terms"]
        terms = self._vocabulary(fieldname, count, chr(described["separator"]))
        if len(terms) != count:
            raise PackError(f"field {fieldname!r}: {len(terms):,} terms where the meta section says {count:,}")
        # their order is not checked (4 ms for 68k terms, in every cold start): out of order, a forged pack's
        # terms are found or not by bisect, never raising or reading more
        (df,) = self._arrays(f"df/{fieldname}", 1)
        chunks = self._arrays(f"chunks/{fieldname}", 5)
        first, offsets, inflated, position_offsets, position_inflated = chunks
        sections = self._section(f"post/{fieldname}"), self._section(f"pos/{fieldname}")
        if len(df) != count:
            raise PackError(f"field {fieldname!r}: {len(df):,} frequencies for {count:,} terms")
        if (
            not len(first) + 1
            == len(offsets)
            == len(position_offsets)
            == len(inflated) + 1
            == len(position_inflated) + 1
        ):
            raise PackError(f"field {fieldname!r}: a chunk directory of mismatched arrays")
        if (count and not first) or (first and (first[0] != 0 or first[-1] >= count or not _increasing(first))):
            raise PackError(f"field {fieldname!r}: chunks do not start at increasing terms")
        for starts, section in zip((offsets, position_offsets), sections, strict=True):
            if starts[0] != 0 or starts[-1] > len(section) or not _increasing(starts, strictly=False):
                raise PackError(f"field {fieldname!r}: chunk offsets outside their section")
        if max(inflated, default=0) > MAX_CHUNK_BYTES or max(position_inflated, default=0) > MAX_CHUNK_BYTES:
            raise PackError(f"field {fieldname!r}: a chunk declares over {MAX_CHUNK_BYTES:,} bytes")
        return _Field(fieldname, terms, df, chunks, sections, bool(described["positions"]))

    def _vocabulary(self, fieldname: str, count: int, separator: str) -> BlockVocabulary | _Terms:
        """The field's terms: read by blocks where the pack has their starts (``precomputed``), else split whole."""
        raw = bytes(self._section(f"terms/{fieldname}"))
        if f"{VOCABULARY_PREFIX}{fieldname}" in self._table:
            (starts,) = self._arrays(f"{VOCABULARY_PREFIX}{fieldname}", 1)
            return BlockVocabulary(raw, separator, starts, count, f"the terms of {fieldname!r}")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise PackError(f"the terms of {fieldname!r} are not UTF-8") from None
        return _Terms(text.split(separator) if count else [])

    def _per_segment_df(self, field: _Field) -> list[array]:
        """Each segment's document frequency of every term (one segment: the field's own)."""
        if len(self._segments) == 1:
            return [field.df]
        found = self._segment_df.get(field.name)
        if found is None:
            (flat,) = self._arrays(f"segdf/{field.name}", 1)
            count, segments = len(field.terms), len(self._segments)
            if len(flat) != count * segments:
                raise PackError(f"field {field.name!r}: per-segment frequencies of the wrong length")
            # flat holds, term after term, that term's frequency in each segment
            found = [flat[s::segments] for s in range(segments)]
            self._segment_df[field.name] = found
        return found

    def _index(self, fieldname: str, term: str) -> tuple[_Field | None, int]:
        """(field, term number), or (field or None, -1) when the field does not have the term."""
        field = self._field(fieldname)
        if field is None:
            return None, -1
        terms = field.terms
        i = terms.bisect_left(term)
        return (field, i) if i < len(terms) and terms[i] == term else (field, -1)

    # --- terms -----------------------------------------------------------------------------------------
    def doc_frequency(self, fieldname: str, term: str) -> int:
        """Talks whose field holds the term, deleted ones included (as Whoosh counts them)."""
        field, i = self._index(fieldname, term)
        return field.df[i] if i >= 0 else 0

    def has_term(self, fieldname: str, term: str) -> bool:
        return self._index(fieldname, term)[1] >= 0

    def term_frequencies(self, fieldname: str) -> Iterable[tuple[int, str]]:
        """(document frequency, term) of every term of the field, in term order (deleted talks counted): one
        pass over the vocabulary, not a lookup per term."""
        field = self._field(fieldname)
        return zip(field.df, field.terms[0 : len(field.terms)], strict=True) if field is not None else ()

    def known_terms(self, fieldname: str, candidates: Iterable[str]) -> list[tuple[int, str]]:
        """(document frequency, term) of the candidates the field has."""
        field = self._field(fieldname)
        if field is None:
            return []
        terms, df, size = field.terms, field.df, len(field.terms)
        found = []
        for term in candidates:
            i = terms.bisect_left(term)
            if i < size and terms[i] == term:
                found.append((df[i], term))
        return found

    def _prefix_range(self, field: _Field, head: str) -> tuple[int, int]:
        terms = field.terms
        after = _after_prefix(head)
        return terms.bisect_left(head), terms.bisect_left(after) if after is not None else len(terms)

    def terms_starting(self, fieldname: str, head: str, limit: int) -> list[str] | None:
        """The field's terms starting with ``head``, or None when a segment has more than ``limit`` (Whoosh's
        rule: each segment's vocabulary is scanned on its own)."""
        field = self._field(fieldname)
        if field is None:
            return []
        low, high = self._prefix_range(field, head)
        if len(self._segments) > 1:
            for per_segment in self._per_segment_df(field):
                part = per_segment[low:high]
                if len(part) - part.count(0) > limit:
                    return None
        elif high - low > limit:
            return None
        return field.terms[low:high]

    def prefix_frequencies(self, fieldname: str, prefix: str, scan_limit: int) -> Counter[str]:
        """Document frequency of the first ``scan_limit`` terms of each segment starting with ``prefix``."""
        field = self._field(fieldname)
        if field is None:
            return Counter()
        low, high = self._prefix_range(field, prefix)
        terms = field.terms
        if len(self._segments) == 1:
            end = min(high, low + max(scan_limit, 0))
            return Counter(dict(zip(terms[low:end], field.df[low:end], strict=True)))
        frequencies: Counter[str] = Counter()
        for per_segment in self._per_segment_df(field):
            for i in islice(compress(range(low, high), per_segment[low:high]), max(scan_limit, 0)):
                frequencies[terms[i]] += per_segment[i]
        return frequencies

    # --- postings --------------------------------------------------------------------------------------
    def _term_postings(self, fieldname: str, term: str) -> tuple[_Field | None, int, int, list[int], array]:
        """(field, chunk, position of the term's first talk in its chunk, talks, frequencies (empty: all 1)),
        from the term's chunk; (None, ...) when absent."""
        field, i = self._index(fieldname, term)
        if i < 0:
            return None, 0, 0, [], array("B")
        first, offsets, inflated = field.chunks[:3]
        c = bisect_right(first, i) - 1
        what = f"a posting chunk of {fieldname!r}"
        raw = inflate(field.postings[offsets[c] : offsets[c + 1]], inflated[c], what)
        counts, ids, frequencies = read_arrays(raw, 3, what)
        if len(counts) != (first[c + 1] if c + 1 < len(first) else len(field.terms)) - first[c]:
            raise PackError(f"{what}: its talk counts do not match its terms")
        if sum(counts) != len(ids) or (frequencies and len(frequencies) != len(ids)):
            raise PackError(f"{what}: its talk counts, talks and frequencies do not match")
        j = i - first[c]
        start = sum(counts[:j])
        talks = list(accumulate(ids[start : start + counts[j]]))
        if talks and talks[-1] >= self.doc_count:
            raise PackError(f"{what}: a talk number past the talk count")
        # a chunk's frequencies are all there or all 1: the positions before this term's are counted from them
        before = sum(frequencies[:start]) if frequencies else start
        return field, c, before, talks, frequencies[start : start + counts[j]] if frequencies else array("B")

    def postings(self, fieldname: str, term: str) -> tuple[list[int], list[float]]:
        """(talks, term frequencies) of one term over every segment, deleted talks left out."""
        field, _, _, talks, frequencies = self._term_postings(fieldname, term)
        if field is None:
            return [], []
        return talks, list(map(float, frequencies)) if frequencies else [1.0] * len(talks)

    def positions(self, fieldname: str, term: str, docs: Collection[int]) -> dict[int, list[int]]:
        """Word positions of a term in each of ``docs`` that has it (deleted talks have none)."""
        field, c, before, talks, frequencies = self._term_postings(fieldname, term)
        if field is None or not field.positional or not talks:
            return {}
        _, _, _, offsets, inflated = field.chunks
        what = f"a positions chunk of {fieldname!r}"
        (positions,) = read_arrays(inflate(field.positions[offsets[c] : offsets[c + 1]], inflated[c], what), 1, what)
        starts = list(accumulate(frequencies if frequencies else repeat(1, len(talks)), initial=before))
        if starts[-1] > len(positions):
            raise PackError(f"{what}: fewer positions than its frequencies say")
        found: dict[int, list[int]] = {}
        size = len(talks)
        for doc in docs:
            k = bisect_left(talks, doc)
            if k < size and talks[k] == doc:
                found[doc] = list(accumulate(positions[starts[k] : starts[k + 1]]))
        return found

    # --- per-talk values -------------------------------------------------------------------------------
    def length_bytes(self, fieldname: str) -> bytes:
        """One byte per talk: Whoosh's logarithmic encoding of the field's length."""
        if fieldname not in self._total_lengths:
            return bytes(self.doc_count)
        lengths = bytes(self._section(f"len/{fieldname}"))
        if len(lengths) != self.doc_count:
            raise PackError(f"the length bytes of {fieldname!r} are not one per talk")
        return lengths

    def total_length(self, fieldname: str) -> int:
        return self._total_lengths.get(fieldname, 0)

    def column(self, fieldname: str) -> list[bytes | None]:
        """A bytes column's value for every talk (None where a segment lacks the column)."""
        described = self._column_meta.get(fieldname)
        if described is None:
            return [None] * self.doc_count
        raw = bytes(self._section(f"col/{fieldname}"))
        values: list[bytes | None] = raw.split(bytes([described["separator"]])) if raw or self.doc_count else []
        if len(values) != self.doc_count:
            raise PackError(f"column {fieldname!r} has {len(values):,} values for {self.doc_count:,} talks")
        if described["missing"]:
            (missing,) = self._arrays(f"colnone/{fieldname}", 1)
            if len(missing) != described["missing"] or max(missing) >= self.doc_count:
                raise PackError(f"column {fieldname!r}: its talks without a value are not what the meta says")
            for doc in missing:
                values[doc] = None
        return values

    def stored(self, doc: int) -> dict:
        """One talk's stored fields."""
        if not 0 <= doc < self.doc_count:
            raise IndexError(f"no talk {doc} in a pack of {self.doc_count:,}")
        index = self._stored_index
        if index is None:
            index = self._stored_index = self._read_stored_index()
        offsets, inflated, dictionary = index
        data = self._section("stored/data")[offsets[doc] : offsets[doc + 1]]
        raw = inflate(data, inflated[doc], "a stored talk", dictionary)
        try:
            talk = json.loads(raw.decode("utf-8"))
        except _DECODING_ERRORS as error:
            raise PackError(f"a stored talk is not JSON ({type(error).__name__})") from None
        if not isinstance(talk, dict):
            raise PackError("a stored talk is not a JSON object")
        return talk

    def _read_stored_index(self) -> tuple[array, array, bytes]:
        offsets, inflated = self._arrays("stored/index", 2)
        if len(offsets) != self.doc_count + 1 or len(inflated) != self.doc_count:
            raise PackError("the stored talks' index does not match the talk count")
        end = self._table["stored/data"][1] if "stored/data" in self._table else 0
        if offsets[0] != 0 or offsets[-1] > end or not _increasing(offsets, strictly=False):
            raise PackError("the stored talks lie outside their section")
        if max(inflated, default=0) > MAX_STORED_TALK_BYTES:
            raise PackError(f"a stored talk declares over {MAX_STORED_TALK_BYTES:,} bytes")
        dictionary = bytes(self._section("stored/dictionary"))
        if len(dictionary) > MAX_DICTIONARY_BYTES:
            raise PackError(f"the stored talks' dictionary has over {MAX_DICTIONARY_BYTES:,} bytes")
        return offsets, inflated, dictionary

    def doc_for_id(self, talk_id: str) -> int | None:
        """The live talk with this id, or None."""
        ids, _ = self.postings("id", talk_id)
        return ids[0] if ids else None

    def title_stop_words(self, word: str) -> dict[int, float] | None:
        """{talk: frequency of the stop word in its title}, computed at build time (``precomputed``); None when
        the pack does not hold it (a pack written before, or a word it does not list): the caller reads titles."""
        found = self._title_stop
        if found is None:
            if TITLE_STOP_POSTINGS not in self._table:
                return None
            words = bytes(self._section(TITLE_STOP_WORDS))
            found = self._title_stop = TitleStopWords(words, self._section(TITLE_STOP_POSTINGS), self.doc_count)
        return found.get(word)

    def precomputed_answer(self, key: tuple) -> tuple | None:
        """What the search function keeps for the answer ``key``, computed at build time (``answers``): None when
        the pack does not hold it (a pack written before, or a query not precomputed): the caller computes it."""
        found = self._answers
        if found is None:
            if ANSWERS not in self._table:
                return None
            found = self._answers = PrecomputedAnswers(self._section(ANSWERS), self.doc_count)
        return found.get(key)

    def synonyms(self) -> bytes | None:
        """The index's ``synonyms.json`` (``talksearch.contracts.SYNONYMS_NAME``) as the builder wrote it, or None."""
        entry = self._table.get(SYNONYMS_SECTION)
        if entry is None:
            return None
        if entry[2] > MAX_SYNONYMS_BYTES:
            raise PackError(f"the synonym table declares {entry[2]:,} bytes, over the {MAX_SYNONYMS_BYTES:,} cap")
        return bytes(self._section(SYNONYMS_SECTION))


class _Terms(list):
    """A field's terms split whole (a pack without block starts), looked up as ``BlockVocabulary`` is."""

    __slots__ = ()

    def bisect_left(self, term: str) -> int:
        return bisect_left(self, term)


def _increasing(values, *, strictly: bool = True) -> bool:
    """Whether each value is above (``strictly``) or at least the one before it; C loops over the sequence."""
    return all(map(operator.lt if strictly else operator.le, values, islice(values, 1, None)))


def _after_prefix(head: str) -> str | None:
    """The least string greater than every string starting with ``head``; None when there is none (every
    character of ``head`` is the last code point, or ``head`` is empty)."""
    while head and head[-1] == "\U0010ffff":
        head = head[:-1]
    return head[:-1] + chr(ord(head[-1]) + 1) if head else None


def _checked_meta(meta: object) -> dict:
    """The meta section, every value of the type and range a reader relies on."""

    def need(condition: bool, what: str) -> None:
        if not condition:
            raise PackError(f"the meta section's {what} is not what a pack holds")

    def whole(value: object, top: int) -> bool:
        return type(value) is int and 0 <= value <= top

    need(isinstance(meta, dict), "shape")
    doc_count = meta.get("doc_count")
    need(whole(doc_count, MAX_TALKS), "talk count")
    segments = meta.get("segments")
    need(isinstance(segments, list) and 0 < len(segments) <= MAX_SEGMENTS, "segment list")
    at = 0
    for segment in segments:
        need(isinstance(segment, list) and len(segment) == 2 and segment[0] == at, "segment list")
        need(whole(segment[1], MAX_TALKS), "segment list")
        at += segment[1]
    need(at == doc_count, "segment list")
    meta["segments"] = [tuple(s) for s in segments]
    fields = meta.get("fields")
    need(isinstance(fields, dict), "field list")
    for described in fields.values():
        need(isinstance(described, dict), "field list")
        need(whole(described.get("terms"), MAX_TERMS), "term count")
        separator = described.get("separator")
        need(whole(separator, 0x10FFFF) and not 0xD800 <= separator <= 0xDFFF, "separator")
        need(type(described.get("positions")) is bool, "positions flag")
    columns = meta.get("columns")
    need(isinstance(columns, dict), "column list")
    for described in columns.values():
        need(isinstance(described, dict) and whole(described.get("separator"), 255), "column separator")
        need(whole(described.get("missing"), doc_count), "column's missing values")
    lengths = meta.get("lengths")
    need(isinstance(lengths, dict) and all(whole(v, 1 << 62) for v in lengths.values()), "field lengths")
    return meta
