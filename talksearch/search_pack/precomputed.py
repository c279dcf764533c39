"""Pack sections computed at build time for what a just-opened engine would otherwise compute on a first ask.

A container few visitors reach answers most queries with cold caches, so what the first ask of a
frequent word costs is what its visitors wait for. One such cost is computed here, once per build:

- ``pre/title-stop/words``, ``pre/title-stop/postings``: for every stop word (``talksearch.analysis.STOP_WORDS``,
  which the index drops from texts) the talks whose title says it, and how often. A query of stop words only
  (``the``, ``les``, ``AI``) searches titles for them; the search function found them by a regex over every
  title, 21 ms per word on the 21.7k-talk corpus at its first ask (``functions.search.snapshot``, which still
  does so for a word the pack does not list, or a pack without these sections).

The sections are optional: a reader without them, or a pack without them, answers the same. Writing needs the
``sort_title`` column and the deleted talks only (``sections(files)``, any ``IndexFiles``-like reader), so an
incremental build recomputes them in one pass over the titles (about 60 ms at 21.7k talks). Reading checks
everything it decodes (``PackError``), as every pack read does: the pack is untrusted input.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Collection, Iterator, Sequence
from itertools import accumulate
from operator import ge, sub
from typing import Protocol

from talksearch.search_pack.format import PackError, narrowest, read_arrays, write_arrays

__all__ = [
    "ELIDED",
    "TITLE_STOP_POSTINGS",
    "TITLE_STOP_WORDS",
    "TitleStopWords",
    "sections",
    "title_stop_counts",
]

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


def sections(files: _Columns) -> Iterator[tuple[str, bytes]]:
    """(name, raw bytes) of the precomputed sections, for the writer to compress: every stop word is listed,
    those no title says with no talks (a reader then knows the answer is none, not unknown)."""
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
