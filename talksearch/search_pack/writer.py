"""Writing a search pack from a finished Whoosh index, read through ``talksearch.index_files``.

Reading the finished index (rather than the builder's memory) packs an index of several segments,
made by incremental builds, exactly as a full build's: the pack answers what ``IndexFiles`` answers
over the same directory, deleted talks and Whoosh's doc numbering included. Given the previous build's
pack, an incremental build reads only its new segments from Whoosh and keeps the rest of the previous
pack (``previous``): the same postings, chunked the same way, as exporting the whole index.
"""

from __future__ import annotations

import json
import logging
import os
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate, chain, count, repeat
from operator import sub
from pathlib import Path

from talksearch.contracts import SYNONYMS_NAME
from talksearch.index_files.reading import IndexFiles
from talksearch.index_files.writing import WrittenPostings
from talksearch.search_pack import precomputed
from talksearch.search_pack.answers import ANSWERS
from talksearch.search_pack.format import (
    CODEC_STORED,
    CODEC_ZLIB,
    MAX_CHUNK_BYTES,
    MAX_META_BYTES,
    MAX_PACK_BYTES,
    MAX_SECTION_BYTES,
    MAX_STORED_TALK_BYTES,
    MAX_SYNONYMS_BYTES,
    SYNONYMS_SECTION,
    PackError,
    narrowest,
    write_arrays,
    write_header,
)
from talksearch.search_pack.previous import Previous, Run, Term

__all__ = ["CHUNK_BYTES", "DICTIONARY_BYTES", "PackSummary", "write_pack"]

#: A posting chunk closes once its arrays hold this many bytes: many rare terms share one zlib stream
#: (a stream of a few bytes compresses badly), a common term has one of its own.
CHUNK_BYTES = 4 << 10
#: The stored talks' shared zlib dictionary: 16 kB compress the 21.7k-talk corpus' as well as blocks of 4 talks
#: (9.6 against 9.4 MB) and read a talk in 35 µs (a block of 8: 130 µs; Whoosh's stored fields: 60 µs).
DICTIONARY_BYTES = 16 << 10
LEVEL = 6

logger = logging.getLogger(__name__)


@dataclass
class PackSummary:
    """What ``write_pack`` wrote: its size, the stored bytes of each section, and how many talks' postings
    and stored fields it kept from the previous pack (0: every talk read from the Whoosh index)."""

    path: Path
    size: int
    talks: int
    sections: dict[str, int] = field(default_factory=dict)
    kept_talks: int = 0
    #: whether the postings came from the full write's memory (``written``) rather than the index files
    from_memory: bool = False


def write_pack(
    index_dir: str | os.PathLike,
    destination: str | os.PathLike,
    previous: bytes | memoryview | None = None,
    written: WrittenPostings | None = None,
    answers: Callable[[bytes, bytes | None], bytes] | None = None,
) -> PackSummary:
    """Write the search pack of the index in ``index_dir`` to ``destination``.

    ``previous``: the pack of the index this one was updated from (an incremental build), whose talks in
    segments the index still has are kept rather than read from Whoosh again; a damaged one, or one whose
    segments the index no longer starts with, is logged and the whole index exported. Raises ``ValueError``
    when the index holds something the pack cannot say exactly (a stored value JSON does not round-trip, a
    frequency that is not a whole number, a pack over ``MAX_PACK_BYTES``).

    ``written``: the postings a full write of this index just committed (``write_index``'s answer), read from
    memory instead of unpickling the term tables back: the same bytes, used only when the index is exactly
    those segments (``WrittenPostings.matches``), and consumed.

    ``answers``: makes the ``pre/answers`` section from the bytes of the pack without it and its synonym table
    (the builder's ``index_builder.answers.answer_section``, which asks the search engine); without it the pack
    has no precomputed answers, and the search function computes them at their first ask, the same.
    """
    files = IndexFiles(index_dir)
    try:
        kept = None
        if written is not None and not written.matches(files.segment_ids(), files.segment_ranges(), files.deleted):
            written = None
        if written is not None:
            sections = list(_sections(files, None, written))
        elif previous is not None:
            try:
                kept = Previous.of(previous, files)
                if kept is None:
                    logger.info("the previous search pack does not match the index's segments: exporting it whole")
                sections = list(_sections(files, kept))
            except PackError as error:
                logger.warning("the previous search pack is unusable (%s): exporting the index whole", error)
                kept = None
                sections = list(_sections(files, None))
        else:
            sections = list(_sections(files, None))
        own = precomputed.sections(files, sections)
    finally:
        files.close()
    synonyms_path = Path(index_dir) / SYNONYMS_NAME
    synonyms = synonyms_path.read_bytes() if synonyms_path.is_file() else None
    answered = _answers_section(answers, sections, own, synonyms) if answers is not None else None
    sections += [_compressed(name, raw) for name, raw in own]
    if answered is not None:
        sections.append(_compressed(ANSWERS, answered))
    if synonyms is not None:
        sections.append(_compressed(SYNONYMS_SECTION, synonyms, MAX_SYNONYMS_BYTES))
    header = write_header(sections)
    size = len(header) + sum(len(data) for _, data, _, _ in sections)
    if size > MAX_PACK_BYTES:
        raise ValueError(f"the pack would have {size:,} bytes, over the {MAX_PACK_BYTES:,} a reader accepts")
    destination = Path(destination)
    with open(destination, "wb") as out:
        out.write(header)
        for _, data, _, _ in sections:
            out.write(data)
    sizes = {name: len(data) for name, data, _, _ in sections}
    kept_talks = kept.kept_talks if kept is not None else 0
    return PackSummary(destination, size, files.doc_count, sizes, kept_talks, written is not None)


def _answers_section(
    answers: Callable[[bytes, bytes | None], bytes],
    sections: list[tuple[str, bytes, int, int]],
    own: list[tuple[str, bytes]],
    synonyms: bytes | None,
) -> bytes:
    """``answers`` asked over the pack these sections make (the precomputed ones and the synonyms kept as is)."""
    stored = sections + [(name, raw, len(raw), CODEC_STORED) for name, raw in own]
    if synonyms is not None:
        stored.append((SYNONYMS_SECTION, synonyms, len(synonyms), CODEC_STORED))
    return answers(b"".join([write_header(stored), *(data for _, data, _, _ in stored)]), synonyms)


def _compressed(name: str, raw: bytes, cap: int = MAX_SECTION_BYTES) -> tuple[str, bytes, int, int]:
    if len(raw) > cap:
        raise ValueError(f"section {name} would inflate to {len(raw):,} bytes, over the {cap:,} a reader accepts")
    return name, zlib.compress(raw, LEVEL), len(raw), CODEC_ZLIB


def _stored(name: str, raw: bytes) -> tuple[str, bytes, int, int]:
    if len(raw) > MAX_SECTION_BYTES:
        raise ValueError(f"section {name} would have {len(raw):,} bytes, over the {MAX_SECTION_BYTES:,} cap")
    return name, raw, len(raw), CODEC_STORED


def _typed(values: list[int]) -> array:
    return array(narrowest(values), values)


def _sections(
    files: IndexFiles, previous: Previous | None, written: WrittenPostings | None = None
) -> Iterator[tuple[str, bytes, int, int]]:
    doc_count = files.doc_count
    segments = files.segment_ranges()
    meta: dict = {
        "doc_count": doc_count,
        "segments": segments,
        "segment_ids": files.segment_ids(),
        "fields": {},
        "columns": {},
        "lengths": {},
    }
    yield _compressed("deleted", write_arrays(_typed(sorted(files.deleted))))
    text_fields = files.text_fields()
    for name, positional in text_fields.items():
        words: list[str] = []
        per_segment: list[list[int]] = [[] for _ in segments]
        if written is not None:
            terms: Iterable[Term | Run] = written.field_postings(name, positional)
        elif previous is None:
            terms = files.field_postings(name)
        else:
            terms = previous.terms(name, files.field_postings(name, previous.kept))
        yield from _postings(name, terms, positional, words, per_segment)
        separator = _separator(words)
        meta["fields"][name] = {"terms": len(words), "separator": ord(separator), "positions": positional}
        yield _compressed(f"terms/{name}", separator.join(words).encode("utf-8"))
        df = per_segment[0] if len(segments) == 1 else list(map(sum, zip(*per_segment, strict=True)))
        yield _compressed(f"df/{name}", write_arrays(_typed(df)))
        if len(segments) > 1:
            flat = [0] * (len(words) * len(segments))
            for s, column in enumerate(per_segment):
                flat[s :: len(segments)] = column
            yield _compressed(f"segdf/{name}", write_arrays(_typed(flat)))
    for name in text_fields:
        lengths = files.length_bytes(name)
        meta["lengths"][name] = files.total_length(name)
        yield _compressed(f"len/{name}", lengths)
    for name in files.column_fields():
        values = files.column(name)
        missing = [doc for doc, value in enumerate(values) if value is None]
        present = [b"" if value is None else value for value in values]
        separator = next((b for b in range(256) if not any(bytes([b]) in v for v in present)), None)
        if separator is None:
            raise ValueError(f"the values of column {name} hold every byte: no separator is left")
        meta["columns"][name] = {"separator": separator, "missing": len(missing)}
        yield _compressed(f"col/{name}", bytes([separator]).join(present))
        if missing:
            yield _compressed(f"colnone/{name}", write_arrays(_typed(missing)))
    yield from _stored_talks(files, previous)
    raw_meta = json.dumps(meta, ensure_ascii=False, sort_keys=True).encode("utf-8")
    yield _compressed("meta", raw_meta, MAX_META_BYTES)


def _separator(words: list[str]) -> str:
    """A character no term holds: a newline, unless a term has one."""
    if not any("\n" in word for word in words):
        return "\n"
    used = set(chain.from_iterable(words))
    return next(c for c in map(chr, count(1)) if c not in used and not "\ud800" <= c <= "\udfff")


def _postings(
    name: str, terms: Iterable[Term | Run], positional: bool, words: list[str], per_segment: list[list[int]]
) -> Iterator[tuple[str, bytes, int, int]]:
    """``chunks/<name>``, ``post/<name>`` and ``pos/<name>``: every term's live postings, in chunks of about
    ``CHUNK_BYTES``, each a zlib stream of talks and frequencies and one of positions; the terms and their
    document frequencies in each segment are appended to ``words`` and ``per_segment`` (one list per segment).

    A ``Run`` (terms of the previous pack, unchanged) is added in bulk where the chunking closes its chunks, and
    a whole chunk of it copied when the chunking closes a chunk at its terms exactly as it did then."""
    first_terms: list[int] = []
    streams: tuple[list[bytes], list[bytes]] = ([], [])
    offsets: tuple[list[int], list[int]] = ([0], [0])
    inflated: tuple[list[int], list[int]] = ([], [])
    chunk: _Chunk | Run | None = None

    def close(chunk: _Chunk | Run) -> None:
        first_terms.append(chunk.first_term)
        if isinstance(chunk, Run):
            encoded = zip(chunk.streams, chunk.inflated, strict=True)
        else:
            encoded = ((zlib.compress(raw, LEVEL) if raw else b"", len(raw)) for raw in chunk.encode())
        for (data, size), stored, starts, sizes in zip(encoded, streams, offsets, inflated, strict=True):
            if size > MAX_CHUNK_BYTES:
                raise ValueError(f"a posting chunk of {name} would inflate to {size:,} bytes, over the cap")
            stored.append(data)
            starts.append(starts[-1] + len(data))
            sizes.append(size)

    def opened(chunk: _Chunk | Run, first_term: int) -> _Chunk:
        """The open chunk, a whole chunk of the previous pack taken apart for more terms to join it."""
        if isinstance(chunk, _Chunk):
            return chunk
        if chunk is None:
            return _Chunk(first_term, positional)
        whole = _Chunk(chunk.first_term, positional)
        whole.add_run(chunk, 0, len(chunk.terms))
        return whole

    number = 0
    for item in terms:
        if not isinstance(item, Run):
            size = 4 * (len(item[2]) + len(item[4]))
            if chunk is not None and (chunk.size >= CHUNK_BYTES or size >= CHUNK_BYTES):
                close(chunk)
                chunk = None
            words.append(item[0])
            for column, frequency in zip(per_segment, item[1], strict=True):
                column.append(frequency)
            chunk = opened(chunk, number)
            chunk.add(item[0], item[2], item[3], item[4])
            number += 1
            continue
        run, count = item, len(item.terms)
        words.extend(run.terms)
        for s, column in enumerate(per_segment):
            column.extend(run.kept_df[s] if s < len(run.kept_df) else repeat(0, count))
        first_size = 4 * (run.starts[1] + run.spots[1])
        if chunk is not None and (chunk.size >= CHUNK_BYTES or first_size >= CHUNK_BYTES):
            close(chunk)
            chunk = None
        if chunk is None and run.streams is not None:
            run.first_term, chunk = number, run
            number += count
            continue
        extents = run.extents()
        k = 0
        while k < count:
            if k and (chunk.size >= CHUNK_BYTES or extents[k + 1] - extents[k] >= CHUNK_BYTES):
                close(chunk)
                chunk = None
            chunk = opened(chunk, number + k)
            # the terms from k on that join it: up to the first that finds it full or is as big on its own
            end = min(bisect_left(extents, CHUNK_BYTES - chunk.size + extents[k], k + 1), count)
            if end - 1 > k and extents[end] - extents[end - 1] >= CHUNK_BYTES:
                end -= 1
            chunk.add_run(run, k, end)
            k = end
        number += count
    if chunk is not None:
        close(chunk)
    directory = (first_terms, offsets[0], inflated[0], offsets[1], inflated[1])
    yield _compressed(f"chunks/{name}", write_arrays(*map(_typed, directory)))
    yield _stored(f"post/{name}", b"".join(streams[0]))
    yield _stored(f"pos/{name}", b"".join(streams[1]))


class _Chunk:
    """The postings of consecutive terms: live talks per term, talk numbers (each term's first one, then
    differences), frequencies (none when every one is 1); and apart, positions (each talk's first, then
    differences: Whoosh's own encoding, so that ``accumulate`` over one talk's slice gives its positions)."""

    def __init__(self, first_term: int, positional: bool) -> None:
        self.first_term = first_term
        self.positional = positional
        self.counts: list[int] = []
        self.ids: list[int] = []
        self.frequencies: list[int] = []
        self.positions: list[int] = []
        self.size = 0

    def add(self, term: str, ids: list[int], frequencies: list[float], deltas: list[int]) -> None:
        whole = list(map(int, frequencies))
        if whole != frequencies:
            raise ValueError(f"term {term!r} has a frequency that is not a whole number")
        if self.positional and sum(whole) != len(deltas):
            raise ValueError(f"term {term!r} has frequencies that are not its position counts")
        self.counts.append(len(ids))
        if ids:
            self.ids.append(ids[0])
            self.ids.extend(map(sub, ids[1:], ids[:-1]))
        self.frequencies.extend(whole)
        self.positions.extend(deltas)
        self.size += 4 * (len(ids) + len(deltas))

    def add_run(self, run: Run, k: int, end: int) -> None:
        """A previous pack's terms ``k`` to ``end`` (excluded) as that pack encoded them (talks already each term's
        first, then differences)."""
        at, stop, spot, after = run.starts[k], run.starts[end], run.spots[k], run.spots[end]
        self.counts.extend(run.counts[k:end])
        self.ids.extend(run.ids[at:stop])
        self.frequencies.extend(run.frequencies[at:stop] if run.frequencies else repeat(1, stop - at))
        self.positions.extend(run.positions[spot:after])
        self.size += 4 * (stop - at + after - spot)

    def encode(self) -> tuple[bytes, bytes]:
        """The talks stream and the positions stream (empty for a field without positions)."""
        every_one = self.frequencies.count(1) == len(self.frequencies)
        frequencies = [] if every_one else self.frequencies
        talks = write_arrays(_typed(self.counts), _typed(self.ids), _typed(frequencies))
        return talks, write_arrays(_typed(self.positions)) if self.positional else b""


def _stored_talks(files: IndexFiles, previous: Previous | None) -> Iterator[tuple[str, bytes, int, int]]:
    """``stored/index``, ``stored/data``, ``stored/dictionary``: every talk's stored fields (deleted ones too) as
    JSON, each talk its own zlib stream, all compressed with one dictionary drawn from the talks themselves (an
    incremental pack keeps the previous pack's streams and dictionary, and compresses its new talks with it)."""
    streams: list[bytes] = []
    inflated: list[int] = []
    if previous is not None:
        kept, kept_inflated, dictionary = previous.stored()
        streams.extend(kept)
        inflated.extend(kept_inflated)
        lines = [_stored_line(files, doc) for doc in range(len(kept), files.doc_count)]
    else:
        lines = [_stored_line(files, doc) for doc in range(files.doc_count)]
        dictionary = _dictionary(lines)
    loaded = zlib.compressobj(LEVEL, zdict=dictionary)
    for line in lines:
        # a copy of a compressor that has the dictionary and nothing else: the stream a new one would give, without
        # loading the dictionary again for each talk (21.7k talks: 1.7 s -> 1.05 s of zlib)
        packer = loaded.copy()
        streams.append(packer.compress(line) + packer.flush())
        inflated.append(len(line))
    offsets = list(accumulate(map(len, streams), initial=0))
    yield _compressed("stored/index", write_arrays(_typed(offsets), _typed(inflated)))
    yield _stored("stored/data", b"".join(streams))
    yield _stored("stored/dictionary", dictionary)


def _stored_line(files: IndexFiles, doc: int) -> bytes:
    """One talk's stored fields as compact JSON, refused when JSON would not give them back the same."""
    stored = files.stored(doc)
    text = json.dumps(stored, ensure_ascii=False, separators=(",", ":"))
    if not _same(json.loads(text), stored):
        raise ValueError(f"talk {doc}'s stored fields do not survive JSON: {stored!r:.200}")
    line = text.encode("utf-8")
    if len(line) > MAX_STORED_TALK_BYTES:
        raise ValueError(f"talk {doc}'s stored fields have {len(line):,} bytes, over the cap")
    return line


def _dictionary(lines: list[bytes]) -> bytes:
    """``DICTIONARY_BYTES`` of talks spread over the corpus: what most talks' JSON shares (keys, events,
    common words), zlib's preset dictionary for each talk."""
    step = max(1, len(lines) // 64)
    sample = b"".join(lines[::step])
    return sample[-DICTIONARY_BYTES:]


def _same(a: object, b: object) -> bool:
    """Equal and of the same types all the way down (JSON turns tuples into lists)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b
