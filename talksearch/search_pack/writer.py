"""Writing a search pack from a finished Whoosh index, read through ``talksearch.index_files``.

Reading the finished index (rather than the builder's memory) packs an index of several segments,
made by incremental builds, exactly as a full build's: the pack answers what ``IndexFiles`` answers
over the same directory, deleted talks and Whoosh's doc numbering included.
"""

from __future__ import annotations

import json
import os
import zlib
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain, count
from operator import sub
from pathlib import Path

from talksearch.contracts import SYNONYMS_NAME
from talksearch.index_files.reading import IndexFiles
from talksearch.search_pack import precomputed
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
    narrowest,
    write_arrays,
    write_header,
)

__all__ = ["CHUNK_BYTES", "DICTIONARY_BYTES", "PackSummary", "write_pack"]

#: A posting chunk closes once its arrays hold this many bytes: many rare terms share one zlib stream
#: (a stream of a few bytes compresses badly), a common term has one of its own.
CHUNK_BYTES = 4 << 10
#: The stored talks' shared zlib dictionary: 16 kB compress the 21.7k-talk corpus' as well as blocks of 4 talks
#: (9.6 against 9.4 MB) and read a talk in 35 µs (a block of 8: 130 µs; Whoosh's stored fields: 60 µs).
DICTIONARY_BYTES = 16 << 10
LEVEL = 6


@dataclass
class PackSummary:
    """What ``write_pack`` wrote: its size, and the stored bytes of each section."""

    path: Path
    size: int
    talks: int
    sections: dict[str, int] = field(default_factory=dict)


def write_pack(index_dir: str | os.PathLike, destination: str | os.PathLike) -> PackSummary:
    """Write the search pack of the index in ``index_dir`` to ``destination``.

    Raises ``ValueError`` when the index holds something the pack cannot say exactly (a stored value
    JSON does not round-trip, a frequency that is not a whole number, a pack over ``MAX_PACK_BYTES``).
    """
    files = IndexFiles(index_dir)
    try:
        sections = list(_sections(files))
        sections += [_compressed(n, r) for n, r in precomputed.sections(files, sections, index_dir)]  # helper "first"
    finally:
        files.close()
    synonyms = Path(index_dir) / SYNONYMS_NAME
    if synonyms.is_file():
        sections.append(_compressed(SYNONYMS_SECTION, synonyms.read_bytes(), MAX_SYNONYMS_BYTES))
    header = write_header(sections)
    size = len(header) + sum(len(data) for _, data, _, _ in sections)
    if size > MAX_PACK_BYTES:
        raise ValueError(f"the pack would have {size:,} bytes, over the {MAX_PACK_BYTES:,} a reader accepts")
    destination = Path(destination)
    with open(destination, "wb") as out:
        out.write(header)
        for _, data, _, _ in sections:
            out.write(data)
    return PackSummary(destination, size, files.doc_count, {name: len(data) for name, data, _, _ in sections})


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


def _sections(files: IndexFiles) -> Iterator[tuple[str, bytes, int, int]]:
    doc_count = files.doc_count
    segments = files.segment_ranges()
    meta: dict = {"doc_count": doc_count, "segments": segments, "fields": {}, "columns": {}, "lengths": {}}
    yield _compressed("deleted", write_arrays(_typed(sorted(files.deleted))))
    text_fields = files.text_fields()
    for name, positional in text_fields.items():
        words: list[str] = []
        per_segment: list[list[int]] = []
        yield from _postings(name, files.field_postings(name), positional, words, per_segment)
        separator = _separator(words)
        meta["fields"][name] = {"terms": len(words), "separator": ord(separator), "positions": positional}
        yield _compressed(f"terms/{name}", separator.join(words).encode("utf-8"))
        yield _compressed(f"df/{name}", write_arrays(_typed(list(map(sum, per_segment)))))
        if len(segments) > 1:
            yield _compressed(f"segdf/{name}", write_arrays(_typed(list(chain.from_iterable(per_segment)))))
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
    yield from _stored_talks(files, meta)
    raw_meta = json.dumps(meta, ensure_ascii=False, sort_keys=True).encode("utf-8")
    yield _compressed("meta", raw_meta, MAX_META_BYTES)


def _separator(words: list[str]) -> str:
    """A character no term holds: a newline, unless a term has one."""
    if not any("\n" in word for word in words):
        return "\n"
    used = set(chain.from_iterable(words))
    return next(c for c in map(chr, count(1)) if c not in used and not "\ud800" <= c <= "\udfff")


def _postings(
    name: str, postings: Iterable[tuple], positional: bool, words: list[str], per_segment: list[list[int]]
) -> Iterator[tuple[str, bytes, int, int]]:
    """``chunks/<name>``, ``post/<name>`` and ``pos/<name>``: every term's live postings, in chunks of about
    ``CHUNK_BYTES``, each a zlib stream of talks and frequencies and one of positions; the terms and their
    per-segment document frequencies are appended to ``words`` and ``per_segment``."""
    first_terms: list[int] = []
    streams: tuple[list[bytes], list[bytes]] = ([], [])
    offsets: tuple[list[int], list[int]] = ([0], [0])
    inflated: tuple[list[int], list[int]] = ([], [])
    chunk: _Chunk | None = None

    def close(chunk: _Chunk) -> None:
        first_terms.append(chunk.first_term)
        for raw, stored, starts, sizes in zip(chunk.encode(), streams, offsets, inflated, strict=True):
            if len(raw) > MAX_CHUNK_BYTES:
                raise ValueError(f"a posting chunk of {name} would inflate to {len(raw):,} bytes, over the cap")
            data = zlib.compress(raw, LEVEL) if raw else b""
            stored.append(data)
            starts.append(starts[-1] + len(data))
            sizes.append(len(raw))

    for number, (term, frequencies_per_segment, ids, frequencies, deltas) in enumerate(postings):
        words.append(term)
        per_segment.append(frequencies_per_segment)
        size = 4 * (len(ids) + len(deltas))
        if chunk is not None and (chunk.size >= CHUNK_BYTES or size >= CHUNK_BYTES):
            close(chunk)
            chunk = None
        if chunk is None:
            chunk = _Chunk(number, positional)
        chunk.add(term, ids, frequencies, deltas)
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

    def encode(self) -> tuple[bytes, bytes]:
        """The talks stream and the positions stream (empty for a field without positions)."""
        every_one = self.frequencies.count(1) == len(self.frequencies)
        frequencies = [] if every_one else self.frequencies
        talks = write_arrays(_typed(self.counts), _typed(self.ids), _typed(frequencies))
        return talks, write_arrays(_typed(self.positions)) if self.positional else b""


def _stored_talks(files: IndexFiles, meta: dict) -> Iterator[tuple[str, bytes, int, int]]:
    """``stored/index``, ``stored/data``, ``stored/dictionary``: every talk's stored fields (deleted ones too) as
    JSON, each talk its own zlib stream, all compressed with one dictionary drawn from the talks themselves."""
    lines = []
    for doc in range(files.doc_count):
        stored = files.stored(doc)
        text = json.dumps(stored, ensure_ascii=False, separators=(",", ":"))
        if not _same(json.loads(text), stored):
            raise ValueError(f"talk {doc}'s stored fields do not survive JSON: {stored!r:.200}")
        line = text.encode("utf-8")
        if len(line) > MAX_STORED_TALK_BYTES:
            raise ValueError(f"talk {doc}'s stored fields have {len(line):,} bytes, over the cap")
        lines.append(line)
    dictionary = _dictionary(lines)
    offsets, inflated, streams = [0], [], []
    for line in lines:
        packer = zlib.compressobj(LEVEL, zdict=dictionary)
        data = packer.compress(line) + packer.flush()
        streams.append(data)
        inflated.append(len(line))
        offsets.append(offsets[-1] + len(data))
    yield _compressed("stored/index", write_arrays(_typed(offsets), _typed(inflated)))
    yield _stored("stored/data", b"".join(streams))
    yield _stored("stored/dictionary", dictionary)


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
