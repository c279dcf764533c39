"""Synonyms and the French/English glossary: from Solr-format lines to one lookup of query phrases.

Two sources share one format, the Solr/Elasticsearch synonym file:

- the shipped glossary (``talksearch/glossary/*.txt``): the vocabulary of tech talks in French and
  English (``apprentissage automatique, machine learning``) and common abbreviations (``k8s, kubernetes``);
- a site's own ``synonyms.txt`` at the content root, read by the builder.

Each line is a rule. ``a, b, c`` makes its terms equivalent (each expands to the others);
``a, b => c, d`` is one-way (``a`` and ``b`` expand to ``c`` and ``d``, never back). Unlike Solr, the
words typed are always kept: an expansion adds talks, it never replaces what was asked. Lines starting
with ``#`` and blank lines are ignored; a bad line is skipped and reported with its number.

``compile_table`` turns rules into a ``SynonymTable``: every term is analysed as a query is (folded,
elisions and stop words dropped, unless only stop words are left: ``AI``, ``the``) and keyed twice, by
its French and by its English stems, so inflections, plurals and elisions (``l'apprentissage``,
``bases de données``) meet the same entry. ``SynonymTable.expansions(words)`` finds, left to right, the
longest runs of a query's words that are an entry, and what each one adds. The builder serialises the
table into the index artifact as JSON (``to_json``); the search function reads it back with
``from_json``, which validates everything and bounds its size: the artifact is untrusted input, and
stemming thousands of glossary terms at every cold start would cost more than reading them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from whoosh.lang import stemmer_for_language

from talksearch.analysis import STOP_WORDS, query_words

__all__ = [
    "GLOSSARY_DIR",
    "Expansion",
    "Phrase",
    "Rule",
    "SynonymFormatError",
    "SynonymProblem",
    "SynonymTable",
    "analyse",
    "compile_table",
    "load_glossary",
    "parse_synonyms",
    "phrase_keys",
]

#: The shipped glossary files, read in name order.
GLOSSARY_DIR = Path(__file__).with_name("glossary")
#: Version of the serialised table; ``from_json`` refuses any other.
TABLE_FORMAT = 2

#: Bounds on a synonyms file (a site's, or the shipped glossary) ...
MAX_FILE_BYTES = 1_000_000
MAX_LINE_CHARS = 1_000
MAX_TERMS_PER_LINE = 32
#: ... on one term (a longer run of words is not a term: it would also be dear to match) ...
MAX_PHRASE_WORDS = 6
MAX_WORD_CHARS = 64
#: ... and on the compiled table: every term of every rule, and what one entry may add.
MAX_PHRASES = 50_000
MAX_TARGETS = 12
#: The serialised table is refused beyond this (the glossary alone is ~0.3 MB).
MAX_TABLE_BYTES = 8_000_000

_ONE_WAY = "=>"


class SynonymFormatError(ValueError):
    """A serialised table that is not one this module wrote (wrong shape, type, format or size)."""


@dataclass(frozen=True)
class SynonymProblem:
    """A line that was skipped, and why."""

    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


@dataclass(frozen=True)
class Rule:
    """One line: ``sources`` expand to ``targets``; an equivalence has the same terms on both sides."""

    sources: tuple[str, ...]
    targets: tuple[str, ...]
    line: int = 0


@dataclass
class ParsedSynonyms:
    rules: list[Rule] = field(default_factory=list)
    problems: list[SynonymProblem] = field(default_factory=list)


@dataclass(frozen=True)
class Phrase:
    """A term as written (for display) and as analysed (what the engine searches)."""

    text: str
    words: tuple[str, ...]


@dataclass(frozen=True)
class Expansion:
    """Query words ``start:stop`` (``source``, as analysed) also search ``targets``."""

    start: int
    stop: int
    source: tuple[str, ...]
    targets: tuple[Phrase, ...]


# --- analysis --------------------------------------------------------------------------------------
_stem_fr = lru_cache(maxsize=20_000)(stemmer_for_language("fr"))
_stem_en = lru_cache(maxsize=20_000)(stemmer_for_language("en"))


def analyse(text: str) -> tuple[str, ...]:
    """The words of ``text`` as the query parser keeps them: folded, without elisions and stop words.

    When every word is a stop word, they are all kept: ``AI`` (``ai`` is on the French list, from
    *j'ai*) or ``IT`` are terms, and a term must never analyse to nothing.
    """
    return tuple(query_words(text)) or tuple(query_words(text, keep_stop=True))


#: A stop word (in a term of stop words only: ``AI``, ``IT``) is keyed as typed, behind this mark: stop
#: words do not inflect, and stemmed they collide with other words ("be" and the French stem of "bees").
_STOP_KEY = "="


def _key_word(stem: str) -> str:
    # a final e is where the two stemmers and the inflections disagree most (distribué/distribuée,
    # base -> "bas" in French, "base" in English): drop it from keys
    return stem.rstrip("e") or stem


def phrase_keys(words: Sequence[str]) -> tuple[str, str]:
    """The (French, English) lookup keys of analysed words: each word stemmed, joined by spaces."""
    return (
        " ".join(_STOP_KEY + w if w in STOP_WORDS else _key_word(_stem_fr(w)) for w in words),
        " ".join(_STOP_KEY + w if w in STOP_WORDS else _key_word(_stem_en(w)) for w in words),
    )


# --- parsing ---------------------------------------------------------------------------------------
def _terms(side: str) -> list[str]:
    return [" ".join(term.split()) for term in side.split(",")]


def _check_terms(terms: list[str]) -> str | None:
    """Why this side of a rule is unusable, or None."""
    if any(not term for term in terms):
        return "an empty term (two commas in a row, or a comma at an end)"
    for term in terms:
        words = analyse(term)
        if not words:
            return f"{term!r} has no word in it"
        if len(words) > MAX_PHRASE_WORDS:
            return f"{term!r} has {len(words)} words; a term has at most {MAX_PHRASE_WORDS}"
        if any(len(w) > MAX_WORD_CHARS for w in words):
            return f"{term!r} has a word longer than {MAX_WORD_CHARS} characters"
    return None


def parse_line(line: str) -> Rule | str | None:
    """A rule, a reason the line is bad, or None for a blank or comment line."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    if len(text) > MAX_LINE_CHARS:
        return f"longer than {MAX_LINE_CHARS} characters"
    if text.count(_ONE_WAY) > 1:
        return f"more than one {_ONE_WAY!r}"
    if _ONE_WAY in text:
        left, right = text.split(_ONE_WAY)
        sources, targets = _terms(left), _terms(right)
        if not left.strip() or not right.strip():
            return f"nothing on one side of {_ONE_WAY!r}"
    else:
        sources = targets = _terms(text)
        if len(sources) < 2:
            return "a single term: write 'a, b' for equivalents or 'a => b' for a one-way rule"
    if len(set(sources) | set(targets)) > MAX_TERMS_PER_LINE:
        return f"more than {MAX_TERMS_PER_LINE} terms"
    for side in (sources, targets):
        reason = _check_terms(side)
        if reason:
            return reason
    return Rule(tuple(sources), tuple(targets))


def parse_synonyms(data: bytes | str, source: str = "synonyms.txt") -> ParsedSynonyms:
    """The rules of a Solr-format synonyms file; bad lines are skipped and reported with their number."""
    parsed = ParsedSynonyms()
    if isinstance(data, bytes):
        if len(data) > MAX_FILE_BYTES:
            parsed.problems.append(SynonymProblem(source, 0, f"larger than {MAX_FILE_BYTES} bytes: not read"))
            return parsed
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            parsed.problems.append(SynonymProblem(source, 0, f"not UTF-8 ({error.reason} at byte {error.start})"))
            return parsed
    for number, line in enumerate(data.splitlines(), 1):
        result = parse_line(line)
        if isinstance(result, Rule):
            parsed.rules.append(Rule(result.sources, result.targets, number))
        elif result is not None:
            parsed.problems.append(SynonymProblem(source, number, result))
    return parsed


def load_glossary(directory: Path = GLOSSARY_DIR) -> ParsedSynonyms:
    """The shipped glossary: every ``*.txt`` of ``directory``, in name order."""
    merged = ParsedSynonyms()
    for path in sorted(directory.glob("*.txt")):
        parsed = parse_synonyms(path.read_bytes(), source=path.name)
        merged.rules += parsed.rules
        merged.problems += parsed.problems
    return merged


# --- the table -------------------------------------------------------------------------------------
#: What the serialised table's strings must look like (checked by C-level regex matches at load):
#: analysed words are non-space runs joined by single spaces, target lists are term numbers.
_WORDS = re.compile(rf"[^ ]+(?: [^ ]+){{0,{MAX_PHRASE_WORDS - 1}}}")
_IDS = re.compile(rf"\d{{1,6}}(?: \d{{1,6}}){{0,{MAX_TARGETS - 1}}}")
_MAX_WORDS_CHARS = MAX_PHRASE_WORDS * (MAX_WORD_CHARS + 1)


class SynonymTable:
    """Analysed terms and, per French and English key, the terms an entry adds (at most MAX_TARGETS).

    Stored as the artifact holds it, so loading is one ``json.loads`` and a few regex matches (the
    cold start pays it): term texts, their analysed words joined by spaces, and per key the numbers of
    its targets joined by spaces, decoded when a query looks the key up.
    """

    def __init__(
        self, texts: Sequence[str], words: Sequence[str], by_french: dict[str, str], by_english: dict[str, str]
    ) -> None:
        self._texts = list(texts)
        self._words = list(words)
        self._by_key = (by_french, by_english)
        # the longest entry, in words: a key is its words' stems joined by spaces
        self.max_words = max((key.count(" ") + 1 for table in self._by_key for key in table), default=0)

    def __len__(self) -> int:
        return len(self._texts)

    @property
    def phrases(self) -> tuple[Phrase, ...]:
        return tuple(map(self._phrase, range(len(self._texts))))

    def _phrase(self, number: int) -> Phrase:
        return Phrase(self._texts[number], tuple(self._words[number].split(" ")))

    def targets(self, words: Sequence[str]) -> tuple[Phrase, ...]:
        """What the analysed words ``words``, taken as one term, expand to (nothing when not an entry)."""
        found: dict[int, None] = {}
        keys = phrase_keys(words)
        for key, table in zip(keys, self._by_key, strict=True):
            found.update(dict.fromkeys(map(int, table.get(key, "").split())))
        count = len(self._texts)  # a number past the end (a table from elsewhere) is no target
        targets = [self._phrase(i) for i in found if i < count]
        # an inflection of the words typed (same French or English stems) adds nothing the stemmed search
        # does not find: "containers" does not also search "container"
        fresh = [t for t in targets if not any(a == b for a, b in zip(phrase_keys(t.words), keys, strict=True))]
        return tuple(fresh[:MAX_TARGETS])

    def expansions(self, words: Sequence[str]) -> list[Expansion]:
        """The entries among a query's analysed words, left to right, the longest run first."""
        found: list[Expansion] = []
        start = 0
        while start < len(words):
            for stop in range(min(len(words), start + self.max_words), start, -1):
                targets = self.targets(words[start:stop])
                if targets:
                    found.append(Expansion(start, stop, tuple(words[start:stop]), targets))
                    start = stop
                    break
            else:
                start += 1
        return found

    # --- serialisation (the index artifact) ---------------------------------------------------------
    def to_json(self) -> bytes:
        body = {"format": TABLE_FORMAT, "texts": self._texts, "words": self._words}
        body |= {"fr": self._by_key[0], "en": self._by_key[1]}
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> SynonymTable:
        """A table written by ``to_json``; anything else raises SynonymFormatError, never more."""
        if len(data) > MAX_TABLE_BYTES:
            raise SynonymFormatError(f"synonym table larger than {MAX_TABLE_BYTES} bytes")
        try:
            body = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
            raise SynonymFormatError(f"synonym table is not JSON: {error}") from None
        if not isinstance(body, dict) or body.get("format") != TABLE_FORMAT:
            raise SynonymFormatError(f"synonym table is not of format {TABLE_FORMAT}")
        texts, words = body.get("texts"), body.get("words")
        if not (isinstance(texts, list) and isinstance(words, list) and len(texts) == len(words) <= MAX_PHRASES):
            raise SynonymFormatError("synonym table: 'texts' and 'words' are not two lists of one length")
        if not all(isinstance(t, str) and len(t) <= MAX_LINE_CHARS for t in texts):
            raise SynonymFormatError("synonym table: a term's text is not a string within bounds")
        if not all(isinstance(w, str) and len(w) <= _MAX_WORDS_CHARS and _WORDS.fullmatch(w) for w in words):
            raise SynonymFormatError("synonym table: a term's words are not words within bounds")
        keys = tuple(_keys_from_json(body.get(name), name) for name in ("fr", "en"))
        return cls(texts, words, *keys)


def _keys_from_json(raw: object, name: str) -> dict[str, str]:
    if not isinstance(raw, dict) or len(raw) > MAX_PHRASES:
        raise SynonymFormatError(f"synonym table: {name!r} is not an object of at most MAX_PHRASES keys")
    if not all(isinstance(ids, str) and _IDS.fullmatch(ids) for ids in raw.values()):
        raise SynonymFormatError(f"synonym table: {name!r} maps a key to something else than term numbers")
    if not all(len(key) <= MAX_LINE_CHARS for key in raw):
        raise SynonymFormatError(f"synonym table: {name!r} has a key longer than {MAX_LINE_CHARS} characters")
    return raw


def compile_table(*rule_sets: Iterable[Rule]) -> SynonymTable:
    """One table from rule sets, earlier ones first (a site's rules before the glossary's).

    A term in several rules expands to the union of their targets, in order, up to MAX_TARGETS;
    targets are not followed further (``a, b`` and ``b, c`` do not make ``a`` expand to ``c``), and an
    inflection of the term itself is no target (``bases de données`` does not add ``base de données``).
    Terms beyond MAX_PHRASES are dropped.
    """
    phrases: list[Phrase] = []
    phrase_ids: dict[tuple[str, ...], int] = {}
    phrase_key: list[tuple[str, str]] = []
    by_key: tuple[dict[str, dict[int, None]], dict[str, dict[int, None]]] = ({}, {})

    def phrase_id(text: str) -> int | None:
        words = analyse(text)
        if words not in phrase_ids:
            if len(phrases) >= MAX_PHRASES:
                return None
            phrase_ids[words] = len(phrases)
            phrases.append(Phrase(text, words))
            phrase_key.append(phrase_keys(words))
        return phrase_ids[words]

    for rules in rule_sets:
        for rule in rules:
            sources = [i for i in map(phrase_id, rule.sources) if i is not None]
            targets = [i for i in map(phrase_id, rule.targets) if i is not None]
            for source in sources:
                for side, table in enumerate(by_key):
                    key = phrase_key[source][side]
                    added = table.setdefault(key, {})
                    for target in targets:
                        # an inflection of the key itself, or of a target already there, adds nothing
                        # the stemmed search does not find
                        target_key = phrase_key[target][side]
                        fresh = target_key != key and all(phrase_key[o][side] != target_key for o in added)
                        if fresh and len(added) < MAX_TARGETS:
                            added[target] = None
    used = sorted({i for table in by_key for ids in table.values() for i in ids})
    # keep only terms something expands to, renumbered in their first-seen order
    renumber = {old: new for new, old in enumerate(used)}
    french, english = (
        {key: " ".join(str(renumber[i]) for i in ids) for key, ids in table.items() if ids} for table in by_key
    )
    return SynonymTable([phrases[i].text for i in used], [" ".join(phrases[i].words) for i in used], french, english)
