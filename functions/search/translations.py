"""Runs of typed words that are glossary or site-synonym entries, and what each one also searches.

The table (``talksearch.synonyms.SynonymTable``) comes with the index version: the builder compiles
the shipped FR/EN glossary and the site's ``synonyms.txt`` into ``synonyms.json``, and the engine reads
it after the artifact's checksum check. ``expand_query`` turns each run of plain words that is an
entry (``apprentissage automatique``, ``conteneurs``, ``k8s``), and each quoted phrase that is one as a
whole, into one ``expanded`` clause: one requirement of the query, matched by the words as typed or by
any of the entry's targets. Prefixes, fields, OR groups and exclusions are never expanded.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from functions.search.query import Clause, ParsedQuery, _phrase
from talksearch.analysis import STOP_WORDS, fold
from talksearch.contracts import SYNONYMS_NAME
from talksearch.synonyms import Phrase, SynonymFormatError, SynonymTable

logger = logging.getLogger(__name__)

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Expanded:
    """What the answer's ``expanded`` lists: the run as typed, the texts of what it also searched."""

    source: str
    targets: tuple[str, ...]

    def to_json(self) -> dict:
        return {"from": self.source, "to": list(self.targets)}


def load_table(index_dir: Path, log: logging.Logger | None = None) -> SynonymTable | None:
    """The synonym table in a Whoosh index directory (``parse_table``)."""
    try:
        data = (Path(index_dir) / SYNONYMS_NAME).read_bytes()
    except FileNotFoundError:
        data = None
    except OSError as error:
        log = log or logger
        log.error("index %s: %s unreadable (%s): searching without synonyms", index_dir, SYNONYMS_NAME, error)
        return None
    return parse_table(data, Path(index_dir).name, log)


def parse_table(data: bytes | None, version: str, log: logging.Logger | None = None) -> SynonymTable | None:
    """The index version's synonym table from its ``synonyms.json`` bytes, or None (logged) when it has none or it
    is refused: the index is then served without expansion, never refused for its synonyms."""
    log = log or logger
    if data is None:
        log.error("index %s has no %s: searching without synonyms", version, SYNONYMS_NAME)
        return None
    try:
        return SynonymTable.from_json(data)
    except SynonymFormatError as error:
        log.error("index %s: %s refused (%s): searching without synonyms", version, SYNONYMS_NAME, error)
    return None


def target_clause(phrase: Phrase) -> Clause:
    """A target as the engine searches it: one word, or a phrase allowing for its removed stop words."""
    if len(phrase.words) == 1:
        return Clause("word", list(phrase.words), phrase.text)
    words, slop = _phrase(phrase.text)
    if tuple(words) != phrase.words:  # a term of stop words only (kept whole by analysis): adjacent words
        return Clause("phrase", list(phrase.words), phrase.text)
    return Clause("phrase", words, phrase.text, slop=slop)


def expand_query(query: ParsedQuery, table: SynonymTable) -> tuple[ParsedQuery, list[Expanded]]:
    """The query with its entries replaced by ``expanded`` clauses, and what each one added."""
    added: list[Expanded] = []
    groups: list[list[Clause]] = []
    cursor = 0  # where in the typed text the next run is looked for
    i = 0
    while i < len(query.groups):
        group = query.groups[i]
        if len(group) == 1 and group[0].kind == "phrase":
            targets = table.targets(group[0].words)
            if targets:
                groups.append([_expanded([group[0]], targets)])
                added.append(Expanded(group[0].text, tuple(t.text for t in targets)))
            else:
                groups.append(group)
            i += 1
            continue
        if not _is_word(group):
            groups.append(group)
            i += 1
            continue
        j = i
        while j < len(query.groups) and _is_word(query.groups[j]):
            j += 1
        run = [g[0] for g in query.groups[i:j]]
        done = 0
        for expansion in table.expansions([c.words[0] for c in run]):
            groups.extend([c] for c in run[done : expansion.start])
            typed = run[expansion.start : expansion.stop]
            groups.append([_expanded(typed, expansion.targets)])
            source, cursor = _typed_text(query.text, [c.words[0] for c in typed], cursor)
            added.append(Expanded(source, tuple(t.text for t in expansion.targets)))
            done = expansion.stop
        groups.extend([c] for c in run[done:])
        i = j
    if not added:
        return query, []
    return ParsedQuery(groups=groups, excluded=query.excluded, years=query.years, text=query.text), added


def _is_word(group: list[Clause]) -> bool:
    return len(group) == 1 and group[0].kind == "word"


def _expanded(typed: list[Clause], targets: tuple[Phrase, ...]) -> Clause:
    words = [w for c in typed for w in c.words]
    return Clause(
        "expanded",
        words,
        " ".join(c.text for c in typed),
        typed=list(typed),
        targets=[target_clause(t) for t in targets],
    )


def _typed_text(text: str, words: list[str], start: int) -> tuple[str, int]:
    """The span of ``text`` (from ``start``) where ``words`` were typed, stop words between them included
    (``bases de données``, not the analysed ``bases donnees``), and where it ends."""
    tokens = [(fold(m.group()), m.start(), m.end()) for m in _WORD.finditer(text, start)]
    for first, (token, begin, _) in enumerate(tokens):
        if token != words[0]:
            continue
        wanted, end = 1, tokens[first][2]
        for folded, _, stop in tokens[first + 1 :]:
            if wanted == len(words):
                break
            if folded == words[wanted]:
                wanted, end = wanted + 1, stop
            elif folded not in STOP_WORDS:
                break
        if wanted == len(words):
            return text[begin:end], end
    return " ".join(words), start
