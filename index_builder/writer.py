"""Talk records → a Whoosh index directory: full writes and in-place incremental updates.

Speed: Whoosh analyses each text field on its own, so a summary would be tokenised, folded
and filtered three times (French stems, English stems, unstemmed words), one generator step
per token and filter. ``FastAnalysis`` tokenises and folds each text once, with memoised
folding and stemming, and hands the index the same (term, frequency, weight, positions) items
Whoosh's own analyzers produce. It is checked against Whoosh's own analysis on the first
documents of every write and switched off on any difference, and a test compares both paths
term by term. Everything that touches Whoosh's files is ``talksearch.index_files``.

Memory: the postings of the segment being written are held in memory until it is committed.
A full write commits a segment and starts the next one whenever POSTINGS_PER_SEGMENT is
reached, so memory stays bounded whatever the corpus size (docs/index-builder.md, Speed).
"""

from __future__ import annotations

import gc
import itertools
import logging
import multiprocessing
import os
import pickle
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from whoosh.analysis import IDTokenizer
from whoosh.fields import ID
from whoosh.formats import Existence

from talksearch.index_files import create_index, open_index
from talksearch.index_files.writing import (
    AnalysedTerms,
    SegmentBuilder,
    WrittenPostings,
    frequency_value,
    keeps_positions,
    positions_value,
)
from talksearch.schema import STEMMERS, STOP_WORDS, Talk, build_schema, fold, talk_to_document

logger = logging.getLogger(__name__)

#: Postings one segment holds in memory before it is written. Each costs about 60 bytes until then: the
#: full build of the 21.7k-talk corpus (3.95 million postings) peaks at 355 MB in one segment, 251 MB
#: with 2 million postings per segment, 186 MB with 1 million (docs/index-builder.md, Memory). A bigger
#: corpus gives several segments rather than more memory; that one fits in one.
POSTINGS_PER_SEGMENT = 6_000_000

#: A full write of at least this many talks is analysed in a second process when a second core is
#: free (``write_index``); below, starting the process costs more than it saves.
PARALLEL_MIN_TALKS = 2_000
#: Talks per message from the analysing process: large enough that a message costs little, small
#: enough that the writer starts at once and the pipe bounds how far the analysis runs ahead.
_ANALYSIS_BATCH = 200


def write_index(
    talks: Iterable[Talk],
    directory: str | os.PathLike,
    *,
    progress: Callable[[int], None] | None = None,
    postings_per_segment: int = POSTINGS_PER_SEGMENT,
    parallel: bool | None = None,
    kept_postings: int = POSTINGS_PER_SEGMENT,
) -> WrittenPostings:
    """Create a new index in ``directory`` (created if needed, must not hold an index) with these talks.

    Returns the segments' postings as written, for the search pack to read from memory (``write_pack``'s
    ``written``): kept while they and the segment being written hold at most ``kept_postings``, else dropped
    (memory stays that of one segment; the pack then reads the index files, to the same bytes).

    ``parallel``: analyse the talks in a second process while this one writes them, and write part of each
    segment's term table in one at its commit (the same index); by default when there are
    ``PARALLEL_MIN_TALKS`` talks and ``can_fork_worker()``.
    """
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    ix = create_index(path, build_schema())
    talks = list(talks)
    if parallel is None:
        parallel = len(talks) >= PARALLEL_MIN_TALKS and can_fork_worker()
    worker = _AnalysisWorker(talks) if parallel else None
    analysed = iter(worker) if worker is not None else itertools.repeat(None)
    shared = worker.shared if worker is not None else None
    written = WrittenPostings()
    writer = TalkWriter(ix, fork_commit=parallel, written=written)
    try:
        for n, (talk, terms) in enumerate(zip(talks, analysed, strict=False), 1):
            writer.add_talk(talk, terms, shared)
            if not written.dropped and written.postings + writer.postings > kept_postings:
                written.drop()
                writer.written = None
            if writer.postings >= postings_per_segment:
                writer.commit(merge=False)  # this segment's postings leave memory
                writer = TalkWriter(ix, fork_commit=parallel, written=None if written.dropped else written)
            if progress is not None and n % 500 == 0:
                progress(n)
    except BaseException:
        writer.cancel()
        raise
    finally:
        if worker is not None:
            worker.close()
    writer.commit(merge=False)
    return written


#: Lambda gives a function one vCPU's worth of time per 1,769 MB of memory (and 2 vCPUs from 1,769 MB).
LAMBDA_MB_PER_CORE = 1_769


def can_fork_worker() -> bool:
    """Whether a second process would get a core of its own (one is idle), and forking this process is safe.

    On Lambda (``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``) two processes need 3,538 MB: below, the two
    vCPUs share less than two cores' worth of time and the second process only adds its work. A
    process with other threads (the local stack's, a test's moto server) is never forked, since a
    lock another thread holds would stay held in the child.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return False
    lambda_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
    if lambda_mb.isdigit():
        cores = min(cores, int(lambda_mb) // LAMBDA_MB_PER_CORE)
    # a core kept busy by other work: the two processes would share one (measured: 12 % more CPU, no faster)
    free = os.getloadavg()[0] <= cores - 1
    return cores >= 2 and free and threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()


class _AnalysisWorker:
    """Each talk's analysed fields, in order, computed by a forked process (None: analyse it here).

    The child inherits the talks (nothing is sent to it) and sends back batches of plain tuples of
    bytes and numbers, pickled between our own two processes only. If it stops early, the rest are
    analysed here. ``shared`` makes the encoded values the sequential path shares (small
    frequencies, single positions) one object each here too, so that Whoosh pickles them the same
    way and the index files come out byte for byte the same.
    """

    def __init__(self, talks: list[Talk]) -> None:
        self.talks = talks
        self.shared: dict[bytes, bytes] = {value: value for value in FastAnalysis().frequencies}
        context = multiprocessing.get_context("fork")
        self._receive, send = context.Pipe(duplex=False)
        gc.freeze()  # the child's garbage collector then leaves the inherited objects' pages shared
        try:
            self._process = context.Process(target=_analyse_talks, args=(talks, send), name="analysis", daemon=True)
            self._process.start()
        finally:
            gc.unfreeze()
        send.close()

    def __iter__(self) -> Iterator[dict | None]:
        done, shared = 0, self.shared
        while done < len(self.talks):
            try:
                new_positions, batch = pickle.loads(self._receive.recv_bytes())
            except (EOFError, OSError):
                logger.warning("the analysing process stopped after %d talks; analysing the rest here", done)
                break
            for position in new_positions:
                value = positions_value([position])
                shared[value] = value
            done += len(batch)
            yield from batch
        yield from itertools.repeat(None, len(self.talks) - done)

    def close(self) -> None:
        """Stop the child (it has finished, unless the write failed) and wait for it."""
        self._receive.close()
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


def _analyse_talks(talks: list[Talk], send) -> None:
    """The analysing process: every talk's analysed fields, in batches, through ``send``.

    Each batch comes with the single positions first encoded for it (``_AnalysisWorker.shared``).
    """
    analysis = DocumentAnalysis(build_schema())
    known = 0
    with send:
        for first in range(0, len(talks), _ANALYSIS_BATCH):
            batch = [analysis.analyse(talk_to_document(talk)) for talk in talks[first : first + _ANALYSIS_BATCH]]
            single = analysis.words.single_positions
            new_positions = list(itertools.islice(single, known, None))
            known = len(single)
            send.send_bytes(pickle.dumps((new_positions, batch), pickle.HIGHEST_PROTOCOL))


def update_index(
    directory: str | os.PathLike,
    *,
    remove_ids: Iterable[str],
    add: Iterable[Talk],
) -> None:
    """Delete talks by id and add new ones in an existing index (one new small segment)."""
    writer = TalkWriter(open_index(directory))
    try:
        for talk_id in remove_ids:
            writer.delete_by_term("id", talk_id)
        for talk in add:
            writer.add_talk(talk)
    except BaseException:
        writer.cancel()
        raise
    writer.commit()


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


_WEIGHTS = [float(n) for n in range(256)]


def _weight(frequency: int) -> float:
    """Whoosh's weight for a term frequency, sharing the float objects of small counts."""
    return _WEIGHTS[frequency] if frequency < 256 else float(frequency)


class _Memo(dict):
    """A dict that computes a missing value once: lookups of known keys stay C-level ``dict`` lookups."""

    def __init__(self, compute: Callable[[str], object]) -> None:
        super().__init__()
        self._compute = compute

    def __missing__(self, key: str):
        value = self[key] = self._compute(key)
        return value


#: A text's folded words and where each occurs: word → its positions, in order.
WordPositions = dict[str, list[int]]
#: A text's (word, positions) pairs, stop words left out or not.
WordPairs = Iterable[tuple[str, list[int]]]


class FastAnalysis:
    """The schema's analysis of a talk's texts, computed once per text and once per distinct word.

    A text is tokenised and folded once into ``WordPositions``; every field built from it (French
    stems with positions, English stems with frequencies, unstemmed words) is then derived from its
    *distinct* words: a word is folded, tested against the stop list, stemmed in French and in
    English and UTF-8 encoded once per build (memoised), never per occurrence or per field.
    """

    def __init__(self) -> None:
        self._folded = _Memo(fold)
        self._bytes = _Memo(lambda word: word.encode("utf-8"))
        self._stems = {
            kind: _Memo(lambda word, stem=STEMMERS[kind]: stem(word).encode("utf-8")) for kind in ("fr", "en")
        }
        #: encoded values shared by many postings: single positions, small frequencies
        self.single_positions: dict[int, bytes] = {}
        self.frequencies = [frequency_value(n) for n in range(256)]
        #: (frequency, weight, encoded value) of the small frequencies, one tuple each
        self._small = [(n, _weight(n), value) for n, value in enumerate(self.frequencies)]

    def positions(self, text: str) -> WordPositions:
        where: WordPositions = defaultdict(list)
        for position, word in enumerate(map(self._folded.__getitem__, _TOKEN.findall(text))):
            where[word].append(position)
        where.pop("", None)
        return where

    @staticmethod
    def unstopped(where: WordPositions) -> list[tuple[str, list[int]]]:
        """A text's words but the stop words, with their positions: dropped without renumbering positions, so
        phrases never match across them (made once per text, for its French, English and ``words`` terms)."""
        return [(word, at) for word, at in where.items() if word not in STOP_WORDS]

    def items(self, kind: str, pairs: WordPairs, positions: bool) -> AnalysedTerms:
        """(term bytes, frequency, weight, encoded value) per distinct term, as Field.index yields them.

        ``pairs``: the text's words (``unstopped`` unless ``kind`` is "names"). ``positions``: the field's format
        keeps word positions (phrase=True); else only frequencies.
        """
        terms = self._bytes if kind in ("names", "folded") else self._stems[kind]
        if not positions:  # Frequency format
            counts: dict[bytes, int] = {}
            for word, at in pairs:
                term = terms[word]
                counts[term] = counts.get(term, 0) + len(at)
            return self._frequency_items(counts)
        grouped: dict[bytes, list[int]] = {}
        for word, at in pairs:
            term = terms[word]
            known = grouped.get(term)
            grouped[term] = at if known is None else sorted(known + at)  # two forms of one stem
        single = self.single_positions
        out = []
        for term, at in grouped.items():
            if len(at) == 1:  # most terms occur once in a text: their encoding depends only on the position
                value = single.get(at[0])
                if value is None:
                    value = single[at[0]] = positions_value(at)
                out.append((term, 1, 1.0, value))
            else:
                out.append((term, len(at), _weight(len(at)), positions_value(at)))
        return out

    def word_counts(self, parts: Iterable[WordPairs]) -> AnalysedTerms:
        """The Frequency items of the unstemmed words of several texts taken together (``words``), each given
        without its stop words (``unstopped``)."""
        counts: dict[bytes, int] = {}
        terms = self._bytes
        for pairs in parts:
            for word, at in pairs:
                term = terms[word]
                counts[term] = counts.get(term, 0) + len(at)
        return self._frequency_items(counts)

    def _frequency_items(self, counts: dict[bytes, int]) -> AnalysedTerms:
        small = self._small
        return [(t,) + small[n] if n < 256 else (t, n, float(n), frequency_value(n)) for t, n in counts.items()]


class DocumentAnalysis:
    """A document's analysed fields (``FIELD_ANALYSIS``), as the schema's analyzers would give them."""

    def __init__(self, schema) -> None:
        self.words = FastAnalysis()
        #: field -> whether its format keeps positions (else it is Whoosh's Frequency format)
        self.positions = {name: keeps_positions(schema[name]) for name in FIELD_ANALYSIS if name in schema}
        #: whether every analysed field is in the schema with a format this analysis produces
        self.usable = len(self.positions) == len(FIELD_ANALYSIS) and None not in self.positions.values()
        #: the fields Whoosh indexes whole (its ID fields: the value is the one term), with their weight
        self.whole = {name: schema[name].format.field_boost for name in schema.names() if _indexed_whole(schema[name])}

    def analyse(self, fields: dict) -> dict[str, AnalysedTerms]:
        analysis, positions = self.words, self.positions
        texts: dict[str, WordPositions] = {}
        for name in FIELD_ANALYSIS:
            value = fields.get(name)
            if value is not None and value not in texts and name != "words":
                texts[value] = analysis.positions(value)
        unstopped = {value: analysis.unstopped(where) for value, where in texts.items()}
        analysed = {
            name: analysis.items(kind, texts[value].items() if kind == "names" else unstopped[value], positions[name])
            for name, kind in FIELD_ANALYSIS.items()
            if name != "words" and (value := fields.get(name)) is not None
        }
        words = fields.get("words")
        if words is not None:
            # ``words`` joins the other fields with newlines, which never occur inside a token: its
            # words are theirs (it keeps frequencies only, so their positions do not matter)
            parts = [fields.get(name, "") for name in WORDS_PARTS]
            if words == "\n".join(parts) and not positions["words"]:
                analysed["words"] = analysis.word_counts(unstopped[part] for part in parts if part)
            else:
                where = analysis.positions(words)
                analysed["words"] = analysis.items("folded", analysis.unstopped(where), positions["words"])
        for name, weight in self.whole.items():
            value = fields.get(name)
            if type(value) is str:
                analysed[name] = [(value.encode("utf-8"), 1, weight, b"")]
        return analysed


def _indexed_whole(field) -> bool:
    """Whether Whoosh indexes this field's value as its one term (an ID field with its own tokenizer and format)."""
    return type(field) is ID and type(field.analyzer) is IDTokenizer and type(field.format) is Existence


class TalkWriter(SegmentBuilder):
    """Writes Talk records into one new segment, analysing each text once (see the module docstring)."""

    #: Documents whose fast analysis is compared with Whoosh's own before it is trusted.
    VERIFY_DOCUMENTS = 25

    def __init__(self, ix, *, fork_commit: bool = False, written: WrittenPostings | None = None) -> None:
        super().__init__(ix)
        self.fork_commit = fork_commit
        self.written = written
        self.analysis = DocumentAnalysis(self.schema)
        self.fast = self.analysis.usable
        self._verify_left = self.VERIFY_DOCUMENTS

    def add_talk(
        self, talk: Talk, analysed: dict[str, AnalysedTerms] | None = None, shared: dict[bytes, bytes] | None = None
    ) -> None:
        """Add one talk; ``analysed``: its fields as ``DocumentAnalysis.analyse`` gives them, if known, with the
        values to share (``_AnalysisWorker.shared``)."""
        fields = talk_to_document(talk)
        if not self.fast:
            self.add_document(**fields)
            return
        if analysed is None:  # analysed here; its shared values still become the ones given, where equal
            analysed = self.analysis.analyse(fields)
        if self._verify_left > 0:
            self._verify_left -= 1
            if not self._matches_whoosh(fields, analysed):
                logger.warning("fast analysis differs from the schema's analyzers; using Whoosh's (slower) path")
                self.fast = False
                self.add_document(**fields)
                return
        self.add_analysed(fields, analysed, shared)

    def _matches_whoosh(self, fields: dict, analysed: dict) -> bool:
        return all(sorted(items) == sorted(self.schema[name].index(fields[name])) for name, items in analysed.items())
