"""Which talks a query's clauses match, before anything is scored.

A clause matches a set of talks, computed with C-level set operations on cached posting lists;
that exact, unscored set is what ``total`` and the facets count. With it come the term groups
that will score those talks (``scoring``): one ``TermGroup`` per query word, the weighted field
terms ``expansion`` finds for it.

An ``expanded`` clause (a glossary or synonym entry, ``translations``) matches the talks having the
words as typed or any of its targets, and scores each talk by its best evidence only: the typed term
(several words: as a phrase), else a translation (TRANSLATION_WEIGHT), else the typed words scattered
(SCATTERED_WEIGHT). Each piece of evidence is term groups that count only ``within`` its own talks:
the cached posting lists are shared, never copied per query.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from functions.search.expansion import NAME_WEIGHTS, Expander, Term
from functions.search.lru import LRU, size_of_numbers
from functions.search.query import Clause
from functions.search.snapshot import TITLE_STOP_WORDS, IndexSnapshot, TermData
from functions.search.words import stem_fr

#: A phrase found in order scores this many times its words.
PHRASE_BONUS = 1.5
#: Expanded clauses: a translation or synonym counts this much of the words as typed (so talks in the
#: language typed lead and translated ones fill in: docs/relevance.md measured 0.5-0.8) ...
TRANSLATION_WEIGHT = 0.6
#: ... several typed words found apart, not as a term, this much (cross-language stem collisions:
#: "systèmes distribués" in "Operating System: ... Distribution") ...
SCATTERED_WEIGHT = 0.5
#: ... and a term (typed or translated) in a title this many times more.
TITLE_TERM_BONUS = 1.5
#: Several typed words count as the term when no more than this many positions apart, in order.
TYPED_TERM_SLOP = 3
#: Matches of expanded clauses kept per index version (the same entries come back query after query).
EXPANDED_CACHE_SIZE = 256
#: Matches of words kept per index version (and by the bytes they hold, ``lru.MemoryBudget``): a common
#: word's talks are one union of its field terms' talks (a few ms for a two-letter prefix), and the same
#: set object coming back lets the facet counts of that set be kept too (``facets.FacetIndex``).
WORD_CACHE_SIZE = 1024

Weighted = tuple[TermData, float]


class TermGroup(NamedTuple):
    """The weighted field terms that stand for one query word, scored together (BM25F).

    ``within``: the talks it counts in (None: all of its terms' talks).
    """

    idf: float
    terms: tuple[Weighted, ...]
    within: frozenset[int] | None = None

    def scaled(self, factor: float) -> TermGroup:
        return TermGroup(self.idf, tuple((data, weight * factor) for data, weight in self.terms), self.within)


@dataclass
class Match:
    """The talks a clause (or a group, or a query) matches, and the term groups that score them."""

    docs: set[int] | frozenset[int]
    groups: list[TermGroup] = field(default_factory=list)
    #: the most its groups can add to one talk's score, over idf x (K1 + 1); None: the sum of their idfs
    ceiling: float | None = None


@dataclass(frozen=True)
class Coordination:
    """Ranking by share of the query: fewer than a page of talks had every word, so talks with some follow.

    ``words``: each query word's own match, in query order; ``complete``: the talks having every
    word, which rank before all others whatever their scores; ``widths``: how many plain words each
    one is (an expanded run of typed words is one requirement of several words; 0: not plain words).
    """

    words: list[Match]
    complete: Collection[int]
    widths: tuple[int, ...] = ()

    def matched(self, results: Collection[int]) -> str:
        """The answer's ``matched``: "some" when talks with every word lead the results, "any" when none has."""
        return "any" if frozenset(self.complete).isdisjoint(results) else "some"


class ClauseMatcher:
    """Clauses → matches, over one index snapshot."""

    def __init__(self, snapshot: IndexSnapshot, expander: Expander) -> None:
        self.snapshot = snapshot
        self.expander = expander
        self._expanded: LRU[tuple, Match] = LRU(EXPANDED_CACHE_SIZE, cost=match_bytes)
        self._words: LRU[tuple, Match] = LRU(WORD_CACHE_SIZE, cost=match_bytes)

    def idf(self, doc_frequency: int) -> float:
        total = self.snapshot.doc_count
        return math.log(1.0 + (total - doc_frequency + 0.5) / (doc_frequency + 0.5))

    def match_terms(self, terms: Iterable[Term]) -> Match:
        """Talks containing any of the terms, each term scored on its own (independent words)."""
        weighted = [(data, weight) for f, t, weight in terms if (data := self.snapshot.term(f, t)) is not None]
        groups = [TermGroup(self.idf(len(data.frequencies)), ((data, weight),)) for data, weight in weighted]
        return Match(frozenset().union(*(data.frequencies for data, _ in weighted)), groups)

    def match_word(self, terms: Iterable[Term]) -> Match:
        """Talks containing any of the terms, which all stand for one word: one group, one idf."""
        return self._words.get_or_compute(tuple(terms), self._match_word)

    def _match_word(self, terms: tuple[Term, ...]) -> Match:
        weighted = tuple((data, weight) for f, t, weight in terms if (data := self.snapshot.term(f, t)) is not None)
        docs = frozenset().union(*(data.frequencies for data, _ in weighted))
        return Match(docs, [TermGroup(self.idf(len(docs)), weighted)] if weighted else [])

    def every_word(self, words: Iterable[str]) -> Match:
        """Talks having every one of the words (no typo alternatives), scored by all of them."""
        return match_all([self.match_word(self.expander.word_terms(w, fuzzy=False)) for w in words])

    def match(self, clause: Clause) -> Match:
        if clause.kind == "word":
            return self.match_word(self.expander.word_terms(clause.words[0]))
        if clause.kind == "prefix":
            return self.match_word(self.expander.prefix_terms(clause.words[0]))
        if clause.kind == "name":
            weight = NAME_WEIGHTS[clause.field]
            return match_all([self.match_terms([(clause.field, w, weight)]) for w in clause.words])
        if clause.kind == "expanded":
            key = tuple(tuple((c.kind, *c.words, c.slop) for c in part) for part in (clause.typed, clause.targets))
            return self._expanded.get_or_compute(key, lambda _: self.match_expanded(clause))
        return self.match_phrase(clause)

    def postings_at_most(self, clause: Clause) -> int | None:
        """No fewer than the talks the match of a word or prefix clause holds, summed over its field terms, from
        document frequencies alone (they count deleted talks too): no posting list read. None for other
        clauses and for a stop word (its titles are found, not counted)."""
        if clause.kind == "word":
            terms = self.expander.word_terms(clause.words[0])
        elif clause.kind == "prefix":
            terms = self.expander.prefix_terms(clause.words[0])
        else:
            return None
        if any(fieldname == TITLE_STOP_WORDS for fieldname, _, _ in terms):
            return None
        return sum(self.snapshot.doc_frequency(fieldname, term) for fieldname, term, _ in terms)

    def match_expanded(self, clause: Clause) -> Match:
        """Talks with the typed words or a target; each talk scored by its best evidence only (a talk
        saying "Kubernetes" and "k8s", or a bilingual summary, is not worth two words)."""
        # a run that is an entry is spelled right: its words need no typo neighbours
        typed = match_all(
            [
                self.match_word(self.expander.word_terms(c.words[0], fuzzy=False))
                if c.kind == "word"
                else self.match(c)
                for c in clause.typed
            ]
        )
        evidence: list[tuple[frozenset[int], list[TermGroup], float]] = []
        scattered = []
        if len(clause.typed) > 1:  # several words: as the term they make, then anywhere in the talk
            words = [c.words[0] for c in clause.typed]
            evidence += self._term_evidence(Clause("phrase", words, clause.text, slop=TYPED_TERM_SLOP), 1.0)
            scattered.append((frozenset(typed.docs), typed.groups, SCATTERED_WEIGHT))
        else:
            evidence.append((frozenset(typed.docs), typed.groups, 1.0))
        # one-word targets are one word to BM25F (one idf over all their talks, frequencies summed:
        # "beginner" and "newcomers" are one concept, and the rarest must not win for being rare)
        words = [t.words[0] for t in clause.targets if t.kind == "word"]
        singles = [term for word in words for term in self.expander.word_terms(word, fuzzy=False)]
        if singles:
            found = self.match_word(singles)
            evidence.append((frozenset(found.docs), found.groups, TRANSLATION_WEIGHT))
        for target in clause.targets:
            if target.kind == "phrase":
                evidence += self._term_evidence(target, TRANSLATION_WEIGHT)
        assigned: frozenset[int] = frozenset()
        groups: list[TermGroup] = []
        ceiling = 0.0
        for docs, term_groups, factor in evidence + scattered:
            docs = docs - assigned
            if docs and term_groups:
                # the factor scales the idf (the whole contribution): BM25 saturation would swallow
                # most of a factor on frequencies
                groups += [TermGroup(g.idf * factor, g.terms, docs) for g in term_groups]
                ceiling = max(ceiling, factor * sum(g.idf for g in term_groups))
                assigned = assigned | docs
        return Match(assigned, groups, ceiling)

    def _term_evidence(self, clause: Clause, factor: float) -> list[tuple[frozenset[int], list[TermGroup], float]]:
        """A phrase's talks: those with it in their title count TITLE_TERM_BONUS more."""
        together, in_title, elsewhere = self._phrase_talks(clause)
        groups = [group.scaled(PHRASE_BONUS) for group in together.groups]
        return [(in_title, groups, factor * TITLE_TERM_BONUS), (elsewhere, groups, factor)]

    def match_phrase(self, clause: Clause) -> Match:
        together, in_title, elsewhere = self._phrase_talks(clause)
        return Match(in_title | elsewhere, [group.scaled(PHRASE_BONUS) for group in together.groups])

    def _phrase_talks(self, clause: Clause) -> tuple[Match, frozenset[int], frozenset[int]]:
        """(the talks having every word of the phrase, those with it in order in their title, those with
        it in order elsewhere only): the title first, so its positions are read once for both uses."""
        words = clause.words
        together = self.every_word(words)
        if not together.docs:
            return together, frozenset(), frozenset()
        # word order is checked in the French-stemmed fields only: their stems are the lighter ones
        # ("learning" stays "learning"), so a phrase stays close to what was typed, and reading the
        # positions of the English-stemmed copies would double the cost of the slowest query kind
        french = [stem_fr(w) for w in words]
        fields = [("title", french), ("summary", french), ("speakers", words), ("event", words), ("company", words)]
        has_term = self.snapshot.has_term
        fields = [(f, w, clause.slop) for f, w in fields if all(has_term(f, term) for term in w)]
        title = [spec for spec in fields if spec[0] == "title"]
        others = [spec for spec in fields if spec[0] != "title"]
        # both sets follow from the words alone: cached by fields and words
        in_title = frozenset(self.snapshot.phrase_docs(title, together.docs, cache=True)) if title else frozenset()
        rest = frozenset(together.docs) - in_title
        elsewhere = frozenset(self.snapshot.phrase_docs(others, rest, cache=True)) if others and rest else frozenset()
        return together, in_title, elsewhere

    def match_group(self, group: list[Clause]) -> Match:
        """An OR group: talks matching any clause."""
        matches = [self.match(clause) for clause in group]
        if len(matches) == 1:
            return matches[0]
        return match_any(matches)

    def excluded_docs(self, clause: Clause) -> frozenset[int]:
        if clause.kind == "word":
            return self.match_word(self.expander.word_terms(clause.words[0], fuzzy=False)).docs
        return frozenset(self.match(clause).docs)


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
    return Match(docs, [g for m in matches for g in m.groups])


def match_any(matches: list[Match]) -> Match:
    return Match(frozenset().union(*(m.docs for m in matches)), [g for m in matches for g in m.groups])


def match_some(matches: list[Match], enough: int, most: int) -> Match:
    """Talks with some of the words: the rarest words' talks, adding words until there are ``enough``.

    Adding stops before a word that would take the set past ``most`` talks: filling a page after the
    few talks with every word does not need every talk that says "python" (for "supernovas python"),
    and scoring them all was the dearest part of such queries.
    """
    docs: frozenset[int] = frozenset()
    for match in sorted(matches, key=lambda m: len(m.docs)):
        if len(docs) >= enough or (docs and len(docs) + len(match.docs) > most):
            break
        docs = docs.union(match.docs)
    return Match(docs, [g for m in matches for g in m.groups])


def match_bytes(match: Match) -> int:
    """A cached match: its set of talks and its groups' own sets (the talk numbers and the posting lists
    are the cached terms')."""
    return size_of_numbers(match.docs) + sum(size_of_numbers(g.within or ()) for g in match.groups)
