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
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate, chain, repeat
from operator import sub

from talksearch.index_files.reading import IndexFiles
from talksearch.search_pack.format import PackError, inflate, read_arrays
from talksearch.search_pack.reader import PackFiles

__all__ = ["Previous", "Run", "Term"]

#: A term as the writer packs it: (term, document frequency in each segment, live talks, their frequencies,
#: positions: each talk's first, then differences).
Term = tuple[str, list[int], list[int], list[int] | list[float], list[int]]


@dataclass
class Run:
    """Consecutive terms of a previous pack's posting chunk whose postings stand unchanged, as that pack encoded
    them, for the writer to append to its chunks in bulk; a whole chunk (``streams``) is copied as its bytes
    when the writer's chunking closes a chunk at the same terms."""

    terms: list[str]
    #: each kept segment's document frequencies of these terms
    kept_df: list[array]
    #: each term's number of talks; the talks (each term's first, then differences); their frequencies (empty:
    #: every one 1); the positions
    counts: array
    ids: array
    frequencies: array
    positions: array
    #: where each term's first talk and first position are in those arrays (one more: the ends)
    starts: list[int]
    spots: list[int]
    #: the whole chunk as stored and what its two streams inflate to; None for a part of one
    streams: tuple[bytes, bytes] | None = None
    inflated: tuple[int, int] = (0, 0)
    #: the chunk's first term's number in the new pack (set by the writer)
    first_term: int = 0

    @property
    def size(self) -> int:
        """What the writer's chunking counts of it: 4 bytes per talk and per position."""
        return 4 * (self.starts[-1] + self.spots[-1])

    def extents(self) -> list[int]:
        """What the writer's chunking counts of the terms before each (and of them all): 4 bytes per talk and per
        position."""
        return [4 * (talks + positions) for talks, positions in zip(self.starts, self.spots, strict=True)]

    def part(self, k: int, j: int) -> Run:
        """Its terms ``k`` to ``j`` (excluded), without the stored streams."""
        at, end, spot, after = self.starts[k], self.starts[j], self.spots[k], self.spots[j]
        return Run(
            self.terms[k:j],
            [df[k:j] for df in self.kept_df],
            self.counts[k:j],
            self.ids[at:end],
            self.frequencies[at:end] if self.frequencies else self.frequencies,
            self.positions[spot:after],
            [i - at for i in self.starts[k : j + 1]],
            [i - spot for i in self.spots[k : j + 1]],
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

    def terms(self, fieldname: str, fresh: Iterator[Term]) -> Iterator[Term | Run]:
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
            talks = list(accumulate(ids))
            if len(counts) > 1:  # a chunk of one term (a common word's) is its running sums
                before = [talks[i - 1] if i else 0 for i in starts[:-1]]
                talks = list(map(sub, talks, chain.from_iterable(map(repeat, before, counts))))
            # each term's talks increase (differences are unsigned): the chunk's highest is a term's last
            top = max((talks[end - 1] for end in starts[1:]), default=-1) if talks else -1
            if top >= old_count:
                raise PackError(f"{what}: a talk number past the talk count")
            chunk_df = [per_segment[a:b] for per_segment in kept_df]
            if not field.positional:
                spots = [0] * len(starts)
            elif frequencies:
                running_frequencies = list(accumulate(frequencies, initial=0))
                spots = [running_frequencies[i] for i in starts]
            else:
                spots = starts
            run = Run(
                words[a:b],
                chunk_df,
                counts,
                ids,
                frequencies,
                positions,
                starts,
                spots,
                (talks_stream, positions_stream),
                (inflated[c], position_inflated[c]),
            )
            changed = sorted(_losing(talks, starts, limit, gone, top))
            if self.merged:  # a term only merged-away segments had is gone
                changed = sorted({*changed, *(i for i, row in enumerate(zip(*chunk_df, strict=True)) if not any(row))})
            if not changed and (upcoming is None or upcoming[0] > words[b - 1]):
                yield run
                continue
            run.streams = None
            n, k = b - a, 0  # the chunk's terms before k are yielded
            changes = iter(changed)
            special = next(changes, n)
            while True:
                fresh_at = n
                if upcoming is not None and upcoming[0] <= words[b - 1]:
                    fresh_at = bisect_left(words, upcoming[0], a + k, b) - a
                j = min(fresh_at, special)
                if k < j:
                    yield run.part(k, j)
                if j == n:
                    break
                if fresh_at <= special and words[a + j] != upcoming[0]:  # a new term before the chunk's j-th
                    yield upcoming
                    upcoming = next(fresh, None)
                    k = j
                    continue
                term = _term(run, j, talks, segments, limit, gone)
                if j == special:
                    special = next(changes, n)
                if fresh_at == j:  # the new segments' postings follow the kept ones
                    term[1][self.kept :] = upcoming[1][self.kept :]
                    term = (term[0], term[1], term[2] + upcoming[2], term[3] + upcoming[3], term[4] + upcoming[4])
                    upcoming = next(fresh, None)
                if not self.merged or any(term[1]):
                    yield term
                k = j + 1
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


def _losing(talks: list[int], starts: list[int], limit: int, gone: frozenset[int], top: int) -> frozenset[int]:
    """The chunk's terms (their numbers in it) that hold a talk numbered ``limit`` or more or one in ``gone``:
    the gone talks are looked for where the chunk has any (each at most once per term), not term by term."""
    losing = set()
    for talk in gone.intersection(talks):
        at = talks.index(talk)
        while True:
            losing.add(bisect_right(starts, at) - 1)
            try:
                at = talks.index(talk, at + 1)
            except ValueError:
                break
    if top >= limit:
        losing.update(i for i, end in enumerate(starts[1:]) if end > starts[i] and talks[end - 1] >= limit)
    return frozenset(losing)


def _term(run: Run, j: int, talks: list[int], segments: int, limit: int, gone: frozenset[int]) -> Term:
    """The ``j``-th term of a chunk (``talks`` decoded) as the writer's other terms are, without the talks numbered
    ``limit`` or more or in ``gone``, with its frequency in every one of the new index's ``segments``."""
    at, end, spot, after = run.starts[j], run.starts[j + 1], run.spots[j], run.spots[j + 1]
    per_segment = [df[j] for df in run.kept_df]
    per_segment.extend(repeat(0, segments - len(per_segment)))
    ids = talks[at:end]
    weights = list(run.frequencies[at:end]) if run.frequencies else [1] * (end - at)
    deltas = list(run.positions[spot:after])
    # a term's talks increase: the gone ones are found by bisection, those numbered limit or more are its tail
    cut = bisect_left(ids, limit)
    dropped = sorted(i for talk in gone if (i := bisect_left(ids, talk, 0, cut)) < cut and ids[i] == talk)
    if dropped or cut < len(ids):
        kept = list(zip([-1, *dropped], [*dropped, cut], strict=True))
        bounds = list(accumulate(weights, initial=0))
        ids = list(chain.from_iterable(ids[i + 1 : k] for i, k in kept))
        deltas = list(chain.from_iterable(deltas[bounds[i + 1] : bounds[k]] for i, k in kept)) if deltas else []
        weights = list(chain.from_iterable(weights[i + 1 : k] for i, k in kept))
    return run.terms[j], per_segment, ids, weights, deltas
