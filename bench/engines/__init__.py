"""One adapter per engine. Each builds from the same corpus and answers the same /api/search response.

The peers implement the parts of the API the query mix exercises, the way a competent user of that
engine would: all words must match, falling back to typo-tolerant words and then to any word when
nothing is found; ``"phrases"``; ``prefix*``; facet filters (OR within a facet, AND across facets,
each facet's counts ignoring its own filter); newest-first browse for an empty ``q``; top 10 with an
HTML snippet in which ``<mark>`` is the only markup.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # the searchers are imported by cold-start processes: keep them light
    from bench.corpus import Corpus

FACET_NAMES = ("speaker", "company", "event", "year", "lang")
FACET_LIMIT = 10
BROWSE_SNIPPET_CHARS = 200
MARK_OPEN, MARK_CLOSE = "\x02", "\x03"

_TERM = re.compile(r'"([^"]*)"|(\S+)')


@dataclass
class Term:
    """One piece of a query: a word, a ``prefix*`` or a ``"phrase"``."""

    text: str
    kind: str  # "word" | "prefix" | "phrase"


def parse_terms(q: str) -> list[Term]:
    """The query mix's syntax: words, quoted phrases and trailing-star prefixes."""
    terms = []
    for phrase, word in _TERM.findall(q or ""):
        if phrase.strip():
            terms.append(Term(" ".join(phrase.split()), "phrase"))
        elif word.endswith("*") and len(word.rstrip("*")) >= 2:
            terms.append(Term(word.rstrip("*"), "prefix"))
        elif word.strip("*"):
            terms.append(Term(word.strip("*"), "word"))
    return terms


def fold(word: str) -> str:
    """Lowercase without accents: the form every peer's typo vocabulary holds."""
    return "".join(c for c in unicodedata.normalize("NFD", word.lower()) if unicodedata.category(c) != "Mn")


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def edits1(word: str) -> set[str]:
    """Every string one deletion, transposition, substitution or insertion away (Norvig)."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    swaps = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    inserts = {a + c + b for a, b in splits for c in _LETTERS}
    return (deletes | swaps | replaces | inserts) - {word}


def marked_to_html(text: str) -> str:
    """Escape everything, then turn the sentinel marks into ``<mark>`` tags."""
    return html.escape(text, quote=False).replace(MARK_OPEN, "<mark>").replace(MARK_CLOSE, "</mark>")


def lead_snippet(summary: str) -> str:
    """The opening of a summary, cut at a word boundary: what a browse hit shows."""
    text = " ".join((summary or "").split())
    if len(text) > BROWSE_SNIPPET_CHARS:
        text = text[:BROWSE_SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"
    return html.escape(text, quote=False)


def filters_of(params: dict) -> dict[str, list[str]]:
    """Facet filters as lists of strings, whatever shape the params came in."""
    found = {}
    for name in FACET_NAMES:
        value = params.get(name)
        if value in (None, "", []):
            continue
        values = value if isinstance(value, list | tuple) else [value]
        found[name] = [str(v) for v in values]
    return found


def response(params: dict, total: int, hits: list[dict], facets: dict, took_ms: float) -> dict:
    return {
        "query": params.get("q", ""),
        "total": total,
        "page": int(params.get("page", 1)),
        "size": int(params.get("size", 10)),
        "took_ms": round(took_ms, 3),
        "hits": hits,
        "facets": facets,
        "did_you_mean": None,
        "index": None,
    }


@dataclass
class BuildResult:
    seconds: float
    #: other timings worth reporting (e.g. talksearch's publish step), in seconds
    detail: dict[str, float] = field(default_factory=dict)


class Engine(Protocol):
    """What the harness needs from an engine."""

    name: str

    def build(self, corpus: Corpus, content_dir: Path, workdir: Path) -> BuildResult: ...

    def update(self, corpus: Corpus, changes: list[dict], content_dir: Path) -> float:
        """Apply ``changes`` (already written to ``content_dir``) the engine's own incremental way; seconds."""

    def sizes(self) -> dict[str, int]:
        """``disk_bytes`` of the index as it sits on disk, ``artifact_bytes`` of what would be shipped."""

    def open(self) -> None: ...

    def search(self, **params: Any) -> dict: ...

    def cold_start_target(self) -> tuple[str, str, Path]:
        """(module, class, index path) that a fresh process imports, opens and queries."""

    def close(self) -> None: ...
