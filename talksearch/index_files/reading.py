"""Reading an index: the search function's postings, positions, lengths, columns and stored talks.

Private parts of Whoosh's W3 codec read here (see the package docstring) each sit behind a shape
check that falls back to Whoosh's public API, so a different Whoosh is slower, never wrong.
"""

from __future__ import annotations

import heapq
import os
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from itertools import accumulate, chain, groupby, repeat
from operator import itemgetter
from pathlib import Path

from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher, _lenfield
from whoosh.fields import NUMERIC
from whoosh.matching.wrappers import FilterMatcher
from whoosh.reading import TermNotFound
from whoosh.util.numeric import length_to_byte

from talksearch.analysis import LENGTH_OF_BYTE
from talksearch.index_files import open_index, unpickling

__all__ = ["LENGTH_OF_BYTE", "IndexFiles"]

#: Distinct position values ``field_postings`` keeps unpickled while it reads a field (most are shared).
POSITION_VALUES_KEPT = 1 << 20


def merged_postings(
    streams: list[Iterator[tuple]], count: int, keeps_positions: bool, deleted: Collection[int] = frozenset()
) -> Iterator[tuple[str, list[int], list[int], list[float], list[int]]]:
    """``field_postings``' tuples from per-segment streams of (term bytes, segment number, its document frequency
    there, talks, frequencies, position values), each in term order: the segments' postings of a term joined,
    ``deleted`` talks dropped, positions unpickled a term at a time. Shared by the index read back and by the
    postings a full write kept in memory (``writing.WrittenPostings``), so both give the pack the same tuples."""
    known: dict[bytes, list[int]] = {}  # position values unpickled so far
    if len(streams) == 1 and not deleted:  # one segment (every full build's): nothing to join or drop
        for term, n, df, ids, frequencies, values in streams[0]:
            per_segment = [0] * count
            per_segment[n] = df
            if len(known) > POSITION_VALUES_KEPT:
                known.clear()
            positions = chain.from_iterable(unpickling.position_deltas(values, known)) if keeps_positions else ()
            yield term.decode("utf-8"), per_segment, list(ids), list(frequencies), list(positions)
        return
    merged = heapq.merge(*streams, key=itemgetter(0)) if len(streams) > 1 else streams[0]
    for term, group in groupby(merged, key=itemgetter(0)):
        per_segment = [0] * count
        ids: list[int] = []
        frequencies: list[float] = []
        values: list[bytes] = []
        for _, n, df, segment_ids, segment_frequencies, segment_values in group:
            per_segment[n] = df
            ids.extend(segment_ids)
            frequencies.extend(segment_frequencies)
            values.extend(segment_values)
        if len(known) > POSITION_VALUES_KEPT:
            known.clear()
        deltas = unpickling.position_deltas(values, known) if keeps_positions else []
        if deleted and ids:
            kept = [i for i, d in enumerate(ids) if d not in deleted]
            if len(kept) != len(ids):
                ids, frequencies = [ids[i] for i in kept], [frequencies[i] for i in kept]
                deltas = [deltas[i] for i in kept] if keeps_positions else deltas
        yield term.decode("utf-8"), per_segment, ids, frequencies, list(chain.from_iterable(deltas))


class IndexFiles:
    """One index directory opened for reading; document numbers run across segments, deleted talks included."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)
        self._reader = open_index(self.directory, readonly=True).reader()
        #: (segment reader, number of its first document): one entry unless incremental builds added segments
        self._segments = list(self._reader.leaf_readers())
        self.doc_count = self._reader.doc_count_all()
        #: talks deleted by an incremental build but still in older segments' postings until a merge
        self.deleted = frozenset(
            offset + d
            for segment, offset in self._segments
            if segment.has_deletions()
            for d in range(segment.doc_count_all())
            if segment.is_deleted(d)
        )

    def close(self) -> None:
        self._reader.close()

    # --- terms -----------------------------------------------------------------------------------------
    def doc_frequency(self, fieldname: str, term: str) -> int:
        """Talks whose field holds the term, deleted ones included (as Whoosh counts them)."""
        return self._reader.doc_frequency(fieldname, term)

    def has_term(self, fieldname: str, term: str) -> bool:
        return (fieldname, term) in self._reader

    def known_terms(self, fieldname: str, candidates: Iterable[str]) -> list[tuple[int, str]]:
        """(document frequency, term) of the candidates the field has. Most candidates (typo neighbours) are
        not there: checking presence first spares Whoosh's raising and catching an error for each."""
        reader = self._reader
        return [(reader.doc_frequency(fieldname, t), t) for t in candidates if (fieldname, t) in reader]

    def terms_starting(self, fieldname: str, head: str, limit: int) -> list[str] | None:
        """The field's terms starting with ``head``, or None when a segment has more than ``limit``."""
        wanted = head.encode("utf-8")
        found: set[bytes] = set()
        for segment, _ in self._segments:
            for count, (name, term) in enumerate(segment.terms_from(fieldname, wanted)):
                if name != fieldname or not term.startswith(wanted):
                    break
                if count >= limit:
                    return None
                found.add(term)
        return [term.decode("utf-8") for term in found]

    def prefix_frequencies(self, fieldname: str, prefix: str, scan_limit: int) -> Counter[str]:
        """Document frequency of the first ``scan_limit`` terms of each segment starting with ``prefix``."""
        wanted = prefix.encode("utf-8")
        frequencies: Counter[bytes] = Counter()
        for segment, _ in self._segments:
            # (term, term info) pairs straight from the sorted term table: one read per term
            for scanned, ((name, term), info) in enumerate(segment.iter_from(fieldname, wanted)):
                if scanned >= scan_limit or name != fieldname or not term.startswith(wanted):
                    break
                frequencies[term] += info.doc_frequency()
        return Counter({term.decode("utf-8"): n for term, n in frequencies.items()})

    # --- postings --------------------------------------------------------------------------------------
    def postings(self, fieldname: str, term: str) -> tuple[list[int], list[float]]:
        """(talks, term frequencies) of one term over every segment, deleted talks left out."""
        ids: list[int] = []
        frequencies: list[float] = []
        for matcher, offset, _ in self._matchers(fieldname, term):
            for block_ids, block_weights, _ in _block_postings(matcher, offset):
                ids.extend(block_ids)
                frequencies.extend(block_weights)
        if self.deleted and ids:
            deleted = self.deleted
            kept = [(d, f) for d, f in zip(ids, frequencies, strict=True) if d not in deleted]
            ids, frequencies = [d for d, _ in kept], [f for _, f in kept]
        return ids, frequencies

    def positions(self, fieldname: str, term: str, docs: Collection[int]) -> dict[int, list[int]]:
        """Word positions of a term in each of ``docs`` that has it (phrase checks read only these; deleted
        talks have none)."""
        found: dict[int, list[int]] = {}
        decode = self._reader.schema[fieldname].format.decode_positions
        look_for = docs if isinstance(docs, (set, frozenset)) else set(docs)
        if self.deleted:
            look_for = look_for - self.deleted
        for matcher, offset, end in self._matchers(fieldname, term):
            if not matcher.supports("positions"):
                continue
            wanted = sorted(d for d in look_for if offset <= d < end)  # this segment's talks only
            for block_ids, _, values in _block_postings(matcher, offset, list(wanted)):
                ids = list(block_ids)  # sorted: each wanted talk of the block is looked up, not every posting
                if not ids:
                    continue
                for doc in wanted[bisect_left(wanted, ids[0]) : bisect_right(wanted, ids[-1])]:
                    i = bisect_left(ids, doc)
                    if ids[i] == doc:
                        found[doc] = decode(values[i])
        return found

    def _matchers(self, fieldname: str, term: str) -> Iterator[tuple[object, int, int]]:
        """(matcher, first doc number, doc number after the last) of each segment having the term."""
        for segment, offset in self._segments:
            try:
                matcher = segment.postings(fieldname, term)
            except TermNotFound:
                continue
            if isinstance(matcher, FilterMatcher):  # a segment with deletions: its talks are filtered above
                matcher = matcher.child
                matcher.reset()
            yield matcher, offset, offset + segment.doc_count_all()

    # --- per-talk values -------------------------------------------------------------------------------
    def length_bytes(self, fieldname: str) -> bytes:
        """One byte per talk: Whoosh's logarithmic encoding of the field's length (``byte_to_length``)."""
        return b"".join(_length_bytes(segment, fieldname) for segment, _ in self._segments)

    def total_length(self, fieldname: str) -> int:
        return self._reader.field_length(fieldname)

    def column(self, fieldname: str) -> list[bytes | None]:
        """A bytes column's value for every talk (None where a segment lacks the column)."""
        values: list[bytes | None] = []
        for segment, _ in self._segments:
            count = segment.doc_count_all()
            part = _column_bytes(segment, fieldname) if segment.has_column(fieldname) else []
            values.extend(part[:count])
            values.extend([None] * (count - len(part)))
        return values

    def stored(self, doc: int) -> dict:
        return self._reader.stored_fields(doc)

    def doc_for_id(self, talk_id: str) -> int | None:
        """The live talk with this id, or None."""
        ids, _ = self.postings("id", talk_id)
        return ids[0] if ids else None

    # --- the whole index, for exporting it (talksearch.search_pack) ----------------------------------
    def segment_ranges(self) -> list[tuple[int, int]]:
        """(first doc number, doc count) of each segment."""
        return [(offset, segment.doc_count_all()) for segment, offset in self._segments]

    def segment_ids(self) -> list[str]:
        """Each segment's Whoosh name: a segment keeps its name, files and doc numbers until a merge removes it
        (an empty index's one reader has no segment: "")."""
        return [getattr(segment.segment(), "segment_id", str)() for segment, _ in self._segments]

    def text_fields(self) -> dict[str, bool]:
        """Indexed fields whose terms are text (not numbers), each with whether it keeps positions."""
        schema = self._reader.schema
        return {
            name: schema[name].format.supports("positions")
            for name in schema.names()
            if schema[name].indexed and not isinstance(schema[name], NUMERIC)
        }

    def column_fields(self) -> list[str]:
        schema = self._reader.schema
        return [name for name in schema.names() if schema[name].column_type is not None]

    def field_postings(
        self, fieldname: str, first_segment: int = 0
    ) -> Iterator[tuple[str, list[int], list[int], list[float], list[int]]]:
        """Every term of the field in order: (term, its document frequency in each segment (0: absent; deleted
        talks counted, and a term stays in a segment's vocabulary until a merge), its live talks, their
        frequencies, their positions as Whoosh encodes them: each talk's first position, then differences).
        ``first_segment``: read only the segments from this one on (the others' frequencies are 0), for an
        incremental pack that keeps the earlier segments' postings from the previous one.

        One pass over each segment's term table: a short posting list comes with its term (inlined), a
        longer one is read a block at a time; positions are unpickled a term at a time, in one stream.
        """
        keeps_positions = self._reader.schema[fieldname].format.supports("positions")
        streams = [
            self._segment_postings(segment, n, offset, fieldname, keeps_positions)
            for n, (segment, offset) in enumerate(self._segments)
            if n >= first_segment
        ]
        if not streams:
            return
        yield from merged_postings(streams, len(self._segments), keeps_positions, self.deleted)

    def _segment_postings(self, segment, n: int, offset: int, fieldname: str, keeps_positions: bool) -> Iterator[tuple]:
        """(term bytes, segment number, document frequency, talks, frequencies, encoded positions) of one segment."""
        for term, info in segment.iter_field(fieldname):
            inlined = info.inlined_postings() if info.is_inlined() else None
            if inlined is not None:
                ids, weights, values = inlined
                weights = weights if weights else [1.0] * len(ids)
                ids = [d + offset for d in ids] if offset else list(ids)
            else:
                ids, weights, values = [], [], []
                matcher = segment.postings(fieldname, term)
                if isinstance(matcher, FilterMatcher):
                    matcher = matcher.child
                    matcher.reset()
                for block_ids, block_weights, block_values in _block_postings(matcher, offset):
                    ids.extend(block_ids)
                    weights.extend(block_weights)
                    if keeps_positions:
                        values.extend(block_values)
            yield term, n, info.doc_frequency(), ids, weights, values if keeps_positions else ()


def _reads_blocks(matcher) -> bool:
    """Whether ``_block_postings`` can read this matcher's blocks: a W3 codec posting list with its attributes."""
    attributes = ("_read_data", "_data", "_blocklength", "_byteids", "_i", "_next_block")
    return isinstance(matcher, W3LeafMatcher) and all(hasattr(matcher, a) for a in attributes)


def _block_postings(
    matcher, offset: int, wanted: list[int] | None = None
) -> Iterator[tuple[Iterable[int], Iterable[float], Sequence[bytes]]]:
    """(doc numbers, weights, values) of a matcher's postings, a block at a time (see the module docstring).

    ``wanted``: sorted doc numbers, consumed as blocks pass them; a block that can hold none of them
    is skipped unread, and reading stops once none is left. Whoosh's weight is the term frequency.
    """
    if not _reads_blocks(matcher):
        # inlined postings (a ListMatcher of fewer than INLINE_POSTINGS), or a codec this module does not know
        ids, weights, values = [], [], []
        while matcher.is_active():
            ids.append(matcher.id() + offset)
            weights.append(matcher.weight())
            values.append(matcher.value())
            matcher.next()
        yield ids, weights, values
        return
    while matcher.is_active() and (wanted is None or wanted):
        count = matcher._blocklength
        below = None if wanted is None else bisect_right(wanted, matcher.block_max_id() + offset)
        if below is None or below:
            matcher._read_data()  # one read, decompression and unpickling of the block: (ids, weights, values)
            raw_ids, weights, values = matcher._data
            ids = raw_ids if matcher._byteids else accumulate(raw_ids)  # ids are delta-encoded
            if weights is None or isinstance(weights, float):  # every weight 1.0, or all the same
                weights = repeat(1.0 if weights is None else weights, count)
            yield (map(offset.__add__, ids) if offset else ids), weights, values
            if below:
                del wanted[:below]
        matcher._i = count
        matcher._next_block()


def _length_bytes(segment, fieldname: str) -> bytes:
    """One segment's length bytes: its lengths column read in one piece, else through the public API."""
    found = _lengths_column(segment, fieldname)
    if found is not None:
        return found
    return bytes(length_to_byte(segment.doc_field_length(d, fieldname) or 0) for d in range(segment.doc_count_all()))


def _lengths_column(segment, fieldname: str) -> bytes | None:
    """The lengths column of a W3 segment as bytes, or None when the segment does not look like one."""
    count = segment.doc_count_all()
    per_doc = getattr(segment, "_perdoc", None)
    if not hasattr(per_doc, "_cached_reader"):
        return None
    reader = per_doc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
    if reader is None:  # no talk of the segment has the field
        return bytes(count)
    if getattr(reader, "_fixedlen", None) != 1 or not all(
        hasattr(reader, a) for a in ("_dbfile", "_basepos", "_count")
    ):
        return None
    stored = bytes(reader._dbfile.get(reader._basepos, min(count, reader._count)))
    return stored + bytes(count - len(stored))  # the column stops at the last talk having the field


def _column_bytes(segment, fieldname: str) -> list[bytes]:
    """Every value of a bytes column of one segment: sliced out of a single read, else through the public API."""
    found = _column_slices(segment, fieldname)
    if found is not None:
        return found
    return [
        v if isinstance(v, bytes) else str(v).encode("utf-8") for v in segment.column_reader(fieldname, translate=False)
    ]


def _column_slices(segment, fieldname: str) -> list[bytes] | None:
    """A VarBytesColumn's values sliced out of one read of its data, or None for another kind of column."""
    reader = segment.column_reader(fieldname, translate=False)
    if not all(hasattr(reader, a) for a in ("_offsets", "_lengths", "_dbfile", "_basepos")):
        return None
    offsets, lengths = reader._offsets, reader._lengths
    if not len(offsets):
        return []
    data = reader._dbfile.get(reader._basepos, offsets[-1] + lengths[-1])
    return [data[o : o + n] for o, n in zip(offsets, lengths, strict=True)]
