"""The previous build's search pack, read for what an incremental build's pack can keep of it.

An incremental build deletes talks in the index's old segments and adds a new segment: the old segments
keep their files and doc numbers (until Whoosh merges them away), so each term's postings in the new pack
are the previous pack's, less the talks deleted since, followed by the new segments' (read from Whoosh),
and a posting chunk none of that touches is copied as its compressed bytes, as are the old talks' stored
streams. The previous pack comes from S3 like any pack: every part of it that is kept is checked as a
reader checks it (``PackError`` on damage; the writer then exports the whole index instead), and it is
used only when its segments (``meta["segment_ids"]``) are the new index's first ones, with the same sizes.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate, chain, repeat
from operator import sub
from typing import NamedTuple

from talksearch.index_files.reading import IndexFiles
from talksearch.search_pack.format import PackError, inflate, read_arrays
from talksearch.search_pack.reader import PackFiles

__all__ = ["Kept", "Previous", "Run", "Term"]

#: A term as the writer packs it: (term, document frequency in each segment, live talks, their frequencies,
#: positions: each talk's first, then differences).
Term = tuple[str, list[int], list[int], list[int] | list[float], list[int]]


class Kept(NamedTuple):
    """A term of the previous pack whose postings stand unchanged, as that pack encoded them (checked as a reader
    checks them), for the writer to append to a chunk without decoding them."""

    term: str
    per_segment: list[int]
    #: its talks: the first, then differences
    ids: array
    #: None when every one is 1
    frequencies: array | None
    positions: array


@dataclass
class Run:
    """A posting chunk of the previous pack whose terms and postings stand unchanged: copied as its bytes when
    the writer's chunking closes a chunk at the same terms, else ``expand``-ed into its terms."""

    terms: list[str]
    #: each kept segment's document frequencies of these terms
    kept_df: list[array]
    #: (talks stream, positions stream) as stored, and what each inflates to
    streams: tuple[bytes, bytes]
    inflated: tuple[int, int]
    #: the chunk's talk numbers, where each term's start among them, its frequencies (empty: every one 1) and
    #: its positions, decoded
    talks: list[int]
    ids: array
    starts: list[int]
    counts: array
    frequencies: array
    positions: array
    #: what the writer's chunking counts: 4 bytes per talk and per position, of the chunk and of its first term
    size: int
    first_size: int
    #: the chunk's first term's number in the new pack (set by the writer)
    first_term: int = 0

    def expand(self, segments: int) -> list[Kept]:
        """The chunk's terms one by one, each with its frequency in every one of the new index's ``segments``."""
        return list(
            _terms(
                self.terms, self.kept_df, segments, self.talks, self.ids, self.starts, self.frequencies, self.positions
            )
        )


class Previous:
    """The previous pack, where the new index (``files``) keeps its first ``kept`` segments."""

    def __init__(self, pack: PackFiles, kept: int, files: IndexFiles) -> None:
        self.pack = pack
        self.kept = kept
        self.segments = len(files.segment_ranges())
        #: talks numbered below this keep their numbers; the rest (segments merged away) are read anew
        self.kept_talks = sum(count for _, count in pack._segments[:kept])
        #: kept talks deleted since the previous pack
        self.gone = frozenset(d for d in files.deleted if d < self.kept_talks) - pack.deleted
        self.merged = kept < len(pack._segments)

    @classmethod
    def of(cls, data: bytes | memoryview, files: IndexFiles) -> Previous | None:
        """The previous pack as seen from the new index; None when the index does not start with its segments.

        Raises ``PackError`` when the pack is damaged (or not one this code writes)."""
        pack = PackFiles(data)
        meta = pack._meta()
        ids = meta.get("segment_ids")
        if not (isinstance(ids, list) and len(ids) == len(pack._segments) and all(isinstance(i, str) for i in ids)):
            return None  # a pack written before segment names were kept, or a damaged one: export in full
        new_ids, new_ranges = files.segment_ids(), files.segment_ranges()
        kept = 0
        while kept < min(len(ids), len(new_ids)) and (ids[kept], pack._segments[kept]) == (
            new_ids[kept],
            tuple(new_ranges[kept]),
        ):
            kept += 1
        if kept == 0 or set(ids[kept:]) & set(new_ids):
            return None  # no segment kept, or a kept one moved (its talks renumbered)
        if pack._field_meta.keys() != files.text_fields().keys() or any(
            bool(pack._field_meta[name]["positions"]) != positional for name, positional in files.text_fields().items()
        ):
            return None  # the schema's fields changed
        previous = cls(pack, kept, files)
        if not {d for d in pack.deleted if d < previous.kept_talks} <= files.deleted:
            raise PackError("the previous pack's deleted talks are live in the index")
        return previous

    def terms(self, fieldname: str, fresh: Iterator[Term]) -> Iterator[Term | Kept | Run]:
        """The field's terms in order: the previous pack's (merged with ``fresh``, the new segments' terms,
        ``IndexFiles.field_postings(fieldname, kept)``), a chunk none of that changes as one ``Run``."""
        pack = self.pack
        field = pack._field(fieldname)
        if field is None:
            raise PackError(f"the previous pack has no vocabulary for {fieldname!r}")
        described = pack._field_meta[fieldname]
        try:
            text = bytes(pack._section(f"terms/{fieldname}")).decode("utf-8")
        except UnicodeDecodeError:
            raise PackError(f"the terms of {fieldname!r} are not UTF-8") from None
        words = text.split(chr(described["separator"])) if described["terms"] else []
        if len(words) != described["terms"]:
            raise PackError(f"field {fieldname!r}: its terms are not as many as the meta section says")
        kept_df = pack._per_segment_df(field)[: self.kept]
        first, offsets, inflated, position_offsets, position_inflated = field.chunks
        limit, gone, segments = self.kept_talks, self.gone, self.segments
        old_count = pack.doc_count
        upcoming = next(fresh, None)
        for c, a in enumerate(first):
            b = first[c + 1] if c + 1 < len(first) else len(words)
            what = f"a posting chunk of {fieldname!r}"
            talks_stream = bytes(field.postings[offsets[c] : offsets[c + 1]])
            counts, ids, frequencies = read_arrays(inflate(talks_stream, inflated[c], what), 3, what)
            if len(counts) != b - a or sum(counts) != len(ids) or (frequencies and len(frequencies) != len(ids)):
                raise PackError(f"{what}: its counts, talks and frequencies do not match its terms")
            positions_stream = bytes(field.positions[position_offsets[c] : position_offsets[c + 1]])
            positions = array("B")
            if field.positional:
                (positions,) = read_arrays(inflate(positions_stream, position_inflated[c], what), 1, what)
                if len(positions) != (sum(frequencies) if frequencies else len(ids)):
                    raise PackError(f"{what}: its positions are not as many as its frequencies")
            elif positions_stream or position_inflated[c]:
                raise PackError(f"{what}: positions in a field without them")
            while upcoming is not None and upcoming[0] < words[a]:
                yield upcoming
                upcoming = next(fresh, None)
            # each term's talk numbers are its first, then differences: running sums less the sum before the term
            starts = list(accumulate(counts, initial=0))
            running = list(accumulate(ids))
            before = [running[i - 1] if i else 0 for i in starts[:-1]]
            talks = list(map(sub, running, chain.from_iterable(map(repeat, before, counts))))
            top = max(talks, default=-1)
            if top >= old_count:
                raise PackError(f"{what}: a talk number past the talk count")
            chunk_df = [per_segment[a:b] for per_segment in kept_df]
            touched = (
                (upcoming is not None and upcoming[0] <= words[b - 1])
                or top >= limit
                or not gone.isdisjoint(talks)
                or (self.merged and not all(map(any, zip(*chunk_df, strict=True))))
            )
            if not touched:
                first_positions = (
                    (sum(frequencies[: counts[0]]) if frequencies else counts[0]) if field.positional else 0
                )
                yield Run(
                    words[a:b],
                    chunk_df,
                    (talks_stream, positions_stream),
                    (inflated[c], position_inflated[c]),
                    talks,
                    ids,
                    starts,
                    counts,
                    frequencies,
                    positions,
                    4 * (len(ids) + len(positions)),
                    4 * (counts[0] + first_positions),
                )
                continue
            chunk_terms = _terms(
                words[a:b], chunk_df, segments, talks, ids, starts, frequencies, positions, limit, gone
            )
            for term in chunk_terms:
                while upcoming is not None and upcoming[0] < term[0]:
                    yield upcoming
                    upcoming = next(fresh, None)
                if upcoming is not None and upcoming[0] == term[0]:
                    old = _decoded(term) if isinstance(term, Kept) else term
                    old[1][self.kept :] = upcoming[1][self.kept :]
                    term = (old[0], old[1], old[2] + upcoming[2], old[3] + upcoming[3], old[4] + upcoming[4])
                    upcoming = next(fresh, None)
                if not self.merged or any(term[1]):  # a term only merged-away segments had is gone
                    yield term
        while upcoming is not None:
            yield upcoming
            upcoming = next(fresh, None)

    def stored(self) -> tuple[list[bytes], array, bytes]:
        """The kept talks' stored streams (each checked to inflate as declared), what each inflates to, and the
        dictionary they were compressed with."""
        offsets, inflated, dictionary = self.pack._read_stored_index()
        data = self.pack._section("stored/data")
        streams = []
        for doc in range(self.kept_talks):
            stream = bytes(data[offsets[doc] : offsets[doc + 1]])
            raw = inflate(stream, inflated[doc], "a stored talk", dictionary)
            if not raw.startswith(b"{"):
                raise PackError("a stored talk is not a JSON object")
            streams.append(stream)
        return streams, inflated[: self.kept_talks], dictionary


def _terms(
    words: list[str],
    kept_df: list[array],
    segments: int,
    talks: list[int],
    encoded: array,
    starts: list[int],
    frequencies: array,
    positions: array,
    limit: int | None = None,
    gone: frozenset[int] = frozenset(),
) -> Iterator[Term | Kept]:
    """A chunk's terms (``talks`` decoded, ``encoded`` as stored), talks numbered ``limit`` or more and those in
    ``gone`` left out: a term that loses none stays as the previous pack encoded it."""
    spot = 0  # where the term's first position is
    kept = len(kept_df)
    for i, word in enumerate(words):
        at, end = starts[i], starts[i + 1]
        ids = talks[at:end]
        size = (sum(frequencies[at:end]) if frequencies else end - at) if positions else 0
        per_segment = [kept_df[s][i] for s in range(kept)]
        per_segment.extend(repeat(0, segments - kept))
        if (limit is None or not ids or ids[-1] < limit) and gone.isdisjoint(ids):
            weights = frequencies[at:end] if frequencies else None
            yield Kept(word, per_segment, encoded[at:end], weights, positions[spot : spot + size])
        else:
            weights = list(frequencies[at:end]) if frequencies else [1] * (end - at)
            deltas = list(positions[spot : spot + size])
            bounds = list(accumulate(weights, initial=0))
            keep = [j for j, doc in enumerate(ids) if doc not in gone and (limit is None or doc < limit)]
            ids = [ids[j] for j in keep]
            deltas = list(chain.from_iterable(deltas[bounds[j] : bounds[j + 1]] for j in keep)) if positions else []
            weights = [weights[j] for j in keep]
            yield word, per_segment, ids, weights, deltas
        spot += size


def _decoded(term: Kept) -> Term:
    """A kept term as the writer's other terms are: talk numbers, frequencies and positions as lists."""
    count = len(term.ids)
    weights = list(term.frequencies) if term.frequencies is not None else [1] * count
    return term.term, term.per_segment, list(accumulate(term.ids)), weights, list(term.positions)
