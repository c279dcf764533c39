"""BM25F scores of matching talks, and the best of them for a page.

Each query word is one ``TermGroup``: its weighted, length-normalised frequencies in every field are
summed *before* one saturation and one document-level idf, so a word counts once however many fields
it is found in, and a common word in a title cannot outweigh rare words in a summary (docs/relevance.md:
summing per-field BM25 scores let "getting" in titles bury the talk matching "printer" and "slicing").
In short queries, talks where consecutive words appear close together, in order, rank higher. When
talks with only some of the words are ranked (``Coordination``), scores are scaled by the share of
the query each talk matches, each word weighted by its rarity.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Collection, Sequence
from itertools import islice, pairwise
from operator import countOf

from functions.search.lru import LRU, size_of_numbers
from functions.search.matching import Coordination, Match, TermGroup
from functions.search.snapshot import K1, IndexSnapshot
from functions.search.words import stem_fr

#: Whole-word BM25F contributions kept per index version (common words: thousands of talks each), and
#: those words' talks in the canonical order (their impact order), each bounded by the bytes held too.
CONTRIBUTION_CACHE_SIZE = 512
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


class Scorer:
    """Scores and ranks matching talks over one index snapshot (whole-word contributions cached per version)."""

    def __init__(self, snapshot: IndexSnapshot) -> None:
        self.snapshot = snapshot
        self._contributions: LRU[tuple, tuple[TermGroup, dict[int, float]]] = LRU(
            CONTRIBUTION_CACHE_SIZE, cost=_contributions_bytes
        )
        self._impact_orders: LRU[tuple, tuple[TermGroup, tuple[int, ...]]] = LRU(
            CONTRIBUTION_CACHE_SIZE, cost=lambda entry: size_of_numbers(entry[1])
        )

    def top(
        self,
        docs: Collection[int],
        groups: list[TermGroup],
        count: int,
        *,
        words: Sequence[str] = (),
        coordination: Coordination | None = None,
    ) -> tuple[list[int], Scores]:
        """(the ``count`` best of ``docs`` by score, best first; their scores).

        ``words``: the query's plain words in order; when there are a few, the PROXIMITY_POOL best
        talks are re-ranked by how many consecutive pairs they hold close together.
        ``coordination``: rank talks having only some of the words, after those having them all.
        """
        if count <= 0 or not docs:
            return [], {}
        docs = docs if isinstance(docs, (set, frozenset)) else set(docs)
        if coordination is None and len(groups) == 1 and not _proximity_applies(words):
            found = self.top_by_impact(docs, groups[0], count)
            if found is None:
                found = self._top_of_one_word(docs, groups[0], count)
            if found is not None:
                return found
        first = coordination.complete if coordination is not None else ()
        if coordination is not None:
            scores = self.coordinated_scores(docs, groups, coordination, count, words)
            docs = set(scores)
        else:
            scores = self.score(docs, groups)
        if not _proximity_applies(words):
            return _best(count, docs, scores, first), scores
        ranked = _best(max(count, PROXIMITY_POOL), docs, scores, first)
        head = ranked[:PROXIMITY_POOL]
        self.reward_proximity(head, list(words), scores)
        # rewards only raise scores: the re-ranked head still outranks everything after it
        if first:
            head.sort(key=lambda doc: (doc not in first, -scores[doc], doc))
        else:
            head.sort(key=lambda doc: (-scores[doc], doc))
        return (head + ranked[PROXIMITY_POOL:])[:count], scores

    def top_by_impact(
        self, docs: set[int] | frozenset[int], group: TermGroup, count: int
    ) -> tuple[list[int], Scores] | None:
        """The ``count`` best of ``docs`` scored by one word, read off that word's impact order (None: not
        cheaper than scoring ``docs``).

        A talk's score is then its contribution alone, so the word's talks sorted once per version in
        the canonical order (contribution descending, then talk number) hold the answer of every query
        on that word: its first ``count`` talks within ``docs``. A common word or a two-letter prefix
        (half the corpus) then costs ``count`` set lookups instead of scoring and selecting among all.
        The order is sorted at the word's second query (its contributions cached by the first): a word
        met once is not worth a sort of all its talks.
        """
        if group.within is not None:
            return None
        key = _group_key(group)
        cached = self._contributions.get(key)  # the word's second query: its first scored every talk
        if cached is None:
            return None
        contributions = cached[1]
        if count * len(contributions) > len(docs) * len(docs):
            return None  # few of its talks wanted (a filter): the walk would pass over many to find them
        found = self._impact_orders.get(key)
        if found is None:
            order = sorted(contributions)  # talk number ascending, then (a stable sort) contribution descending
            order.sort(key=contributions.__getitem__, reverse=True)
            found = (group, tuple(order))
            self._impact_orders.put(key, found)
        best = list(islice(filter(docs.__contains__, found[1]), count))
        if len(best) < min(count, len(docs)):
            return None  # talks without the word (score 0) would fill the page: rank them all
        return best, {d: contributions[d] for d in best}

    def _top_of_one_word(
        self, docs: set[int] | frozenset[int], group: TermGroup, count: int
    ) -> tuple[list[int], Scores] | None:
        """The ``count`` best of ``docs`` scored by one word, from its contributions to every one of its talks
        (None: not worth computing them all, or ``docs`` holds talks without the word). ``score`` would give
        each talk ``0.0 +`` its contribution, the same float: a word's first ask then selects among its
        contributions instead of copying them into a dict of every talk first."""
        if group.within is not None:
            return None
        contributions = self._word_contributions(group, len(docs))
        if contributions is None or not contributions.keys() >= docs:
            return None
        best = best_by_score(count, docs, contributions)
        return best, {d: contributions[d] for d in best}

    def coordinated_scores(
        self,
        docs: set[int] | frozenset[int],
        groups: list[TermGroup],
        coordination: Coordination,
        need: int,
        words: Sequence[str] = (),
    ) -> Scores:
        """Any-word scores: BM25F scaled by the share of the query a talk matches, each word weighted
        by its rarity, so four rare words outrank five common ones. Only as many talks as it takes to
        know the ``need`` best may be scored (``_best_combinations``)."""
        per_word = coordination.words
        total = self.snapshot.doc_count or 1
        rarity = [math.log(1.0 + total / max(1, len(m.docs))) for m in per_word]
        whole = sum(rarity) or 1.0
        # bounds hold for plain words only (an expanded run of them too): a talk outside a word's match
        # set has none of its terms
        widths = coordination.widths or (1,) * len(per_word)
        if all(widths) and sum(widths) == len(words) and len(per_word) <= PRUNE_MAX_WORDS:
            reward = PROXIMITY_BONUS if _proximity_applies(words) else 0.0
            return self._best_combinations(docs, groups, per_word, rarity, whole, need, reward, widths)
        scores = self.score(docs, groups)
        share = dict.fromkeys(scores, 0.0)
        for m, weight in zip(per_word, rarity, strict=True):  # word by word: no per-talk generator
            for d in common_docs(docs, m.docs):
                share[d] += weight / whole
        for d, part in share.items():
            scores[d] *= part
        return scores

    def _best_combinations(
        self,
        docs: set[int] | frozenset[int],
        groups: list[TermGroup],
        per_word: list[Match],
        rarity: list[float],
        whole: float,
        need: int,
        reward: float,
        widths: Sequence[int],
    ) -> Scores:
        """Talks taken by which words they have (set operations), from the combination with the highest
        possible score down: a combination's talks cannot score more than its share times the sum of its
        words' idf x (K1 + 1), times 1 + ``reward`` when it has two typed words or more (proximity can
        raise those). Once ``need`` talks score above the next bound, the rest (typically the thousands
        having only the most common word) is left unscored: the same first ``need`` talks, without
        scoring all.
        """
        ceilings = [
            (m.ceiling if m.ceiling is not None else sum(group.idf for group in m.groups)) * (K1 + 1.0)
            for m in per_word
        ]

        def share_of(bits: int) -> float:
            return sum(weight for i, weight in enumerate(rarity) if bits >> i & 1) / whole

        def bound(bits: int) -> float:
            typed = sum(width for i, width in enumerate(widths) if bits >> i & 1)
            raised = 1.0 + reward if typed > 1 else 1.0  # two typed words or more: proximity may apply
            return raised * share_of(bits) * sum(c for i, c in enumerate(ceilings) if bits >> i & 1)

        scores: Scores = {}
        lowest: list[float] = []  # min-heap of the ``need`` best scores so far
        for bits in sorted(range(1, 1 << len(per_word)), key=bound, reverse=True):
            if len(lowest) >= need and lowest[0] >= bound(bits):
                break
            having = sorted((m.docs for i, m in enumerate(per_word) if bits >> i & 1), key=len)
            members = docs.intersection(*having)
            for i, m in enumerate(per_word):
                if not bits >> i & 1 and members:
                    members = members - m.docs  # walks ``members``, not the other word's talks
            factor = share_of(bits)
            for d, value in self.score(members, groups).items():
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
            # a group restricted to some talks (an expanded clause's evidence) scores only those
            counted = docs if group.within is None else docs.intersection(group.within)
            if not counted:
                continue
            cached = self._word_contributions(group, len(counted))
            if cached is None:
                factor = group.idf * (K1 + 1.0)
                for d, frequency in weighted_frequencies(counted, group).items():
                    scores[d] += factor * frequency / (K1 + frequency)
                continue
            get = cached.get
            if counted is docs:  # every talk gains: a new dict in one comprehension (the same sums, in order)
                scores = {d: score + get(d, 0.0) for d, score in scores.items()}
                continue
            for d in counted:
                scores[d] += get(d, 0.0)
        return scores

    def _word_contributions(self, group: TermGroup, wanted: int) -> dict[int, float] | None:
        """One word's BM25F contribution to each of its talks, when worth computing for all of them."""
        key = _group_key(group)
        found = self._contributions.get(key)
        if found is not None:
            return found[1]
        largest = max((len(data.frequencies) for data, _ in group.terms), default=0)
        if wanted * 2 < largest:  # a few of its talks only: cheaper to score just those
            return None
        contributions = every_contribution(group)
        # the group is kept with its contributions: its TermData stay alive, so their ids stay theirs
        self._contributions.put(key, (group, contributions))
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


def _contributions_bytes(entry: tuple[TermGroup, dict[int, float]]) -> int:
    """A word's contribution to each of its talks: the dict and its floats (the talk numbers are the terms')."""
    return size_of_numbers(entry[1], len(entry[1]))


def _group_key(group: TermGroup) -> tuple:
    """What a group's contributions depend on (not the talks it counts in: its contribution to each is the same)."""
    return (group.idf, *((id(data), weight) for data, weight in group.terms))


def _proximity_applies(words: Sequence[str]) -> bool:
    return 2 <= len(words) <= PROXIMITY_MAX_WORDS


def _best(count: int, docs: set[int] | frozenset[int], scores: Scores, first: Collection[int]) -> list[int]:
    """The ``count`` best talks: those in ``first`` before the others, each part in the canonical order."""
    if not first:
        return best_by_score(count, docs, scores)
    leading = [d for d in first if d in scores]
    best = best_by_score(count, leading, scores)
    if len(best) < count:
        rest = docs.difference(leading)
        best += best_by_score(count - len(best), rest, scores)
    return best


def best_by_score(count: int, docs: Collection[int], scores: Scores) -> list[int]:
    """The ``count`` best of ``docs`` in the canonical order: score descending, then talk number ascending.

    ``heapq.nlargest`` with the C-level ``scores.__getitem__`` key picks them; which of several talks
    tied at the last place make the cut then follows set iteration order, so when more talks share
    that score than were taken (counted in C), the smallest talk numbers among them are taken instead.
    """
    best = heapq.nlargest(count, docs, key=scores.__getitem__)
    if not best:
        return best
    cut = scores[best[-1]]
    taken = sum(1 for d in best if scores[d] == cut)
    if len(best) == count and countOf(map(scores.__getitem__, docs), cut) > taken:
        tied = sorted(d for d in docs if scores[d] == cut)
        best = [d for d in best if scores[d] != cut] + tied[:taken]
    best.sort(key=lambda d: (-scores[d], d))
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


def every_contribution(group: TermGroup) -> dict[int, float]:
    """The group's BM25F contribution to every talk having one of its terms: ``idf x (K1 + 1) x f / (K1 + f)`` of
    ``weighted_frequencies``' sum f, each term's own postings walked, with no intersection to make first.

    Comprehensions, not loops (the same floats, summed in the order of terms, and the same order of talks): a
    word's first ask at 100,000 talks scores tens of thousands of them. A one-term group's frequency goes
    straight into its contribution, with no dict of frequencies in between (half the time).
    """
    factor = group.idf * (K1 + 1.0)
    if len(group.terms) == 1:
        ((data, weight),) = group.terms
        scale = weight * K1  # norms hold K1 × (1 - B + B × length / average length)
        lengths, norms = data.lengths, data.norms
        return {d: factor * (w := scale * f / norms[lengths[d]]) / (K1 + w) for d, f in data.frequencies.items()}
    total: dict[int, float] = {}
    for data, weight in group.terms:
        scale = weight * K1
        lengths, norms = data.lengths, data.norms
        get = total.get
        total.update({d: get(d, 0.0) + scale * f / norms[lengths[d]] for d, f in data.frequencies.items()})
    return {d: factor * f / (K1 + f) for d, f in total.items()}


def common_docs(docs: set[int] | frozenset[int], frequencies: dict[int, float]) -> set[int] | frozenset[int]:
    """``docs`` that are keys of ``frequencies``, walking whichever side is cheaper."""
    if len(frequencies) <= 3 * len(docs):
        return docs.intersection(frequencies)  # C loop over the dict's keys
    return {d for d in docs if d in frequencies}
