"""Matching and BM25F-style scoring of parsed clauses over raw posting lists.

Matching and scoring are separate. A clause matches a set of talks, computed with C-level
set operations on cached posting lists; that exact, unscored set is what ``total`` and the
facets count. Scores are computed afterwards and only where they can decide the page: when
many talks match, first for those with a match in a heavily weighted field (title, speakers,
tags, event, company); a talk without one cannot score more than the sum of the light
weights, so when the page is filled above that bound nothing else needs scoring.

Field weights put title above speakers above tags above summary; the unstemmed ``words``
field adds a bonus for the exact form, so exact matches outrank stemmed ones, and typo
corrections, which only reach ``words`` and titles with small weights, rank below both.
"""

from __future__ import annotations

import heapq
import math
import string
from collections import OrderedDict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from threading import Lock

from functions.search.query import Clause
from functions.search.snapshot import IndexSnapshot, TermData, stem_en, stem_fr

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
#: Words in fewer talks than this may still be typos (of a word at least CORRECTION_RATIO times as frequent).
FUZZY_RARE_DF = 50
#: An unknown word's stem must be this long to be completed as a prefix.
STEM_PREFIX_MIN_LENGTH = 4
#: Prefix expansion: look at no more than PREFIX_SCAN vocabulary terms, keep the PREFIX_KEEP most frequent.
PREFIX_SCAN = 2000
PREFIX_KEEP = 16
PREFIX_TITLE_KEEP = 6
#: A "did you mean" correction must be this many times more frequent than the word typed.
CORRECTION_RATIO = 20
NEIGHBOUR_CACHE_SIZE = 1024
#: Weights from this one up make a match "heavy" (see the module docstring).
HEAVY_WEIGHT = 2.0
#: Below this many matching talks, all are scored; above, heavy matches first.
SCORE_ALL_BELOW = 1500

Scores = dict[int, float]
Term = tuple[str, str, float]
Weighted = tuple[TermData, float]


def one_edit_variants(word: str) -> set[str]:
    """Every string one deletion, transposition, replacement or insertion away (Damerau distance 1)."""
    letters = set(string.ascii_lowercase) | set(word)  # digits only where the word has some
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    variants = {left + right[1:] for left, right in splits if right}
    variants |= {left + right[1] + right[0] + right[2:] for left, right in splits if len(right) > 1}
    variants |= {left + c + right[1:] for left, right in splits if right for c in letters}
    variants |= {left + c + right for left, right in splits for c in letters}
    variants.discard(word)
    return variants


@dataclass
class Match:
    """The talks a clause (or a group, or a query) matches, and the weighted terms that score them."""

    docs: set[int] | frozenset[int]
    terms: list[Weighted] = field(default_factory=list)


class Ranker:
    """Turns clauses into matches and ranks matching talks, over one index snapshot."""

    def __init__(self, snapshot: IndexSnapshot) -> None:
        self.snapshot = snapshot
        self._neighbours: OrderedDict[str, tuple[tuple[int, str], ...]] = OrderedDict()
        self._lock = Lock()

    # --- terms ---------------------------------------------------------------------------------
    def word_terms(self, word: str, fuzzy: bool = True) -> list[Term]:
        french, english = stem_fr(word), stem_en(word)
        terms: list[Term] = [
            ("title", french, TITLE_WEIGHT),
            ("summary", french, SUMMARY_WEIGHT),
            ("speakers", word, SPEAKERS_WEIGHT),
            ("tags", word, TAGS_WEIGHT),
            ("company", word, COMPANY_WEIGHT),
            ("event", word, EVENT_WEIGHT),
        ]
        if english != french:
            terms += [("title_en", english, TITLE_WEIGHT), ("summary_en", english, SUMMARY_WEIGHT)]
        if not word == french == english:
            # the exact-form bonus; a word that is its own stem gets nothing from it (and it would
            # re-read the longest posting list of all, every form of every field)
            terms.append(("words", word, EXACT_FORM_WEIGHT))
        if fuzzy:
            for variant in self.typo_alternatives(word):
                terms += [("words", variant, FUZZY_WEIGHT), ("title", stem_fr(variant), FUZZY_TITLE_WEIGHT)]
        return terms

    def typo_alternatives(self, word: str) -> list[str]:
        """Other words to match a rare or unknown word by.

        Its most frequent one-edit neighbours (``kubernets`` -> ``kubernetes``); for a word seen in a
        few talks only, the neighbours far more frequent than itself (the corpus has its typos too:
        ``probablistic``); and for an unknown word without neighbours, the most frequent words
        sharing its stem (``sonify`` -> ``sonification``).
        """
        if len(word) < FUZZY_MIN_LENGTH or not word.isalnum():
            return []
        df = self.snapshot.doc_frequency("words", word)
        if df >= FUZZY_RARE_DF:
            return []
        if df >= FUZZY_BELOW_DF:
            return [v for v_df, v in self.neighbours(word)[:FUZZY_KEEP] if v_df >= CORRECTION_RATIO * df]
        found = [variant for _, variant in self.neighbours(word)[:FUZZY_KEEP]]
        if not found and df == 0:
            stem = min(stem_fr(word), stem_en(word), key=len)
            stem = stem[:-1] if stem == word else stem  # nothing stripped: drop a suffix letter ourselves
            if len(stem) >= STEM_PREFIX_MIN_LENGTH:
                found = [t for t in self.snapshot.expand_prefix("words", stem, PREFIX_SCAN, FUZZY_KEEP) if t != word]
        return found

    def neighbours(self, word: str) -> tuple[tuple[int, str], ...]:
        """(document frequency, variant) of the one-edit neighbours in the vocabulary, most frequent first."""
        with self._lock:
            found = self._neighbours.get(word)
        if found is not None:
            return found
        found = tuple(
            sorted(
                # typos are rarer in a word's first letters: most candidates share its first three
                self.snapshot.known_terms("words", one_edit_variants(word), shared=word[:3]),
                key=lambda pair: (-pair[0], pair[1]),
            )
        )
        with self._lock:
            self._neighbours[word] = found
            if len(self._neighbours) > NEIGHBOUR_CACHE_SIZE:
                self._neighbours.popitem(last=False)
        return found

    def correction(self, word: str) -> str | None:
        """A much more frequent one-edit neighbour to offer instead of ``word``, if there is one."""
        if len(word) < FUZZY_MIN_LENGTH or not word.isalnum():
            return None
        df = self.snapshot.doc_frequency("words", word)
        best = self.neighbours(word)[:1]
        # an unknown word takes any known neighbour; a known one only a far more frequent neighbour
        if best and best[0][0] >= (1 if df == 0 else max(FUZZY_BELOW_DF, CORRECTION_RATIO * df)):
            return best[0][1]
        return None

    def prefix_expansions(self, prefix: str) -> tuple[str, ...]:
        return self.snapshot.expand_prefix("words", prefix, PREFIX_SCAN, PREFIX_KEEP)

    def prefix_terms(self, prefix: str) -> list[Term]:
        expansions = self.prefix_expansions(prefix)
        terms: list[Term] = [("words", term, PREFIX_WEIGHT) for term in expansions]
        terms += [("title", stem_fr(term), PREFIX_TITLE_WEIGHT) for term in expansions[:PREFIX_TITLE_KEEP]]
        return terms

    # --- matching ------------------------------------------------------------------------------
    def match_terms(self, terms: Iterable[Term]) -> Match:
        """Talks containing any of the terms."""
        weighted = [(data, weight) for f, t, weight in terms if (data := self.snapshot.term(f, t)) is not None]
        return Match(frozenset().union(*(data.docs for data, _ in weighted)), weighted)

    def match(self, clause: Clause) -> Match:
        if clause.kind == "word":
            return self.match_terms(self.word_terms(clause.words[0]))
        if clause.kind == "prefix":
            return self.match_terms(self.prefix_terms(clause.words[0]))
        if clause.kind == "name":
            weight = {"speakers": SPEAKERS_WEIGHT, "event": EVENT_WEIGHT, "company": COMPANY_WEIGHT}[clause.field]
            return match_all([self.match_terms([(clause.field, w, weight)]) for w in clause.words])
        return self.match_phrase(clause)

    def match_phrase(self, clause: Clause) -> Match:
        words = clause.words
        together = match_all([self.match_terms(self.word_terms(w, fuzzy=False)) for w in words])
        if not together.docs:
            return together
        # word order is checked in the French-stemmed fields only: their stems are the lighter ones
        # ("learning" stays "learning"), so a phrase stays close to what was typed, and reading the
        # positions of the English-stemmed copies would double the cost of the slowest query kind
        french = [stem_fr(w) for w in words]
        fields = [("title", french), ("summary", french), ("speakers", words), ("event", words), ("company", words)]
        has_term = self.snapshot.has_term
        fields = [(f, w, clause.slop) for f, w in fields if all(has_term(f, term) for term in w)]
        in_order = self.snapshot.phrase_docs(fields, together.docs)
        return Match(in_order, [(data, weight * PHRASE_BONUS) for data, weight in together.terms])

    def match_group(self, group: list[Clause]) -> Match:
        """An OR group: talks matching any clause."""
        matches = [self.match(clause) for clause in group]
        if len(matches) == 1:
            return matches[0]
        return Match(frozenset().union(*(m.docs for m in matches)), [t for m in matches for t in m.terms])

    def excluded_docs(self, clause: Clause) -> frozenset[int]:
        if clause.kind == "word":
            return self.match_terms(self.word_terms(clause.words[0], fuzzy=False)).docs
        return frozenset(self.match(clause).docs)

    # --- ranking -------------------------------------------------------------------------------
    def top(self, docs: Collection[int], terms: list[Weighted], count: int, coordination: list[Match] | None = None):
        """(the ``count`` best of ``docs`` by score, best first; their scores)."""
        if count <= 0 or not docs:
            return [], {}
        docs = docs if isinstance(docs, (set, frozenset)) else set(docs)
        if len(docs) > SCORE_ALL_BELOW and coordination is None:
            heavy_terms = [data.frequencies for data, weight in terms if weight >= HEAVY_WEIGHT]
            heavy = docs.intersection(set().union(*heavy_terms)) if heavy_terms else frozenset()
            if len(heavy) >= count:
                scores = score(heavy, terms)
                best = heapq.nlargest(count, heavy, key=scores.__getitem__)
                ceiling = sum(data.factor * weight for data, weight in terms if weight < HEAVY_WEIGHT)
                if scores[best[-1]] >= ceiling:
                    return best, scores
        scores = score(docs, terms)
        if coordination:
            # any-word ranking: scale by the share of the query matched, each word weighted by its
            # rarity, so four rare words outrank five common ones
            total = self.snapshot.doc_count or 1
            rarity = [(m.docs, math.log(1.0 + total / max(1, len(m.docs)))) for m in coordination]
            whole = sum(weight for _, weight in rarity) or 1.0
            for d in scores:
                scores[d] *= sum(weight for matched, weight in rarity if d in matched) / whole
        return heapq.nlargest(count, docs, key=scores.__getitem__), scores


def score(docs: set[int] | frozenset[int], terms: list[Weighted]) -> Scores:
    """BM25F-style score of each talk in ``docs``: sum of weighted term contributions."""
    scores = dict.fromkeys(docs, 0.0)
    for data, weight in terms:
        common = common_docs(docs, data.frequencies)
        if not common:
            continue
        factor = weight * data.factor
        frequencies, lengths, norms = data.frequencies, data.lengths, data.norms
        for d in common:
            tf = frequencies[d]
            scores[d] += factor * tf / (tf + norms[lengths[d]])
    return scores


def common_docs(docs: set[int] | frozenset[int], frequencies: dict[int, float]) -> set[int] | frozenset[int]:
    """``docs`` that are keys of ``frequencies``, walking whichever side is cheaper."""
    if len(frequencies) <= 3 * len(docs):
        return docs.intersection(frequencies)  # C loop over the dict's keys
    return {d for d in docs if d in frequencies}


def match_all(matches: list[Match]) -> Match:
    """Talks in every match (AND), scored by all their terms."""
    if not matches:
        return Match(frozenset())
    if len(matches) == 1:
        return matches[0]
    ordered = sorted(matches, key=lambda m: len(m.docs))
    docs = ordered[0].docs
    for other in ordered[1:]:
        docs = docs & other.docs
    return Match(docs, [t for m in matches for t in m.terms])


def match_any(matches: list[Match]) -> Match:
    return Match(frozenset().union(*(m.docs for m in matches)), [t for m in matches for t in m.terms])
