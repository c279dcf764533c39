"""Writing an index: the builder's segments, from analysed documents, with Whoosh's W3 codec.

Whoosh's own SegmentWriter does the writing; what differs (see the package docstring) is where
postings wait until the commit, how field lengths are found then, and which posting lists are
inlined. Everything written is Whoosh's format, readable by Whoosh alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from whoosh.codec.whoosh3 import W3Codec, W3PostingsWriter, W3TermInfo
from whoosh.formats import Frequency, Positions
from whoosh.system import pack_uint
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import SegmentWriter

__all__ = [
    "INLINE_POSTINGS",
    "AnalysedTerms",
    "SegmentBuilder",
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

    @property
    def postings(self) -> int:
        return self.pool.count

    def add_analysed(self, fields: dict, analysed: dict[str, AnalysedTerms]) -> None:
        """SegmentWriter.add_document, taking the analysed terms of the fields in ``analysed`` as given."""
        self._check_state()
        perdocwriter, schema, docnum, pool = self.perdocwriter, self.schema, self.docnum, self.pool
        terms = pool.terms
        perdocwriter.start_doc(docnum)
        try:
            for fieldname in sorted(fields):
                value = fields[fieldname]
                field = schema[fieldname]
                length = 0
                if field.indexed:
                    items = analysed[fieldname] if fieldname in analysed else list(field.index(value))
                    for tbytes, freq, weight, vbytes in items:  # _GroupedPostings.add, inlined
                        length += freq
                        terms[(fieldname, tbytes)].extend((docnum, weight, vbytes))
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
        self.fieldwriter.add_postings(self.schema, lengths, self.pool.iter_postings())
        self.fieldwriter.close()
        if reader is not None:
            reader.close()


class _GroupedPostings:
    """Postings grouped by (field, term), in place of Whoosh's sorting pool (see SegmentBuilder)."""

    def __init__(self) -> None:
        self.terms: dict[tuple[str, bytes], list] = defaultdict(list)
        self.count = 0

    def add(self, item: tuple) -> None:
        """One posting (fieldname, term bytes, docnum, weight, value), as Whoosh's own paths and merges add them."""
        fieldname, tbytes, docnum, weight, vbytes = item
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
