"""What a query word stands for in the index: weighted field terms, typo neighbours, prefix completions.

Each query word becomes the weighted field terms that are scored together as one word (BM25F):
its French and English stems in title and summary, the word itself in speakers, tags, company and
event, its exact form, and, when it is rare or unknown, its most frequent one-edit neighbours.
Field weights put title above speakers above tags above summary; the unstemmed ``words`` field
adds weight for the exact form, so exact matches outrank stemmed ones, and typo corrections,
which only reach ``words`` and titles with small weights, rank below both.
"""

from __future__ import annotations

import string
import sys

from functions.search.lru import LRU, size_of_numbers
from functions.search.snapshot import TITLE_STOP_WORDS, IndexSnapshot
from functions.search.words import stem_en, stem_fr
from talksearch.analysis import STOP_WORDS

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
#: The weight of a word in a name field (``speaker:``, ``event:``, ``company:``).
NAME_WEIGHTS = {"speakers": SPEAKERS_WEIGHT, "event": EVENT_WEIGHT, "company": COMPANY_WEIGHT}

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

#: (field, term, weight): one field term standing for (part of) a query word.
Term = tuple[str, str, float]


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


class Expander:
    """Query words → weighted field terms, over one index snapshot (neighbours cached per version)."""

    def __init__(self, snapshot: IndexSnapshot) -> None:
        self.snapshot = snapshot
        self._neighbours: LRU[str, tuple[tuple[int, str], ...]] = LRU(NEIGHBOUR_CACHE_SIZE, cost=_neighbours_bytes)

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
        if word in STOP_WORDS:
            # searched only when the query has nothing else (or it is a tech term: AI, C): the index
            # dropped it from texts, titles still say it; and it is no typo of anything
            terms.append((TITLE_STOP_WORDS, word, TITLE_WEIGHT))
            return terms
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
        if len(word) < FUZZY_MIN_LENGTH or not word.isalnum() or word in STOP_WORDS:
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

        def look_up(word: str) -> tuple[tuple[int, str], ...]:
            # typos are rarer in a word's first letters: most candidates share its first three
            known = self.snapshot.known_terms("words", one_edit_variants(word), shared=word[:3])
            return tuple(sorted(known, key=lambda pair: (-pair[0], pair[1])))

        return self._neighbours.get_or_compute(word, look_up)

    def correction(self, word: str) -> str | None:
        """A much more frequent one-edit neighbour to offer instead of ``word``, if there is one."""
        if len(word) < FUZZY_MIN_LENGTH or not word.isalnum() or word in STOP_WORDS:
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


def _neighbours_bytes(neighbours: tuple[tuple[int, str], ...]) -> int:
    """(document frequency, term) pairs: each pair, its number and its string."""
    pairs = sum(sys.getsizeof(pair) + sys.getsizeof(pair[1]) for pair in neighbours)
    return size_of_numbers(neighbours, len(neighbours)) + pairs
