"""Matching and BM25F scoring of parsed clauses over raw posting lists.

Matching and scoring are separate. A clause matches a set of talks, computed with C-level
set operations on cached posting lists; that exact, unscored set is what ``total`` and the
facets count. Scores are computed afterwards, for the matching talks.

Scoring is BM25F: each query word is one ``TermGroup`` (its French and English stems in title
and summary, the word in speakers, tags, company and event, its exact form, its typo variants).
Within a group the weighted, length-normalised frequencies are summed *before* one saturation
and one document-level idf, so a word counts once however many fields it is found in, and a
common word in a title cannot outweigh rare words in a summary (docs/relevance.md: summing
per-field BM25 scores let "getting" in titles bury the talk matching "printer" and "slicing").

Field weights put title above speakers above tags above summary; the unstemmed ``words``
field adds weight for the exact form, so exact matches outrank stemmed ones, and typo
corrections, which only reach ``words`` and titles with small weights, rank below both. In
short queries, talks where consecutive words appear close together, in order, rank higher.
"""

from __future__ import annotations

import heapq
import math
import string
from collections import OrderedDict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from threading import Lock
from typing import NamedTuple

from functions.search.query import Clause
from functions.search.snapshot import K1, IndexSnapshot, TermData
from functions.search.words import stem_en, stem_fr

#: BM25F field weights: how many times a field's length-normalised term frequency counts
#: before a word's frequencies are saturated together (the ranking barely moves for title 2–5).
TITLE_WEIGHT = 3.0
SPEAKERS_WEIGHT = 2.5
TAGS_WEIGHT = 2.0
COMPANY_WEIGHT = 1.8
EVENT_WEIGHT = 1.5
SUMMARY_WEIGHT = 1.0
EXACT_FORM_WEIGHT = 0.5
FUZZY_WEIGHT = 0.3
FUZZY_TITLE_WEIGHT = 0.6
PREFIX_WEIGHT = 0.8
PREFIX_TITLE_WEIGHT = 2.0
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
#: Whole-word BM25F contributions kept per index version (common words: thousands of talks each).
CONTRIBUTION_CACHE_SIZE = 64
#: Proximity: in queries of 2 to PROXIMITY_MAX_WORDS plain words, the PROXIMITY_POOL best talks
#: gain up to PROXIMITY_BONUS (times the share of consecutive word pairs found in order at most
#: PROXIMITY_SLOP positions apart; removed stop words keep their positions).
PROXIMITY_MAX_WORDS = 4
PROXIMITY_POOL = 30
PROXIMITY_SLOP = 3
PROXIMITY_BONUS = 0.5
#: Any-word ranking skips combinations of words that cannot reach the page, up to this many words
#: (2^n combinations); longer queries score every talk.
PRUNE_MAX_WORDS = 5

Scores = dict[int, float]
Term = tuple[str, str, float]
Weighted = tuple[TermData, float]


class TermGroup(NamedTuple):
    """The weighted field terms that stand for one query word, scored together (BM25F)."""

    idf: float
    terms: tuple[Weighted, ...]

    def scaled(self, factor: float) -> TermGroup:
        return TermGroup(self.idf, tuple((data, weight * factor) for data, weight in self.terms))


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
    terms: list[TermGroup] = field(default_factory=list)


class Ranker:
    """Turns clauses into matches and ranks matching talks, over one index snapshot."""

    def __init__(self, snapshot: IndexSnapshot) -> None:
        self.snapshot = snapshot
        self._neighbours: OrderedDict[str, tuple[tuple[int, str], ...]] = OrderedDict()
        self._contributions: OrderedDict[tuple, tuple[TermGroup, dict[int, float]]] = OrderedDict()
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
        if df >= FUZZY_RARE_DF:  # a word in this many talks is a word, not a typo
            return None
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
        weighted = tuple((data, weight) for f, t, weight in terms if (data := self.snapshot.term(f, t)) is not None)
        docs = frozenset().union(*(data.frequencies for data, _ in weighted))
        return Match(docs, [TermGroup(self.idf(len(docs)), weighted)] if weighted else [])

    def match(self, clause: Clause) -> Match:
        if clause.kind == "word":
            return self.match_word(self.word_terms(clause.words[0]))
        if clause.kind == "prefix":
            return self.match_word(self.prefix_terms(clause.words[0]))
        if clause.kind == "name":
            weight = {"speakers": SPEAKERS_WEIGHT, "event": EVENT_WEIGHT, "company": COMPANY_WEIGHT}[clause.field]
            return match_all([self.match_terms([(clause.field, w, weight)]) for w in clause.words])
        return self.match_phrase(clause)

    def match_phrase(self, clause: Clause) -> Match:
        words = clause.words
        together = match_all([self.match_word(self.word_terms(w, fuzzy=False)) for w in words])
        if not together.docs:
            return together
        # word order is checked in the French-stemmed fields only: their stems are the lighter ones
        # ("learning" stays "learning"), so a phrase stays close to what was typed, and reading the
        # positions of the English-stemmed copies would double the cost of the slowest query kind
        french = [stem_fr(w) for w in words]
        fields = [("title", french), ("summary", french), ("speakers", words), ("event", words), ("company", words)]
        has_term = self.snapshot.has_term
        fields = [(f, w, clause.slop) for f, w in fields if all(has_term(f, term) for term in w)]
        in_order = self.snapshot.phrase_docs(fields, together.docs, cache=True)
        return Match(in_order, [group.scaled(PHRASE_BONUS) for group in together.terms])

    def match_group(self, group: list[Clause]) -> Match:
        """An OR group: talks matching any clause."""
        matches = [self.match(clause) for clause in group]
        if len(matches) == 1:
            return matches[0]
        return Match(frozenset().union(*(m.docs for m in matches)), [t for m in matches for t in m.terms])

    def excluded_docs(self, clause: Clause) -> frozenset[int]:
        if clause.kind == "word":
            return self.match_word(self.word_terms(clause.words[0], fuzzy=False)).docs
        return frozenset(self.match(clause).docs)

    # --- ranking -------------------------------------------------------------------------------
    def top(
        self,
        docs: Collection[int],
        terms: list[TermGroup],
        count: int,
        coordination: list[Match] | None = None,
        words: Sequence[str] = (),
        first: Collection[int] = (),
    ) -> tuple[list[int], Scores]:
        """(the ``count`` best of ``docs`` by score, best first; their scores).

        ``first``: talks that outrank every other whatever the scores (those with every word, when
        talks with only some of them fill the page).

        ``words``: the query's plain words in order; when there are a few, the PROXIMITY_POOL best
        talks are re-ranked by how many consecutive pairs they hold close together.
        """
        if count <= 0 or not docs:
            return [], {}
        docs = docs if isinstance(docs, (set, frozenset)) else set(docs)
        if coordination:
            reward = PROXIMITY_BONUS if 2 <= len(words) <= PROXIMITY_MAX_WORDS else 0.0
            # bounds hold for plain words only: a talk outside a word's match set has none of its terms
            prune = len(words) == len(coordination) <= PRUNE_MAX_WORDS
            scores = self.coordinated_scores(docs, terms, coordination, count, prune, reward)
            docs = set(scores)
        else:
            scores = self.score(docs, terms)
        key = scores.__getitem__
        if first:

            def key(doc: int) -> tuple[bool, float]:
                return doc in first, scores[doc]

        if not 2 <= len(words) <= PROXIMITY_MAX_WORDS:
            return _best(count, docs, scores, first), scores
        ranked = _best(max(count, PROXIMITY_POOL), docs, scores, first)
        head = ranked[:PROXIMITY_POOL]
        self.reward_proximity(head, list(words), scores)
        # rewards only raise scores: the re-ranked head still outranks everything after it
        head.sort(key=key, reverse=True)
        return (head + ranked[PROXIMITY_POOL:])[:count], scores

    def coordinated_scores(
        self,
        docs: set[int] | frozenset[int],
        terms: list[TermGroup],
        words: list[Match],
        need: int,
        prune: bool,
        reward: float = 0.0,
    ) -> Scores:
        """Any-word scores: BM25F scaled by the share of the query a talk matches, each word weighted
        by its rarity, so four rare words outrank five common ones.

        With ``prune``, talks are taken by which words they have (set operations), from the
        combination with the highest possible score down: a combination's talks cannot score more
        than its share times the sum of its words' idf x (K1 + 1), times 1 + ``reward`` when it has two
        words or more (proximity can raise those). Once ``need`` talks score above the next bound, the
        rest (typically the thousands having only the most common word) is left unscored: the same
        first ``need`` talks, without scoring every talk.
        """
        total = self.snapshot.doc_count or 1
        rarity = [math.log(1.0 + total / max(1, len(m.docs))) for m in words]
        whole = sum(rarity) or 1.0
        if not prune:
            scores = self.score(docs, terms)
            share = dict.fromkeys(scores, 0.0)
            for m, weight in zip(words, rarity, strict=True):  # word by word: no per-talk generator
                for d in common_docs(docs, m.docs):
                    share[d] += weight / whole
            for d, part in share.items():
                scores[d] *= part
            return scores
        ceilings = [sum(group.idf for group in m.terms) * (K1 + 1.0) for m in words]

        def share_of(bits: int) -> float:
            return sum(weight for i, weight in enumerate(rarity) if bits >> i & 1) / whole

        def bound(bits: int) -> float:
            raised = 1.0 + reward if bits & (bits - 1) else 1.0  # more than one bit: proximity may apply
            return raised * share_of(bits) * sum(c for i, c in enumerate(ceilings) if bits >> i & 1)

        scores: Scores = {}
        lowest: list[float] = []  # min-heap of the ``need`` best scores so far
        for bits in sorted(range(1, 1 << len(words)), key=bound, reverse=True):
            if len(lowest) >= need and lowest[0] >= bound(bits):
                break
            having = sorted((m.docs for i, m in enumerate(words) if bits >> i & 1), key=len)
            members = docs.intersection(*having)
            for i, m in enumerate(words):
                if not bits >> i & 1 and members:
                    members = members - m.docs  # walks ``members``, not the other word's talks
            factor = share_of(bits)
            for d, value in self.score(members, terms).items():
                scores[d] = value = value * factor
                if len(lowest) < need:
                    heapq.heappush(lowest, value)
                elif value > lowest[0]:
                    heapq.heapreplace(lowest, value)
        return scores

    def score(self, docs: set[int] | frozenset[int], groups: list[TermGroup]) -> Scores:
        """BM25F score of each talk in ``docs``: per word, its idf times its saturated weighted frequency.

        A word whose talks are mostly all being scored (a one-word query, the talks having only the
        common word of a longer one) has its contribution to every talk computed once and cached:
        "python" alone is in half the corpus and in many queries.
        """
        scores = dict.fromkeys(docs, 0.0)
        for group in groups:
            cached = self._word_contributions(group, len(docs))
            if cached is None:
                factor = group.idf * (K1 + 1.0)
                for d, frequency in weighted_frequencies(docs, group).items():
                    scores[d] += factor * frequency / (K1 + frequency)
                continue
            get = cached.get
            for d in docs:
                scores[d] += get(d, 0.0)
        return scores

    def _word_contributions(self, group: TermGroup, wanted: int) -> dict[int, float] | None:
        """One word's BM25F contribution to each of its talks, when worth computing for all of them."""
        key = (group.idf, *((id(data), weight) for data, weight in group.terms))
        with self._lock:
            found = self._contributions.get(key)
            if found is not None:
                self._contributions.move_to_end(key)
                return found[1]
        largest = max((len(data.frequencies) for data, _ in group.terms), default=0)
        if wanted * 2 < largest:  # a few of its talks only: cheaper to score just those
            return None
        talks = set().union(*(data.frequencies for data, _ in group.terms))
        factor = group.idf * (K1 + 1.0)
        contributions = {d: factor * f / (K1 + f) for d, f in weighted_frequencies(talks, group).items()}
        with self._lock:
            # the group is kept with its contributions: its TermData stay alive, so their ids stay theirs
            self._contributions[key] = (group, contributions)
            if len(self._contributions) > CONTRIBUTION_CACHE_SIZE:
                self._contributions.popitem(last=False)
        return contributions

    def reward_proximity(self, docs: list[int], words: list[str], scores: Scores) -> None:
        """Raise the scores of talks where consecutive query words appear close together, in order."""
        pairs = list(pairwise(words))
        close = dict.fromkeys(docs, 0)
        has_term = self.snapshot.has_term
        for first, second in pairs:
            # French stems, as phrases: the lighter stems, and one position list per field
            fields = [(f, [stem_fr(first), stem_fr(second)]) for f in ("title", "summary")]
            fields.append(("speakers", [first, second]))
            present = [(f, pair, PROXIMITY_SLOP) for f, pair in fields if all(has_term(f, t) for t in pair)]
            for d in self.snapshot.phrase_docs(present, docs):
                close[d] += 1
        for d, found in close.items():
            if found:
                scores[d] *= 1.0 + PROXIMITY_BONUS * found / len(pairs)


def _best(count: int, docs: set[int] | frozenset[int], scores: Scores, first: Collection[int]) -> list[int]:
    """The ``count`` best talks: those in ``first`` before the others, each part by score.

    Two selections with the C-level ``scores.__getitem__`` key rather than one with a Python key
    function returning (in first, score) for every matching talk.
    """
    if not first:
        return heapq.nlargest(count, docs, key=scores.__getitem__)
    leading = [d for d in first if d in scores]
    best = heapq.nlargest(count, leading, key=scores.__getitem__)
    if len(best) < count:
        rest = docs.difference(leading)
        best += heapq.nlargest(count - len(best), rest, key=scores.__getitem__)
    return best


def weighted_frequencies(docs: set[int] | frozenset[int], group: TermGroup) -> dict[int, float]:
    """Per talk, the sum over the group's terms of weight × tf / (1 - B + B × length / average length)."""
    total: dict[int, float] = {}
    for data, weight in group.terms:
        common = common_docs(docs, data.frequencies)
        if not common:
            continue
        scale = weight * K1  # norms hold K1 × (1 - B + B × length / average length)
        frequencies, lengths, norms = data.frequencies, data.lengths, data.norms
        if not total:
            total = {d: scale * frequencies[d] / norms[lengths[d]] for d in common}
            continue
        get = total.get
        for d in common:
            total[d] = get(d, 0.0) + scale * frequencies[d] / norms[lengths[d]]
    return total


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
    return Match(docs, [t for m in matches for t in m.terms])
