"""Matching and BM25F-style scoring of parsed clauses over raw posting lists.

A clause's talks and scores come out together as one ``{doc: score}`` dict: the keys are
the exact, unscored match set the facets count over, the values rank the page. Field
weights put title above speakers above tags above summary; the unstemmed ``words`` field
adds a bonus for the exact form, so exact matches outrank stemmed ones and both outrank
typo corrections, which only exist in ``words`` and carry a small weight.
"""

from __future__ import annotations

import string
from collections import OrderedDict
from collections.abc import Iterable
from threading import Lock

from functions.search.query import Clause
from functions.search.snapshot import K1, IndexSnapshot, stem_en, stem_fr

#: Field weights (BM25F-style: a term's contribution in a field times the field's weight).
TITLE_WEIGHT = 6.0
SPEAKERS_WEIGHT = 4.0
TAGS_WEIGHT = 3.0
COMPANY_WEIGHT = 2.5
EVENT_WEIGHT = 2.0
SUMMARY_WEIGHT = 1.0
EXACT_FORM_WEIGHT = 0.8
FUZZY_WEIGHT = 0.3
FUZZY_TITLE_WEIGHT = 1.5
PREFIX_WEIGHT = 0.8
PREFIX_TITLE_WEIGHT = 3.0
PHRASE_BONUS = 1.5

#: Typo tolerance: words at least this long, rarer than this in the vocabulary, get their
#: most frequent one-edit neighbours (at most FUZZY_KEEP) as alternatives.
FUZZY_MIN_LENGTH = 4
FUZZY_BELOW_DF = 3
FUZZY_KEEP = 4
#: Prefix expansion: look at no more than PREFIX_SCAN vocabulary terms, keep the PREFIX_KEEP most frequent.
PREFIX_SCAN = 2000
PREFIX_KEEP = 24
PREFIX_TITLE_KEEP = 8
#: A "did you mean" correction must be this many times more frequent than the word typed.
CORRECTION_RATIO = 20
CONTRIBUTION_CACHE_SIZE = 256

_ALPHABET = string.ascii_lowercase + string.digits

Scores = dict[int, float]
Term = tuple[str, str, float]


def one_edit_variants(word: str) -> set[str]:
    """Every string one deletion, transposition, replacement or insertion away (Damerau distance 1)."""
    letters = set(_ALPHABET) | set(word)
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    variants = {left + right[1:] for left, right in splits if right}
    variants |= {left + right[1] + right[0] + right[2:] for left, right in splits if len(right) > 1}
    variants |= {left + c + right[1:] for left, right in splits if right for c in letters}
    variants |= {left + c + right for left, right in splits for c in letters}
    variants.discard(word)
    return variants


class Ranker:
    """Turns clauses into scored match sets over one index snapshot."""

    def __init__(self, snapshot: IndexSnapshot) -> None:
        self.snapshot = snapshot
        self._contributions: OrderedDict[tuple[str, str], Scores] = OrderedDict()
        self._neighbours: OrderedDict[str, list[tuple[int, str]]] = OrderedDict()
        self._lock = Lock()

    # --- terms ---------------------------------------------------------------------------------
    def word_terms(self, word: str, fuzzy: bool = True) -> list[Term]:
        french, english = stem_fr(word), stem_en(word)
        terms: list[Term] = [
            ("title", french, TITLE_WEIGHT),
            ("summary", french, SUMMARY_WEIGHT),
            ("words", word, EXACT_FORM_WEIGHT),
            ("speakers", word, SPEAKERS_WEIGHT),
            ("tags", word, TAGS_WEIGHT),
            ("company", word, COMPANY_WEIGHT),
            ("event", word, EVENT_WEIGHT),
        ]
        if english != french:
            terms += [("title_en", english, TITLE_WEIGHT), ("summary_en", english, SUMMARY_WEIGHT)]
        if fuzzy:
            for variant in self.typo_alternatives(word):
                terms += [("words", variant, FUZZY_WEIGHT), ("title", stem_fr(variant), FUZZY_TITLE_WEIGHT)]
        return terms

    def typo_alternatives(self, word: str) -> list[str]:
        """Frequent one-edit neighbours of a rare or unknown word (``kubernets`` -> ``kubernetes``)."""
        if len(word) < FUZZY_MIN_LENGTH or not word.isalnum():
            return []
        if self.snapshot.doc_frequency("words", word) >= FUZZY_BELOW_DF:
            return []
        return [variant for _, variant in self.neighbours(word)[:FUZZY_KEEP]]

    def neighbours(self, word: str) -> list[tuple[int, str]]:
        """(document frequency, variant) of the one-edit neighbours present in the vocabulary, most frequent first."""
        with self._lock:
            found = self._neighbours.get(word)
        if found is not None:
            return found
        frequency = self.snapshot.doc_frequency
        found = sorted(
            ((df, variant) for variant in one_edit_variants(word) if (df := frequency("words", variant))),
            key=lambda pair: (-pair[0], pair[1]),
        )
        with self._lock:
            self._neighbours[word] = found
            if len(self._neighbours) > CONTRIBUTION_CACHE_SIZE:
                self._neighbours.popitem(last=False)
        return found

    def correction(self, word: str) -> str | None:
        """A much more frequent one-edit neighbour to offer instead of ``word``, if there is one."""
        if len(word) < FUZZY_MIN_LENGTH or not word.isalnum():
            return None
        df = self.snapshot.doc_frequency("words", word)
        for variant_df, variant in self.neighbours(word):
            if variant_df >= max(FUZZY_BELOW_DF, CORRECTION_RATIO * df):
                return variant
            break
        return None

    def prefix_terms(self, prefix: str) -> tuple[list[Term], list[str]]:
        expansions = self.snapshot.expand_prefix("words", prefix, PREFIX_SCAN, PREFIX_KEEP)
        terms: list[Term] = [("words", term, PREFIX_WEIGHT) for term in expansions]
        terms += [("title", stem_fr(term), PREFIX_TITLE_WEIGHT) for term in expansions[:PREFIX_TITLE_KEEP]]
        return terms, expansions

    # --- scoring -------------------------------------------------------------------------------
    def contributions(self, fieldname: str, term: str) -> Scores:
        """BM25 contribution of one term in one field to each talk containing it (unweighted, cached)."""
        key = (fieldname, term)
        with self._lock:
            found = self._contributions.get(key)
            if found is not None:
                self._contributions.move_to_end(key)
                return found
        ids, frequencies = self.snapshot.postings(fieldname, term)
        if ids:
            lengths, norms = self.snapshot.length_norms(fieldname)
            factor = self.snapshot.idf(fieldname, term) * (K1 + 1.0)
            found = {d: factor * tf / (tf + norms[lengths[d]]) for d, tf in zip(ids, frequencies, strict=False)}
        else:
            found = {}
        with self._lock:
            self._contributions[key] = found
            if len(self._contributions) > CONTRIBUTION_CACHE_SIZE:
                self._contributions.popitem(last=False)
        return found

    def score_terms(self, terms: Iterable[Term]) -> Scores:
        """Sum of weighted contributions over the talks containing any of the terms."""
        total: Scores = {}
        for fieldname, term, weight in terms:
            part = self.contributions(fieldname, term)
            if not part:
                continue
            if not total:
                total = {d: weight * s for d, s in part.items()}
                continue
            get = total.get
            for d, s in part.items():
                total[d] = get(d, 0.0) + weight * s
        return total

    def clause_scores(self, clause: Clause) -> Scores:
        if clause.kind == "word":
            return self.score_terms(self.word_terms(clause.words[0]))
        if clause.kind == "prefix":
            return self.score_terms(self.prefix_terms(clause.words[0])[0])
        if clause.kind == "name":
            weight = {"speakers": SPEAKERS_WEIGHT, "event": EVENT_WEIGHT, "company": COMPANY_WEIGHT}[clause.field]
            return intersect_scores([self.score_terms([(clause.field, w, weight)]) for w in clause.words])
        return self.phrase_scores(clause)

    def phrase_scores(self, clause: Clause) -> Scores:
        words = clause.words
        together = intersect_scores([self.score_terms(self.word_terms(w, fuzzy=False)) for w in words])
        if not together:
            return {}
        french = [stem_fr(w) for w in words]
        english = [stem_en(w) for w in words]
        slop = clause.slop
        fields = [
            ("title", french, slop),
            ("summary", french, slop),
            ("title_en", english, slop),
            ("summary_en", english, slop),
            ("speakers", words, slop),
            ("event", words, slop),
            ("company", words, slop),
        ]
        in_order = self.snapshot.phrase_docs(fields, set(together))
        return {d: PHRASE_BONUS * together[d] for d in in_order}

    def excluded_docs(self, clause: Clause) -> set[int]:
        if clause.kind == "word":
            return set(self.score_terms(self.word_terms(clause.words[0], fuzzy=False)))
        return set(self.clause_scores(clause))


def intersect_scores(parts: list[Scores]) -> Scores:
    """Talks in every part, with the sum of their scores."""
    if not parts or any(not p for p in parts):
        return {}
    parts = sorted(parts, key=len)
    smallest, rest = parts[0], parts[1:]
    common = smallest.keys()
    for other in rest:
        common = common & other.keys()
    return {d: sum(p[d] for p in parts) for d in common}


def union_scores(parts: list[Scores]) -> Scores:
    """Talks in any part; scores summed and scaled by the share of parts matched (coordination)."""
    total: Scores = {}
    matched: dict[int, int] = {}
    for part in parts:
        for d, s in part.items():
            total[d] = total.get(d, 0.0) + s
            matched[d] = matched.get(d, 0) + 1
    count = len(parts) or 1
    return {d: s * matched[d] / count for d, s in total.items()}
