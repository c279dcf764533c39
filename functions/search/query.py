"""Reading what a visitor typed into a structured query, leniently.

Understood: plain words (all must match), ``"phrases"``, ``-word`` / ``-"phrase"`` /
``NOT word`` to exclude, ``a OR b``, ``prefix*``, and the fields ``speaker:``, ``event:``,
``company:`` and ``year:`` (``year:2019``, ``year:2015-2019``). Anything malformed
(an unbalanced quote or parenthesis, a lone operator, a stray colon, an unknown field,
a leading or bare wildcard) is read as plain words, so parsing never fails.

Stop words are dropped, except tech terms (``AI``, ``C``: ``TECH_STOP_WORDS``), and except when every
word typed is one (``the``, ``les``, ``to be or not to be``): those words are then searched as words,
so a query is never swallowed into a browse of every talk.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from dataclasses import dataclass, field
from itertools import pairwise

from talksearch.analysis import folded_tokens, name_words, query_words

#: Words beyond this many are ignored: each costs posting-list reads.
MAX_CLAUSES = 12
#: Prefixes shorter than this are searched as plain words (``a*`` would touch the whole vocabulary).
MIN_PREFIX_LENGTH = 2
YEAR_RANGE = (1900, 2100)

NAME_FIELDS = {"speaker": "speakers", "speakers": "speakers", "event": "event", "company": "company"}

_TOKEN = re.compile(
    r"""(?P<neg>-)?                                  # exclusion
        (?:(?P<field>[^\W\d_]+):(?=\S))?              # field: (a colon followed by something)
        (?:"(?P<phrase>[^"]*)(?P<close>")?            # "phrase" (the closing quote may be missing)
          |(?P<word>[^\s"]+))""",
    re.VERBOSE,
)
_YEAR = re.compile(r"^(\d{4})(?:(?:-|\.\.)(\d{4}))?$")


@dataclass
class Clause:
    """One thing a talk must (or must not) contain.

    kind ``word``: one folded word, matched exactly, by its stems, and (when rare) by its typos.
    kind ``prefix``: any word starting with ``words[0]``.
    kind ``phrase``: ``words`` in this order (``slop`` > 1 where stop words were removed).
    kind ``name``: ``words`` in the name field ``field`` (speakers, event, company).
    kind ``expanded``: a glossary or synonym entry (``functions.search.translations``): the clauses
    ``typed`` (words, or one phrase) or any of the ``targets`` (a word or a phrase each).
    """

    kind: str
    words: list[str]
    text: str
    field: str = ""
    slop: int = 1
    # ``field`` is a name above: dataclasses.field by its module
    typed: list[Clause] = dataclasses.field(default_factory=list)
    targets: list[Clause] = dataclasses.field(default_factory=list)


@dataclass
class ParsedQuery:
    #: AND of groups; a group is an OR of clauses (a plain word is a group of one)
    groups: list[list[Clause]] = field(default_factory=list)
    excluded: list[Clause] = field(default_factory=list)
    years: set[int] = field(default_factory=set)
    #: the text the visitor typed, normalised (what ``did_you_mean`` rewrites)
    text: str = ""

    def clauses(self) -> list[Clause]:
        return [c for group in self.groups for c in group]


def normalise_text(text: str) -> str:
    """NFC, control/format characters and lone surrogates turned into spaces, whitespace collapsed."""
    text = unicodedata.normalize("NFC", text.encode("utf-8", "replace").decode("utf-8"))
    cleaned = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp") else ch for ch in text)
    return " ".join(cleaned.split())


def _phrase(text: str) -> tuple[list[str], int]:
    """Folded non-stop words of a phrase and the slop that allows for the stop words removed between them."""
    tokens = folded_tokens(text)
    words = [word for word, _ in tokens]
    gaps = [b - a for (_, a), (_, b) in pairwise(tokens)]
    return words, max(gaps, default=1)


def _years(value: str) -> set[int] | None:
    match = _YEAR.match(value)
    if not match:
        return None
    first = int(match.group(1))
    last = int(match.group(2) or first)
    low, high = YEAR_RANGE
    if not (low <= first <= high and low <= last <= high) or last < first:
        return None
    return set(range(first, last + 1))


def _word_clauses(raw: str, keep_stop: bool = False) -> list[Clause]:
    """Clauses of one space-free chunk: ``kube*`` is a prefix, ``l'API`` / ``node.js`` are several words."""
    stripped = raw.strip("*?")
    is_prefix = raw.endswith("*") and not raw.startswith("*") and "*" not in raw.rstrip("*") and "?" not in raw
    words = query_words(stripped, keep_stop)
    if is_prefix and words and len(words[-1]) >= MIN_PREFIX_LENGTH and re.search(r"\w\*+$", raw):
        *rest, last = words
        return [Clause("word", [w], w) for w in rest] + [Clause("prefix", [last], raw)]
    return [Clause("word", [w], w) for w in words]


def parse_query(text: str) -> ParsedQuery:
    query = _parse(normalise_text(text), keep_stop=False)
    if not query.groups:  # nothing but stop words (or nothing at all): search them as words
        query.groups = _parse(query.text, keep_stop=True).groups
    return query


def _parse(text: str, keep_stop: bool) -> ParsedQuery:
    query = ParsedQuery(text=text)
    # parentheses group nothing here: read them as spaces
    scan = text.replace("(", " ").replace(")", " ")
    negate_next = False
    or_next = False
    for match in _TOKEN.finditer(scan):
        negated = bool(match.group("neg")) or negate_next
        negate_next = False
        word = match.group("word")
        if word in ("AND", "&&"):
            continue
        if word in ("NOT", "!"):
            negate_next = True
            continue
        if word in ("OR", "||"):
            or_next = bool(query.groups)
            continue
        clauses = _clauses_of(match, query, keep_stop)
        if not clauses:
            continue
        if negated:
            query.excluded.extend(c for c in clauses if c.kind != "prefix")
        elif or_next and query.groups:
            query.groups[-1].extend(clauses)
        else:
            # a word typed twice is one requirement ("python python" is "python")
            query.groups.extend([c] for c in clauses if [c] not in query.groups)
        or_next = False
    del query.groups[MAX_CLAUSES:]
    del query.excluded[MAX_CLAUSES:]
    return query


def _clauses_of(match: re.Match, query: ParsedQuery, keep_stop: bool) -> list[Clause]:
    name = (match.group("field") or "").lower()
    phrase = match.group("phrase")
    closed = match.group("close") is not None
    value = phrase if phrase is not None else match.group("word") or ""
    if name == "year":
        years = _years(value.strip())
        if years is not None and not match.group("neg"):
            query.years |= years
            return []
        return _word_clauses(value, keep_stop)
    if name in NAME_FIELDS:
        words = name_words(value)
        return [Clause("name", words, value, field=NAME_FIELDS[name])] if words else []
    clauses: list[Clause] = []
    if match.group("field"):  # unknown field: its name is just another word
        clauses.extend(_word_clauses(match.group("field"), keep_stop))
    if phrase is not None and closed and not keep_stop:
        words, slop = _phrase(phrase)
        if len(words) > 1:
            clauses.append(Clause("phrase", words, phrase, slop=slop))
        elif words:
            clauses.append(Clause("word", words, phrase))
        return clauses
    for chunk in value.split():
        clauses.extend(_word_clauses(chunk, keep_stop))
    return clauses
