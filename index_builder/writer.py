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

import logging
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

from talksearch.index_files import create_index, open_index
from talksearch.index_files.writing import (
    AnalysedTerms,
    SegmentBuilder,
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


def write_index(
    talks: Iterable[Talk],
    directory: str | os.PathLike,
    *,
    progress: Callable[[int], None] | None = None,
    postings_per_segment: int = POSTINGS_PER_SEGMENT,
) -> None:
    """Create a new index in ``directory`` (created if needed, must not hold an index) with these talks."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    ix = create_index(path, build_schema())
    writer = TalkWriter(ix)
    try:
        for n, talk in enumerate(talks, 1):
            writer.add_talk(talk)
            if writer.postings >= postings_per_segment:
                writer.commit(merge=False)  # this segment's postings leave memory
                writer = TalkWriter(ix)
            if progress is not None and n % 500 == 0:
                progress(n)
    except BaseException:
        writer.cancel()
        raise
    writer.commit(merge=False)


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


class FastAnalysis:
    """The schema's analysis of one text, computed once for all the fields that share it."""

    def __init__(self) -> None:
        self._folded: dict[str, str] = {}
        self._stems: dict[str, dict[str, str]] = {"fr": {}, "en": {}}
        #: encoded values shared by many postings: single positions, small frequencies
        self._single_positions: dict[int, bytes] = {}
        self._frequencies = [frequency_value(n) for n in range(256)]

    def folded_tokens(self, text: str) -> list[str]:
        folded = self._folded
        out = []
        for raw in _TOKEN.findall(text):
            token = folded.get(raw)
            if token is None:
                token = folded[raw] = fold(raw)
            out.append(token)
        return out

    def items(self, kind: str, tokens: list[str], positions: bool) -> AnalysedTerms:
        """(term bytes, frequency, weight, encoded value) per distinct term, as Field.index yields them.

        ``positions``: the field's format keeps word positions (phrase=True); else only frequencies.
        """
        terms: list[str]
        if kind == "names":
            terms = tokens
        elif kind == "folded":
            terms = ["" if token in STOP_WORDS else token for token in tokens]
        else:
            stems, stem = self._stems[kind], STEMMERS[kind]
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
            small = self._frequencies
            return [
                (t.encode("utf-8"), n, _weight(n), small[n] if n < 256 else frequency_value(n))
                for t, n in counts.items()
            ]
        where_found: dict[str, list[int]] = defaultdict(list)
        for pos, term in enumerate(terms):
            where_found[term].append(pos)
        where_found.pop("", None)
        single = self._single_positions
        out = []
        for term, where in where_found.items():
            if len(where) == 1:  # most terms occur once in a text: their encoding depends only on the position
                value = single.get(where[0])
                if value is None:
                    value = single[where[0]] = positions_value(where)
                out.append((term.encode("utf-8"), 1, 1.0, value))
            else:
                out.append((term.encode("utf-8"), len(where), _weight(len(where)), positions_value(where)))
        return out


class TalkWriter(SegmentBuilder):
    """Writes Talk records into one new segment, analysing each text once (see the module docstring)."""

    #: Documents whose fast analysis is compared with Whoosh's own before it is trusted.
    VERIFY_DOCUMENTS = 25

    def __init__(self, ix) -> None:
        super().__init__(ix)
        self.analysis = FastAnalysis()
        #: field -> whether its format keeps positions (else it is Whoosh's Frequency format)
        positions = {name: keeps_positions(self.schema[name]) for name in FIELD_ANALYSIS if name in self.schema}
        self.fast = len(positions) == len(FIELD_ANALYSIS) and None not in positions.values()
        self._positions = positions
        self._verify_left = self.VERIFY_DOCUMENTS

    def add_talk(self, talk: Talk) -> None:
        fields = talk_to_document(talk)
        if not self.fast:
            self.add_document(**fields)
            return
        analysed = self._analyse(fields)
        if self._verify_left > 0:
            self._verify_left -= 1
            if not self._matches_whoosh(fields, analysed):
                logger.warning("fast analysis differs from the schema's analyzers; using Whoosh's (slower) path")
                self.fast = False
                self.add_document(**fields)
                return
        self.add_analysed(fields, analysed)

    def _analyse(self, fields: dict) -> dict[str, AnalysedTerms]:
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

    def _matches_whoosh(self, fields: dict, analysed: dict) -> bool:
        return all(sorted(items) == sorted(self.schema[name].index(fields[name])) for name, items in analysed.items())
