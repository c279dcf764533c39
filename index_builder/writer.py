"""Talk records → a Whoosh index directory: full writes and in-place incremental updates.

This module and talksearch.schema are the only places the builder touches Whoosh.

Speed: Whoosh analyses each text field on its own, so a summary would be tokenised, folded
and filtered three times (French stems, English stems, unstemmed words), one generator step
per token and filter. ``FastAnalysis`` tokenises and folds each text once, with memoised
folding and stemming, and hands Whoosh the same (term, frequency, weight, positions) items
its own analyzers produce (Whoosh lets a writer supply them). It is checked against Whoosh's
own analysis on the first documents of every write and switched off on any difference, and
a test compares both paths term by term.
"""

from __future__ import annotations

import logging
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec, W3TermInfo
from whoosh.formats import Frequency, Positions
from whoosh.lang import stemmer_for_language
from whoosh.system import pack_uint
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import SegmentWriter

from talksearch.schema import STOP_WORDS, Talk, build_schema, fold, talk_to_document

logger = logging.getLogger(__name__)

#: Memory for Whoosh's posting pool: big enough that a 20k-talk corpus is sorted in one run
#: (fewer temp files and merges), small enough for a 1 GB Lambda.
WRITER_LIMIT_MB = 256
#: Terms in fewer talks than this keep their postings in their term table entry rather than in a
#: posting block of their own (about 60 bytes of block header and zlib stream each): most terms are
#: in one or two talks, and inlining them took the 21.7k-talk artifact from 52.4 to 50.6 MB (level 1).
INLINE_POSTINGS = 8

if not hasattr(W3TermInfo, "set_inline"):
    # Whoosh's postings writer inlines short posting lists with ``terminfo.set_inline``, a method
    # W3TermInfo names ``set_inlined``: the alias makes ``inlinelimit`` work (readers already handle it)
    W3TermInfo.set_inline = W3TermInfo.set_inlined


def index_codec() -> W3Codec:
    """Whoosh's default codec, inlining short posting lists (it is pickled in the index: Whoosh's class only)."""
    return W3Codec(inlinelimit=INLINE_POSTINGS)


def write_index(
    talks: Iterable[Talk], directory: str | os.PathLike, *, progress: Callable[[int], None] | None = None
) -> None:
    """Create a new index in ``directory`` (created if needed, must not hold an index) with these talks."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    ix = whoosh_index.create_in(str(path), build_schema())
    writer = TalkWriter(ix, limitmb=WRITER_LIMIT_MB)
    try:
        _add(writer, talks, progress)
    except BaseException:
        writer.cancel()
        raise
    writer.commit()


def update_index(
    directory: str | os.PathLike,
    *,
    remove_ids: Iterable[str],
    add: Iterable[Talk],
    progress: Callable[[int], None] | None = None,
) -> None:
    """Delete talks by id and add new ones in an existing index (one new small segment)."""
    ix = whoosh_index.open_dir(str(directory))
    writer = TalkWriter(ix, limitmb=WRITER_LIMIT_MB)
    try:
        for talk_id in remove_ids:
            writer.delete_by_term("id", talk_id)
        _add(writer, add, progress)
    except BaseException:
        writer.cancel()
        raise
    writer.commit()


def _add(writer: TalkWriter, talks: Iterable[Talk], progress: Callable[[int], None] | None) -> None:
    for n, talk in enumerate(talks, 1):
        writer.add_talk(talk)
        if progress is not None and n % 500 == 0:
            progress(n)


#: How talksearch.schema analyses each text field: tokens stemmed in French or English, folded
#: only (stop words dropped), or names (nothing dropped). Fields not listed use Whoosh's path.
FIELD_ANALYSIS = {
    "title": "fr",
    "summary": "fr",
    "title_en": "en",
    "summary_en": "en",
    "words": "folded",
    "tags": "folded",
    "speakers": "names",
    "company": "names",
    "event": "names",
}
#: The fields ``talk_to_document`` joins into ``words``, in order.
WORDS_PARTS = ("title", "speakers", "company", "event", "tags", "summary")
_TOKEN = re.compile(r"\w+")  # the schema's RegexTokenizer expression
_POSITIONS = Positions()


_WEIGHTS = [float(n) for n in range(256)]


def _weight(frequency: int) -> float:
    """Whoosh's weight for a term frequency, sharing the float objects of small counts."""
    return _WEIGHTS[frequency] if frequency < 256 else float(frequency)


class FastAnalysis:
    """The schema's analysis of one text, computed once for all the fields that share it."""

    def __init__(self) -> None:
        self._folded: dict[str, str] = {}
        self._stems: dict[str, dict[str, str]] = {"fr": {}, "en": {}}
        self._stemmers = {"fr": stemmer_for_language("fr"), "en": stemmer_for_language("en")}
        self._single_positions: dict[int, bytes] = {}

    def folded_tokens(self, text: str) -> list[str]:
        folded = self._folded
        out = []
        for raw in _TOKEN.findall(text):
            token = folded.get(raw)
            if token is None:
                token = folded[raw] = fold(raw)
            out.append(token)
        return out

    def items(self, kind: str, tokens: list[str], positions: bool) -> list[tuple[bytes, int, float, bytes]]:
        """(term bytes, frequency, weight, encoded value) per distinct term, as Field.index yields them.

        ``positions``: the field's format keeps word positions (phrase=True); else only frequencies.
        """
        terms: list[str]
        if kind == "names":
            terms = tokens
        elif kind == "folded":
            terms = ["" if token in STOP_WORDS else token for token in tokens]
        else:
            stems, stem = self._stems[kind], self._stemmers[kind]
            terms = []
            for token in tokens:
                if token in STOP_WORDS:
                    # positions are not renumbered: phrases never match across a removed word
                    terms.append("")
                    continue
                stemmed = stems.get(token)
                if stemmed is None:
                    stemmed = stems[token] = stem(token)
                terms.append(stemmed)
        if not positions:  # Frequency format
            counts: dict[str, int] = defaultdict(int)
            for term in terms:
                counts[term] += 1
            counts.pop("", None)
            return [(t.encode("utf-8"), n, _weight(n), pack_uint(n)) for t, n in counts.items()]
        where_found: dict[str, list[int]] = defaultdict(list)
        for pos, term in enumerate(terms):
            where_found[term].append(pos)
        where_found.pop("", None)
        encode, single = _POSITIONS.encode, self._single_positions
        out = []
        for term, where in where_found.items():
            if len(where) == 1:  # most terms occur once in a text: their encoding depends only on the position
                value = single.get(where[0])
                if value is None:
                    value = single[where[0]] = encode(where)
                out.append((term.encode("utf-8"), 1, 1.0, value))
            else:
                out.append((term.encode("utf-8"), len(where), _weight(len(where)), encode(where)))
        return out


class TalkWriter(SegmentWriter):
    """A SegmentWriter that adds Talk records, analysing each text once (see the module docstring)."""

    #: Documents whose fast analysis is compared with Whoosh's own before it is trusted.
    VERIFY_DOCUMENTS = 25

    def __init__(self, ix, **kwargs) -> None:
        super().__init__(ix, codec=index_codec(), **kwargs)
        self.pool.cleanup()
        self.pool = GroupedPostingPool()
        self.analysis = FastAnalysis()
        self.fast = all(name in self.schema for name in FIELD_ANALYSIS)
        #: field -> whether its format keeps positions (else it must be Whoosh's Frequency format)
        self._positions = {name: _keeps_positions(self.schema[name]) for name in FIELD_ANALYSIS if self.fast}
        self.fast = self.fast and None not in self._positions.values()
        self._verify_left = self.VERIFY_DOCUMENTS
        #: field → docnum → the length a reader of this segment would report (see _flush_segment)
        self._lengths: dict[str, dict[int, int | None]] = defaultdict(dict)

    def add_talk(self, talk: Talk) -> None:
        fields = talk_to_document(talk)
        if not self.fast:
            self.add_document(**fields)
            return
        prepared = self._prepare(fields)
        if self._verify_left > 0:
            self._verify_left -= 1
            if not self._matches_whoosh(fields, prepared):
                logger.warning("fast analysis differs from the schema's analyzers; using Whoosh's (slower) path")
                self.fast = False
                self.add_document(**fields)
                return
        self._add_prepared(fields, prepared)

    def _prepare(self, fields: dict) -> dict[str, list[tuple[bytes, int, float, bytes]]]:
        tokens: dict[str, list[str]] = {}
        for name in FIELD_ANALYSIS:
            value = fields.get(name)
            if value is not None and value not in tokens and name != "words":
                tokens[value] = self.analysis.folded_tokens(value)
        words = fields.get("words")
        if words is not None and words not in tokens:
            # ``words`` joins the other fields with newlines, which never occur inside a token:
            # its tokens are theirs, concatenated (positions do not matter, it has none)
            parts = [fields.get(name, "") for name in WORDS_PARTS]
            if words == "\n".join(parts):
                tokens[words] = [t for part in parts if part for t in tokens[part]]
            else:
                tokens[words] = self.analysis.folded_tokens(words)
        return {
            name: self.analysis.items(kind, tokens[fields[name]], self._positions[name])
            for name, kind in FIELD_ANALYSIS.items()
            if fields.get(name) is not None
        }

    def _matches_whoosh(self, fields: dict, prepared: dict) -> bool:
        return all(sorted(items) == sorted(self.schema[name].index(fields[name])) for name, items in prepared.items())

    def _add_prepared(self, fields: dict, prepared: dict) -> None:
        """SegmentWriter.add_document, taking the analysed items of the fast fields from ``prepared``."""
        self._check_state()
        perdocwriter = self.perdocwriter
        schema = self.schema
        docnum = self.docnum
        terms = self.pool.terms
        perdocwriter.start_doc(docnum)
        try:
            for fieldname in sorted(fields):
                value = fields[fieldname]
                field = schema[fieldname]
                length = 0
                if field.indexed:
                    items = prepared[fieldname] if fieldname in prepared else field.index(value)
                    for tbytes, freq, weight, vbytes in items:  # GroupedPostingPool.add, inlined
                        length += freq
                        terms[(fieldname, tbytes)].extend((docnum, weight, vbytes))
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
        """SegmentWriter._flush_segment, answering field lengths of our documents from memory.

        Whoosh looks up the document's field length for every posting it writes, by seeking in
        the column file it has just written: a quarter of the commit time. Documents merged in
        from older segments still go to that reader.
        """
        self.perdocwriter.close()
        reader = self.per_document_reader() if self.codec.length_stats else None
        lengths = _KnownLengths(self._lengths, reader) if reader is not None else None
        self.fieldwriter.add_postings(self.schema, lengths, self.pool.iter_postings())
        self.fieldwriter.close()
        if reader is not None:
            reader.close()


def _keeps_positions(field) -> bool | None:
    """True for Whoosh's Positions format, False for its Frequency format, None for any other (not handled)."""
    kind = type(field.format)
    return True if kind is Positions else False if kind is Frequency else None


class GroupedPostingPool:
    """Postings grouped by (field, term) in memory, in place of Whoosh's sorting pool.

    Whoosh's pool keeps one tuple per posting, pickles runs of them to temp files when its
    budget is spent, then sorts and merges all of them at commit. Postings arrive in document
    order, so grouping them by term keeps each group sorted: only the distinct terms need
    sorting, nothing is pickled, and memory is about half.
    """

    def __init__(self) -> None:
        self.terms: dict[tuple[str, bytes], list] = defaultdict(list)

    def add(self, item: tuple) -> None:
        """One posting (fieldname, term bytes, docnum, weight, value), as Whoosh's merges add them."""
        fieldname, tbytes, docnum, weight, vbytes = item
        self.terms[(fieldname, tbytes)].extend((docnum, weight, vbytes))

    def iter_postings(self) -> Iterator[tuple]:
        terms = self.terms
        for key in sorted(terms):
            fieldname, tbytes = key
            flat = terms[key]
            for i in range(0, len(flat), 3):
                yield fieldname, tbytes, flat[i], flat[i + 1], flat[i + 2]

    def cleanup(self) -> None:
        self.terms.clear()


class _KnownLengths:
    def __init__(self, known: dict[str, dict[int, int | None]], reader) -> None:
        self.known = known
        self.reader = reader

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> int | None:
        lengths = self.known.get(fieldname)
        if lengths is not None and docnum in lengths:
            return lengths[docnum]
        return self.reader.doc_field_length(docnum, fieldname, default)


def indexed_ids(directory: str | os.PathLike) -> set[str]:
    """Every talk id in an index (for checks after an incremental update)."""
    ix = whoosh_index.open_dir(str(directory))
    with ix.searcher() as searcher:
        return {fields["id"] for fields in searcher.all_stored_fields()}
