"""Snippets with ``<mark>`` around matched words, for the returned page only.

Whoosh's highlighter re-runs the full analysis chain over every stored text; here each word
of the summary is lowercased and accent-folded, and stemmed only when it could possibly
match (its first letters are those of a query stem), so a page of ten snippets costs well
under a millisecond. Everything outside ``<mark>`` is HTML-escaped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import NamedTuple

from functions.search.words import stem_en, stem_fr
from talksearch.analysis import fold

SNIPPET_CHARS = 240
#: Matches are looked for in this much of a summary (a few are 15,000 characters long).
SCAN_CHARS = 4000
_WORD = re.compile(r"\w+")
_STEM_PREFIX = 3


class Prepared(NamedTuple):
    """A summary as snippets read it: whitespace collapsed, its first SCAN_CHARS characters, and folded
    (None where folding changes the length, so offsets would not carry over). The same for every query:
    the engine keeps it per talk."""

    text: str
    folded: str | None


def prepare(summary: str) -> Prepared:
    text = " ".join(summary[: SCAN_CHARS * 2].split())[:SCAN_CHARS]
    folded = fold(text)
    return Prepared(text, folded if len(folded) == len(text) else None)


class Highlighter:
    def __init__(self, exact: Iterable[str], stems_fr: Iterable[str], stems_en: Iterable[str]) -> None:
        self.exact = frozenset(exact)
        self.stems_fr = frozenset(stems_fr)
        self.stems_en = frozenset(stems_en)
        self._prefixes = frozenset(s[:_STEM_PREFIX] for s in self.stems_fr | self.stems_en)
        # words that could match start with an exact form or a stem's first letters: let the regex
        # engine find those in the folded text, and look closer at them only
        starts = sorted(self.exact | self._prefixes, key=len, reverse=True)
        self._candidates = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, starts)) + r")\w*") if starts else None

    def _matches(self, folded: str) -> bool:
        if folded in self.exact:
            return True
        if folded[:_STEM_PREFIX] not in self._prefixes:
            return False
        return stem_fr(folded) in self.stems_fr or stem_en(folded) in self.stems_en

    def spans(self, prepared: Prepared) -> list[tuple[int, int]]:
        if self._candidates is None:
            return []
        if prepared.folded is not None:  # folding maps one character to one: offsets carry over
            return [m.span() for m in self._candidates.finditer(prepared.folded) if self._matches(m.group())]
        return [m.span() for m in _WORD.finditer(prepared.text) if self._matches(fold(m.group()))]

    def snippet(self, summary: str | Prepared, length: int = SNIPPET_CHARS) -> str:
        """The ``length``-character window of the summary holding the most matches, escaped, matches marked."""
        prepared = summary if isinstance(summary, Prepared) else prepare(summary)
        text = prepared.text
        spans = self.spans(prepared)
        start, end = _best_window(text, spans, length)
        shown = [(s, e) for s, e in spans if s >= start and e <= end]
        parts = ["…"] if start > 0 else []
        cursor = start
        for s, e in shown:
            parts.append(html.escape(text[cursor:s]))
            parts.append(f"<mark>{html.escape(text[s:e])}</mark>")
            cursor = e
        parts.append(html.escape(text[cursor:end]))
        if end < len(text):
            parts.append("…")
        return "".join(parts)


def _best_window(text: str, spans: list[tuple[int, int]], length: int) -> tuple[int, int]:
    if len(text) <= length:
        return 0, len(text)
    if not spans:
        return 0, _word_end(text, length)
    # slide over match starts: the window starting a little before match i covering most matches
    best_index, best_count, j = 0, 0, 0
    for i, (s, _) in enumerate(spans):
        while j < len(spans) and spans[j][1] <= s + length - 20:
            j += 1
        if j - i > best_count:
            best_index, best_count = i, j - i
    anchor = spans[best_index][0]
    start = max(0, anchor - 40)
    if start > 0:
        space = text.rfind(" ", 0, start + 1)
        start = space + 1 if space >= anchor - 80 else start
    end = _word_end(text, start + length)
    return start, end


def _word_end(text: str, position: int) -> int:
    if position >= len(text):
        return len(text)
    space = text.rfind(" ", position - 30, position)
    return space if space > 0 else position
