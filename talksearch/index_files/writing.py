"""Writing an index: the builder's segments, from analysed documents, with Whoosh's W3 codec.

Whoosh's own SegmentWriter does the writing; what differs (see the package docstring) is where
postings wait until the commit, how field lengths are found then, and which posting lists are
inlined. Everything written is Whoosh's format, readable by Whoosh alone.
"""

from __future__ import annotations

import io
import zlib
from array import array
from collections import defaultdict
from collections.abc import Iterator
from hashlib import md5
from operator import sub
from pickle import dumps

from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3Codec, W3FieldWriter, W3PostingsWriter, W3TermInfo
from whoosh.filedb.filetables import OrderedHashWriter, _lengths
from whoosh.formats import Frequency, Positions
from whoosh.system import pack_int, pack_long, pack_uint, pack_ushort, unpack_long
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import SegmentWriter

from talksearch.forked import ForkedCall
from talksearch.index_files.reading import merged_postings

__all__ = [
    "INLINE_POSTINGS",
    "AnalysedTerms",
    "SegmentBuilder",
    "WrittenPostings",
    "frequency_value",
    "index_codec",
    "keeps_positions",
    "positions_value",
]

#: Terms in fewer talks than this keep their postings in their term table entry rather than in a
#: posting block of their own (about 60 bytes of block header and zlib stream each): most terms are
#: in one or two talks, and inlining them took the 21.7k-talk artifact from 52.4 to 50.6 MB (level 1).
INLINE_POSTINGS = 8

_POSITIONS = Positions()

#: What ``SegmentBuilder.add_analysed`` takes per field: (term bytes, frequency, weight, encoded value)
#: for each distinct term, as Whoosh's ``Field.index`` yields them.
AnalysedTerms = list[tuple[bytes, int, float, bytes]]


def index_codec() -> W3Codec:
    """The codec every index is written with: Whoosh's W3 codec, short posting lists inlined."""
    return _InliningCodec()


def keeps_positions(field) -> bool | None:
    """True for Whoosh's Positions format, False for its Frequency format, None for any other."""
    kind = type(field.format)
    return True if kind is Positions else False if kind is Frequency else None


def frequency_value(frequency: int) -> bytes:
    """A posting's value in the Frequency format."""
    return pack_uint(frequency)


def positions_value(positions: list[int]) -> bytes:
    """A posting's value in the Positions format."""
    return _POSITIONS.encode(positions)


class SegmentBuilder(SegmentWriter):
    """Whoosh's SegmentWriter, taking analysed documents, grouping postings per term in memory.

    Whoosh's own pool keeps one tuple per posting, pickles runs of them to temporary files and
    merges them at commit; here postings arrive in document order, so grouping them per term keeps
    each group sorted, only distinct terms are sorted and nothing is pickled (``postings`` counts
    them, for the caller's memory budget). At commit, field lengths of the documents added here
    are answered from memory rather than by seeking in the column file just written: a quarter of
    the commit time.
    """

    def __init__(self, ix) -> None:
        super().__init__(ix, codec=index_codec())
        self.pool.cleanup()
        self.pool = _GroupedPostings()
        #: field → docnum → the length a reader of this segment will report
        self._lengths: dict[str, dict[int, int | None]] = defaultdict(dict)
        #: write part of the term table's posting lists in a forked process at commit (the caller
        #: knows a second core is free and forking is safe: ``index_builder.writer.can_fork_worker``)
        self.fork_commit = False
        #: where the segment's grouped postings go once written (a full build's search pack reads them from
        #: memory rather than back from the files), or None
        self.written: WrittenPostings | None = None

    @property
    def postings(self) -> int:
        return self.pool.count

    def add_analysed(
        self, fields: dict, analysed: dict[str, AnalysedTerms], shared: dict[bytes, bytes] | None = None
    ) -> None:
        """SegmentWriter.add_document, taking the analysed terms of the fields in ``analysed`` as given.

        ``shared``: values to store as these objects when equal (Whoosh's pickles of posting values
        depend on which of them are one object).
        """
        self._check_state()
        perdocwriter, schema, docnum, pool = self.perdocwriter, self.schema, self.docnum, self.pool
        terms = pool.terms
        shared_value = shared.get if shared is not None else None
        perdocwriter.start_doc(docnum)
        try:
            for fieldname in sorted(fields):
                value = fields[fieldname]
                field = schema[fieldname]
                length = 0
                if field.indexed:
                    if fieldname in analysed:
                        items, share = analysed[fieldname], shared_value
                    else:  # Whoosh's own analysis: its values are never shared
                        items, share = list(field.index(value)), None
                    if share is None:
                        for tbytes, freq, weight, vbytes in items:  # _GroupedPostings.add, inlined
                            length += freq
                            terms[(fieldname, tbytes)].extend((docnum, weight, vbytes))
                    else:
                        for tbytes, freq, weight, vbytes in items:
                            length += freq
                            terms[(fieldname, tbytes)].extend((docnum, weight, share(vbytes, vbytes)))
                    pool.count += len(items)
                    if not field.scorable:
                        length = 0
                    self._lengths[fieldname][docnum] = byte_to_length(length_to_byte(length)) if length else None
                perdocwriter.add_field(fieldname, field, value if field.stored else None, length)
                column = field.column_type
                if column and value is not None:
                    perdocwriter.add_column_value(fieldname, column, field.to_column_value(value))
        except Exception:
            perdocwriter.cancel_doc()
            raise
        perdocwriter.finish_doc()
        self._added = True
        self.docnum += 1

    def _flush_segment(self) -> None:
        """SegmentWriter._flush_segment, with the lengths of the documents added here known in memory."""
        self.perdocwriter.close()
        reader = self.per_document_reader() if self.codec.length_stats else None
        lengths = _KnownLengths(self._lengths, reader) if reader is not None else None
        if lengths is not None and _writes_w3_postings(self.fieldwriter):
            # a forked process may only read lengths from memory (the column file's handle is shared)
            fork = self.fork_commit and not self.pool.foreign
            _W3TermWriter(self.fieldwriter, self.schema, lengths).write(self.pool.terms, fork=fork)
        else:
            self.fieldwriter.add_postings(self.schema, lengths, self.pool.iter_postings())
        self.fieldwriter.close()
        if reader is not None:
            reader.close()
        if self.written is not None:  # handed over: the pool's cleanup at the segment's close empties its own
            self.written.add_segment(self.newsegment.segment_id(), self.docnum, self.pool.terms)
            self.pool.terms = defaultdict(list)


class _GroupedPostings:
    """Postings grouped by (field, term), in place of Whoosh's sorting pool (see SegmentBuilder)."""

    def __init__(self) -> None:
        self.terms: dict[tuple[str, bytes], list] = defaultdict(list)
        self.count = 0
        #: whether Whoosh's own paths added postings (their talks' lengths are not in memory)
        self.foreign = False

    def add(self, item: tuple) -> None:
        """One posting (fieldname, term bytes, docnum, weight, value), as Whoosh's own paths and merges add them."""
        fieldname, tbytes, docnum, weight, vbytes = item
        self.foreign = True
        # merging an inlined posting list of a field without values, Whoosh's ListMatcher answers "" (a str)
        self.terms[(fieldname, tbytes)].extend((docnum, weight, vbytes or b""))
        self.count += 1

    def iter_postings(self) -> Iterator[tuple]:
        terms = self.terms
        for key in sorted(terms):
            fieldname, tbytes = key
            flat = terms[key]
            for i in range(0, len(flat), 3):
                yield fieldname, tbytes, flat[i], flat[i + 1], flat[i + 2]

    def cleanup(self) -> None:
        self.terms.clear()
        self.count = 0
        self.foreign = False


class WrittenPostings:
    """The grouped postings of the segments a full write committed, in order: the term tables just written,
    for a search pack to read from memory instead of unpickling them back (``field_postings``).

    They are what ``IndexFiles.field_postings`` reads from those segments, so only an index that is exactly
    these segments (``matches``: same segment names and sizes, nothing deleted) may be read from here.
    ``drop`` forgets them (the caller's memory budget); each field's postings are let go once read.
    """

    def __init__(self) -> None:
        #: (segment name, first doc number, doc count, grouped postings) of each committed segment
        self.segments: list[tuple[str, int, int, dict[tuple[str, bytes], list]]] = []
        self.postings = 0
        self.dropped = False
        #: per segment, its term keys of each field in order (made at the first ``field_postings``)
        self._keys: list[dict[str, list[tuple[str, bytes]]]] | None = None

    def add_segment(self, segment_id: str, doc_count: int, terms: dict[tuple[str, bytes], list]) -> None:
        if self.dropped:
            return
        first = self.segments[-1][1] + self.segments[-1][2] if self.segments else 0
        self.segments.append((segment_id, first, doc_count, terms))
        self.postings += sum(map(len, terms.values())) // 3

    def drop(self) -> None:
        self.segments.clear()
        self._keys = None
        self.postings = 0
        self.dropped = True

    def matches(self, segment_ids: list[str], segment_ranges: list[tuple[int, int]], deleted: frozenset) -> bool:
        """Whether an index of these segments (``IndexFiles``' answers) is exactly the one written."""
        written = [(name, (first, count)) for name, first, count, _ in self.segments]
        return not self.dropped and not deleted and written == list(zip(segment_ids, segment_ranges, strict=True))

    def field_postings(
        self, fieldname: str, keeps_positions: bool
    ) -> Iterator[tuple[str, list[int], list[int], list[float], list[int]]]:
        """``IndexFiles.field_postings(fieldname)`` of the written segments, from memory: the same tuples
        (frequencies as the term table's 32-bit floats, positions as its non-empty values decode)."""
        if self._keys is None:  # each segment's terms sorted once, by field
            self._keys = []
            for _, _, _, terms in self.segments:
                by_field: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
                for key in sorted(terms):
                    by_field[key[0]].append(key)
                self._keys.append(by_field)
        streams = [
            self._segment_postings(terms, self._keys[n].pop(fieldname, []), n, first, keeps_positions)
            for n, (_, first, _, terms) in enumerate(self.segments)
        ]
        yield from merged_postings(streams, len(self.segments), keeps_positions)

    @staticmethod
    def _segment_postings(
        terms: dict[tuple[str, bytes], list], keys: list[tuple[str, bytes]], n: int, first: int, keeps_positions: bool
    ) -> Iterator[tuple]:
        for key in keys:
            flat = terms.pop(key)
            ids = [d + first for d in flat[0::3]] if first else flat[0::3]
            values = [v for v in flat[2::3] if v] if keeps_positions else ()
            yield key[1], n, len(ids), ids, array("f", flat[1::3]).tolist(), values


def _writes_w3_postings(fieldwriter) -> bool:
    """Whether ``fieldwriter`` is the W3 field writer ``_W3TermWriter`` reproduces, with our codec's limits."""
    codec = getattr(fieldwriter, "_codec", None)
    return (
        type(fieldwriter) is W3FieldWriter
        and isinstance(codec, _InliningCodec)
        and (codec._blocklimit, codec._compression, codec._inlinelimit)
        == (_BLOCK_POSTINGS, _COMPRESSION, INLINE_POSTINGS)
        and hasattr(fieldwriter, "_tindex")
        and hasattr(fieldwriter, "_postfile")
        and hasattr(fieldwriter, "_fieldmap")
    )


#: The W3 codec's defaults, which ``_InliningCodec`` keeps: postings per block, zlib level of a block.
_BLOCK_POSTINGS = 128
_COMPRESSION = 3


class _W3TermWriter:
    """Whoosh's ``FieldWriter.add_postings`` over the W3 codec, a term at a time instead of a posting at a time.

    Whoosh's writer makes about ten Python calls per posting (``add_posting``, type asserts, block
    statistics, the field length of each posting's talk): half of a full build. This writes the same
    bytes, term info by term info and block by block, from each term's grouped postings with slices
    and C-level ``min``/``max``/``sum``; ``tests/test_builder_writer.py`` checks that the segment files
    are byte for byte those Whoosh's own writer makes.
    """

    _terminfo = W3TermInfo._struct

    def __init__(self, fieldwriter, schema, lengths: _KnownLengths) -> None:
        self.tindex = fieldwriter._tindex
        self.postfile = fieldwriter._postfile
        self.fieldmap = fieldwriter._fieldmap
        self.schema = schema
        self.lengths = lengths

    def write(self, terms: dict[tuple[str, bytes], list], *, fork: bool = False) -> None:
        """Write every term; ``fork``: the values of the last ``_FORKED_SHARE`` of the postings are made by a
        forked process meanwhile (the same bytes: their block offsets are moved to where they land)."""
        keys = sorted(terms)
        for fieldname in dict.fromkeys(key[0] for key in keys):  # field ids in the order the terms name them
            self.fieldmap.setdefault(fieldname, len(self.fieldmap))
        split = _split_point(keys, terms) if fork else len(keys)
        helper = None
        if split < len(keys):
            helper = ForkedCall(_forked_terms, self, keys[split:], terms, name="term-writing")
        add = _add_terms if _is_w3_term_table(self.tindex) else _add_terms_one_by_one
        add(self.tindex, self._values(keys[:split], terms, self.postfile))
        if helper is None:
            return
        forked = helper.result()
        if forked is None:  # the process failed: its terms are written here
            add(self.tindex, self._values(keys[split:], terms, self.postfile))
            return
        values, blocks = forked
        base = self.postfile.tell()
        self.postfile.write(blocks)
        prefixes = {name: pack_ushort(fieldid) for name, fieldid in self.fieldmap.items()}
        moved = (
            (prefixes[fieldname] + tbytes, value if value[0] else _moved(value, base))
            for (fieldname, tbytes), value in zip(keys[split:], values, strict=True)
        )
        add(self.tindex, moved)

    def _values(self, keys: list, terms: dict[tuple[str, bytes], list], postfile) -> Iterator[tuple[bytes, bytes]]:
        """(term table key, term info) of each of ``keys`` in order, their posting blocks written to ``postfile``."""
        fieldmap = self.fieldmap
        lastfield = None
        for key in keys:
            fieldname, tbytes = key
            if fieldname != lastfield:
                lastfield = fieldname
                prefix = pack_ushort(fieldmap[fieldname])
                fixed_size = self.schema[fieldname].format.fixed_value_size()
                known = self.lengths.known.get(fieldname)
            flat = terms[key]
            ids = flat[0::3]
            lengths = None
            if known is not None:
                try:
                    lengths = list(map(known.__getitem__, ids))
                except KeyError:  # a talk added by Whoosh's own paths
                    lengths = None
            if lengths is None:
                dfl = self.lengths.doc_field_length
                lengths = [dfl(docnum, fieldname) for docnum in ids]
            yield prefix + tbytes, self._term(postfile, ids, flat[1::3], flat[2::3], lengths, fixed_size)

    def _term(self, postfile, ids: list, weights: list, values: list, lengths: list, fixed_size: int | None) -> bytes:
        """A term's value in the term table, its blocks written to ``postfile`` unless inlined."""
        count = len(ids)
        byte = _LENGTH_BYTES
        if count == 1:  # a term of one talk (most of them): what the lines below give for one posting
            weight, value, length = weights[0], values[0], lengths[0]
            frequency = array("f", weights)[0]
            inlined = ((ids[0],), (frequency,), (value,) if value else ())
            return self._terminfo.pack(
                True,
                frequency,
                1,
                byte[length] if length else 0,
                byte[length] if length else byte[0],
                weight if weight > 0 else 0,
                ids[0],
                ids[0],
            ) + dumps(inlined, 2)
        if count < INLINE_POSTINGS:
            floats = array("f", weights)
            minlength, maxlength = _length_range(lengths)
            inlined = (tuple(ids), tuple(floats), tuple(v for v in values if v))
            return self._terminfo.pack(
                True,
                sum(floats),
                count,
                0 if minlength is None else byte[minlength],
                byte[maxlength],
                _max_weight(weights),
                ids[0],
                ids[-1],
            ) + dumps(inlined, 2)
        start = postfile.tell()
        out = [WHOOSH3_HEADER_MAGIC]
        total_weight, minlength, maxlength, maxweight = 0, None, 0, 0
        for first in range(0, count, _BLOCK_POSTINGS):
            end = first + _BLOCK_POSTINGS
            block_ids, block_weights = ids[first:end], weights[first:end]
            floats = array("f", block_weights)
            block_min, block_max = _length_range(lengths[first:end])
            block_maxweight = _max_weight(block_weights)
            total_weight += sum(floats)
            if minlength is None:
                minlength = block_min
            elif block_min is not None:
                minlength = min(minlength, block_min)
            maxlength = max(maxlength, block_max)
            maxweight = max(maxweight, block_maxweight)
            block_values = [v for v in values[first:end] if v]
            data = (tuple(_deltas(block_ids)), _mini_weights(floats), _mini_values(block_values, fixed_size))
            databytes = zlib.compress(dumps(data, 2), _COMPRESSION)
            info = dumps(
                (
                    len(block_ids),
                    block_ids[-1],
                    block_maxweight,
                    _COMPRESSION,
                    length_to_byte(block_min),
                    length_to_byte(block_max),
                ),
                2,
            )
            size = len(info) + len(databytes)
            out.append(pack_int(-size if end >= count else size))
            out.append(info)
            out.append(databytes)
        postfile.write(b"".join(out))
        return (
            self._terminfo.pack(
                False,
                total_weight,
                count,
                0 if minlength is None else length_to_byte(minlength),
                length_to_byte(maxlength),
                maxweight,
                ids[0],
                ids[-1],
            )
            + pack_long(start)
            + pack_int(postfile.tell() - start)
        )


#: Term table entries joined into one write by ``_add_terms``.
_TERMS_PER_WRITE = 4096


def _is_w3_term_table(table) -> bool:
    """Whether ``table`` is Whoosh's ordered hash file with MD5 hashes, whose ``add`` ``_add_terms`` reproduces."""
    return (
        type(table) is OrderedHashWriter
        and table.hashtype == 0
        and all(hasattr(table, name) for name in ("dbfile", "buckets", "index", "lastkey"))
    )


def _add_terms(table: OrderedHashWriter, items: Iterator[tuple[bytes, bytes]]) -> None:
    """``table.add(key, value)`` for each item in order, the same bytes and hash slots, a few thousand per write:
    Whoosh's ``add`` makes five Python calls per term (a tenth of the commit at 312,874 terms)."""
    dbfile = table.dbfile
    position = dbfile.tell()
    lastkey, buckets, remember = table.lastkey, table.buckets, table.index.append
    pack_lengths = _lengths.pack
    out: list[bytes] = []
    for key, value in items:
        if key <= lastkey:
            raise ValueError(f"Keys must increase: {lastkey!r}..{key!r}")
        remember(position)
        # Whoosh's md5_hash: the digest's low 32 bits
        h = int.from_bytes(md5(key, usedforsecurity=False).digest()[12:], "big")
        buckets[h & 255].append((h, position))
        out += (pack_lengths(len(key), len(value)), key, value)
        position += 8 + len(key) + len(value)
        lastkey = key
        if len(out) >= 3 * _TERMS_PER_WRITE:
            dbfile.write(b"".join(out))
            out.clear()
    dbfile.write(b"".join(out))
    table.lastkey = lastkey


def _add_terms_one_by_one(table, items: Iterator[tuple[bytes, bytes]]) -> None:
    """Whoosh's own ``add`` per term, for a term table ``_add_terms`` does not know."""
    for key, value in items:
        table.add(key, value)


class _LengthBytes(dict):
    """Whoosh's ``length_to_byte`` of each field length asked, computed once (the lengths are few: quantised)."""

    def __missing__(self, length: int) -> int:
        value = self[length] = length_to_byte(length)
        return value


_LENGTH_BYTES = _LengthBytes()


#: The share of a segment's postings whose term infos and blocks a forked process makes at commit. More
#: than half: this process also adds all of them to the term table, about a quarter of a term's cost.
_FORKED_SHARE = 0.65


def _split_point(keys: list, terms: dict[tuple[str, bytes], list]) -> int:
    """The first of the sorted ``keys`` the forked process writes: it gets ``_FORKED_SHARE`` of the work, counted
    as each term's postings plus a few for the term itself."""
    total = sum(len(flat) for flat in terms.values()) // 3 + 4 * len(keys)
    wanted, done = total * (1 - _FORKED_SHARE), 0
    for n, key in enumerate(keys):
        if done >= wanted:
            return n
        done += len(terms[key]) // 3 + 4
    return len(keys)


def _moved(value: bytes, base: int) -> bytes:
    """A term info whose posting blocks were written at offset ``start`` of a buffer, now at ``base + start``."""
    return value[:-12] + pack_long(unpack_long(value[-12:-4])[0] + base) + value[-4:]


def _forked_terms(writer: _W3TermWriter, keys: list, terms: dict[tuple[str, bytes], list]) -> tuple[list[bytes], bytes]:
    """The term infos and posting blocks of ``keys``, made by a forked process (``ForkedCall``) while this one
    writes the others: its blocks go to a buffer starting at 0, moved to where they land by ``write``."""
    buffer = io.BytesIO()
    values = [value for _, value in writer._values(keys, terms, buffer)]
    return values, buffer.getvalue()


def _length_range(lengths: list) -> tuple[int | None, int]:
    """A block's shortest and longest field length, as W3PostingsWriter counts them (0 and None ignored)."""
    present = [n for n in lengths if n]
    return (min(present), max(present)) if present else (None, 0)


def _max_weight(weights: list) -> float:
    best = max(weights)
    return best if best > 0 else 0


def _deltas(ids: list) -> list:
    return [ids[0], *map(sub, ids[1:], ids)]


def _mini_weights(floats: array):
    """W3PostingsWriter._mini_weights: None when every weight is 1, one weight when all are equal."""
    first = floats[0]
    if first == 1.0 and floats.count(first) == len(floats):
        return None
    if floats.count(first) == len(floats):
        return first
    return tuple(floats)


def _mini_values(values: list, fixed_size: int | None):
    """W3PostingsWriter._mini_values."""
    if fixed_size is None or fixed_size < 0:
        return tuple(values)
    if fixed_size == 0:
        return None
    return b"".join(values)


class _KnownLengths:
    """The per-document reader Whoosh's field writer asks for lengths, answering added documents from memory."""

    def __init__(self, known: dict[str, dict[int, int | None]], reader) -> None:
        self.known = known
        self.reader = reader

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> int | None:
        lengths = self.known.get(fieldname)
        if lengths is not None and docnum in lengths:
            return lengths[docnum]
        return self.reader.doc_field_length(docnum, fieldname, default)


class _InlinableTermInfo(W3TermInfo):
    # Whoosh's postings writer inlines short posting lists with ``terminfo.set_inline``, a method
    # W3TermInfo names ``set_inlined`` (its readers handle inlined postings)
    set_inline = W3TermInfo.set_inlined


class _InliningPostingsWriter(W3PostingsWriter):
    def start_postings(self, format_, terminfo) -> None:
        super().start_postings(format_, _InlinableTermInfo())  # in place of the fresh W3TermInfo given


class _InliningCodec(W3Codec):
    """Whoosh's W3 codec, inlining posting lists of fewer than INLINE_POSTINGS talks.

    It pickles as Whoosh's own W3Codec: the table of contents names Whoosh's classes only, so
    readers need nothing of ours and ``inlinelimit`` is all that differs from the default codec.
    """

    def __init__(self) -> None:
        super().__init__(inlinelimit=INLINE_POSTINGS)

    def postings_writer(self, dbfile, byteids: bool = False) -> W3PostingsWriter:
        return _InliningPostingsWriter(
            dbfile, self._blocklimit, byteids=byteids, compression=self._compression, inlinelimit=self._inlinelimit
        )

    def __reduce__(self):
        return W3Codec, (self._blocklimit, self._compression, self._inlinelimit)
