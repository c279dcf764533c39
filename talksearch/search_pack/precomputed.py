"""Pack sections computed at build time for what a just-opened engine would otherwise compute on a first ask.

A container few visitors reach answers most queries with cold caches, so what the first ask of a
frequent word costs is what its visitors wait for. Such costs are computed here, once per build:

- ``pre/title-stop/words``, ``pre/title-stop/postings``: for every stop word (``talksearch.analysis.STOP_WORDS``,
  which the index drops from texts) the talks whose title says it, and how often. A query of stop words only
  (``the``, ``les``, ``AI``) searches titles for them; the search function found them by a regex over every
  title, 21 ms per word on the 21.7k-talk corpus at its first ask (``functions.search.snapshot``, which still
  does so for a word the pack does not list, or a pack without these sections).
- ``pre/answers`` is not written here: the builder asks the search engine for it over the pack these sections
  complete (``index_builder.answers``, handed to ``write_pack`` as ``answers``; 1.7 s at 21.7k talks, recomputed
  in every build since it depends on every talk); its format is ``talksearch.search_pack.answers``.

The sections are optional: a reader without them, or a pack without them, answers the same. Writing needs the
``sort_title`` column and the deleted talks only (``sections(files)``, any ``IndexFiles``-like reader), so an
incremental build recomputes them in one pass over the titles (about 60 ms at 21.7k talks). Reading checks
everything it decodes (``PackError``), as every pack read does: the pack is untrusted input.
"""

from __future__ import annotations

import json
import re
import zlib
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Collection, Iterable, Iterator, Sequence
from itertools import accumulate
from operator import ge, sub
from typing import Protocol

from talksearch.search_pack.format import (
    CODEC_ZLIB,
    PackError,
    narrowest,
    read_arrays,
    write_arrays,
)

__all__ = [
    "ELIDED",
    "TITLE_STOP_POSTINGS",
    "TITLE_STOP_WORDS",
    "VOCABULARY_BLOCK",
    "VOCABULARY_PREFIX",
    "BlockVocabulary",
    "TitleStopWords",
    "sections",
    "title_stop_counts",
]

VOCABULARY_PREFIX = "pre/vocab/"
#: Terms per vocabulary block: a field's first read decodes one head per block, a term's read one block.
VOCABULARY_BLOCK = 64
TITLE_STOP_WORDS = "pre/title-stop/words"
TITLE_STOP_POSTINGS = "pre/title-stop/postings"
#: Elided articles: ``l'`` in ``l'API`` is not the word ``l`` (as the index's analysis drops them).
ELIDED = frozenset({"c", "d", "j", "l", "m", "n", "s", "t", "qu", "jusqu", "lorsqu", "puisqu", "quoiqu"})

_WORD = re.compile(r"\w+")
_ELISION = re.compile(r"['’]\w")


class _Columns(Protocol):
    deleted: Collection[int]

    def column(self, fieldname: str) -> list[bytes | None]: ...


def title_stop_counts(titles: Sequence[str | None], deleted: Collection[int], words: Collection[str]) -> dict:
    """{word: {talk: times its title says the word}} for each of ``words`` (word characters only) in one pass.

    The rule is the search function's regex per word (``functions.search.snapshot.stop_word_titles``): a whole
    run of word characters, except an elided article followed by an apostrophe and a letter (``l'API``), and
    ``ai`` right after ``j'`` (``j'ai``). Deleted talks and a missing title say nothing.
    """
    found: dict[str, dict[int, int]] = {}
    for doc, title in enumerate(titles):
        if title is None or doc in deleted:
            continue
        text = title.replace("\n", " ")
        for match in _WORD.finditer(text):
            word = match.group()
            if word not in words:
                continue
            start, end = match.span()
            if word in ELIDED and _ELISION.match(text, end):
                continue
            if word == "ai" and text[max(0, start - 2) : start] in ("j'", "j’"):
                continue
            counts = found.setdefault(word, {})
            counts[doc] = counts.get(doc, 0) + 1
    return found


def sections(files: _Columns, written: Iterable[tuple[str, bytes, int, int]]) -> list[tuple[str, bytes]]:
    """(name, raw bytes) of the precomputed sections, for the writer to compress, from the index (``files``) and
    the sections already ``written`` (name, stored bytes, inflated length, codec): every stop word is listed,
    those no title says with no talks (a reader then knows the answer is none, not unknown); every field's
    vocabulary gets its block starts."""
    return [*_vocabulary_blocks(list(written)), *_title_stop_sections(files)]


def _vocabulary_blocks(written: Iterable[tuple[str, bytes, int, int]]) -> Iterator[tuple[str, bytes]]:
    """``pre/vocab/<field>``: where every ``VOCABULARY_BLOCK``-th term starts in the field's ``terms/`` bytes."""
    stored = {name: (data, codec) for name, data, _, codec in written}
    meta_data, meta_codec = stored["meta"]
    meta = json.loads(zlib.decompress(meta_data) if meta_codec == CODEC_ZLIB else meta_data)
    for fieldname, described in meta["fields"].items():
        data, codec = stored[f"terms/{fieldname}"]
        raw = zlib.decompress(data) if codec == CODEC_ZLIB else data
        separator = chr(described["separator"]).encode("utf-8")
        lengths = [len(term) + len(separator) for term in raw.split(separator)]
        starts = list(accumulate(lengths[:-1], initial=0))[::VOCABULARY_BLOCK] if described["terms"] else []
        yield f"{VOCABULARY_PREFIX}{fieldname}", write_arrays(array(narrowest(starts), starts))


def _title_stop_sections(files: _Columns) -> Iterator[tuple[str, bytes]]:
    from talksearch.analysis import STOP_WORDS  # Whoosh's stop lists: the builder's side only

    titles = [None if raw is None else raw.decode("utf-8") for raw in files.column("sort_title")]
    words = sorted(STOP_WORDS)
    found = title_stop_counts(titles, files.deleted, STOP_WORDS)
    counts, ids, frequencies = [], [], []
    for word in words:
        talks = sorted(found.get(word, {}).items())
        counts.append(len(talks))
        if talks:
            docs = [doc for doc, _ in talks]
            ids.append(docs[0])
            ids.extend(map(sub, docs[1:], docs[:-1]))
            frequencies.extend(count for _, count in talks)
    yield TITLE_STOP_WORDS, "\n".join(words).encode("utf-8")
    yield TITLE_STOP_POSTINGS, write_arrays(*(array(narrowest(v), v) for v in (counts, ids, frequencies)))


class TitleStopWords:
    """The stop words' title postings of one pack, decoded at the first ask (each word's dict on its own)."""

    __slots__ = ("_doc_count", "_frequencies", "_ids", "_starts", "_words")

    def __init__(self, words: bytes, postings: bytes, doc_count: int) -> None:
        try:
            listed = words.decode("utf-8").split("\n") if words else []
        except UnicodeDecodeError:
            raise PackError("the precomputed stop words are not UTF-8") from None
        what = f"section {TITLE_STOP_POSTINGS!r}"
        counts, ids, frequencies = read_arrays(postings, 3, what)
        if len(counts) != len(listed) or len(set(listed)) != len(listed):
            raise PackError(f"{what}: its talk counts do not match its words")
        if sum(counts) != len(ids) or len(frequencies) != len(ids) or 0 in frequencies:
            raise PackError(f"{what}: its talk counts, talks and frequencies do not match")
        starts = list(accumulate(counts, initial=0))
        self._words = {word: i for i, word in enumerate(listed)}
        self._starts, self._ids, self._frequencies = starts, ids, frequencies
        self._doc_count = doc_count

    def get(self, word: str) -> dict[int, float] | None:
        """{talk: frequency of ``word`` in its title}; None when the pack does not list the word."""
        i = self._words.get(word)
        if i is None:
            return None
        start, stop = self._starts[i], self._starts[i + 1]
        talks = list(accumulate(self._ids[start:stop]))
        if talks and (talks[-1] >= self._doc_count or any(map(ge, talks, talks[1:]))):
            raise PackError(f"section {TITLE_STOP_POSTINGS!r}: talk numbers out of order or past the talk count")
        return dict(zip(talks, map(float, self._frequencies[start:stop]), strict=True))


class BlockVocabulary:
    """A field's sorted terms, read block by block from its ``terms/`` bytes and ``pre/vocab/`` block starts.

    What a list of the terms answers (``len``, an item, a slice, ``bisect_left``), without making 90,000
    strings at the field's first read (splitting the ``words`` vocabulary took 10 ms of a cold container's
    first answers): the first read decodes one head per block, a lookup bisects the heads and splits one block.
    """

    __slots__ = ("_blocks", "_count", "_data", "_heads", "_separator", "_starts")

    def __init__(self, data: bytes, separator: str, starts: array, count: int, what: str) -> None:
        blocks = -(-count // VOCABULARY_BLOCK)
        size = len(data)
        if len(starts) != blocks or (blocks and starts[0] != 0) or any(map(ge, starts, starts[1:])):
            raise PackError(f"{what}: its block starts do not match its terms")
        if blocks and starts[-1] > size:
            raise PackError(f"{what}: a block starts past its terms")
        self._data, self._count, self._starts = data, count, starts
        self._separator = separator.encode("utf-8")
        self._blocks: dict[int, list[str]] = {}
        heads = []
        for start in starts:
            end = data.find(self._separator, start)
            heads.append(self._decode(data[start : size if end < 0 else end], what))
        self._heads = heads

    @staticmethod
    def _decode(raw: bytes, what: str) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise PackError(f"{what}: terms that are not UTF-8") from None

    def _block(self, number: int) -> list[str]:
        found = self._blocks.get(number)
        if found is None:
            starts = self._starts
            end = starts[number + 1] - len(self._separator) if number + 1 < len(starts) else len(self._data)
            what = "a vocabulary block"
            if end < starts[number]:
                raise PackError(f"{what}: its start is past its end")
            found = self._decode(self._data[starts[number] : end], what).split(self._separator.decode("utf-8"))
            expected = min(VOCABULARY_BLOCK, self._count - number * VOCABULARY_BLOCK)
            if len(found) != expected:
                raise PackError(f"{what}: {len(found)} terms where {expected} were declared")
            self._blocks[number] = found  # a block's strings, kept: the terms a version reads stay decoded
        return found

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index):
        if isinstance(index, slice):
            low, high, step = index.indices(self._count)
            if step != 1:
                raise ValueError("a vocabulary is sliced with a step of 1 only")
            found: list[str] = []
            for number in range(low // VOCABULARY_BLOCK, -(-high // VOCABULARY_BLOCK)):
                first = number * VOCABULARY_BLOCK
                found += self._block(number)[max(low - first, 0) : high - first]
            return found
        if not -self._count <= index < self._count:
            raise IndexError("vocabulary index out of range")
        index %= self._count
        return self._block(index // VOCABULARY_BLOCK)[index % VOCABULARY_BLOCK]

    def bisect_left(self, term: str) -> int:
        """Where ``term`` is, or would go, in the sorted terms (``bisect.bisect_left`` over the list)."""
        number = bisect_right(self._heads, term) - 1
        if number < 0:
            return 0
        return number * VOCABULARY_BLOCK + bisect_left(self._block(number), term)
