"""/api/suggest: completions of what is being typed, for search as you type.

The last word is completed once it has two characters: frequent words of the vocabulary (after
other words, those found with them most), speakers with a name starting so, and the best titles
containing such a word.
"""

from __future__ import annotations

import heapq
import re

from functions.search.facets import FacetIndex
from functions.search.matching import ClauseMatcher, match_all
from functions.search.params import SuggestParams
from functions.search.query import normalise_text
from functions.search.scoring import Scorer
from functions.search.words import folded_words, stem_fr
from talksearch.analysis import fold
from talksearch.contracts import MAX_SUGGESTIONS

#: Completions read at most this many vocabulary entries.
COMPLETION_SCAN = 1000


class Suggester:
    """Completions over one index version."""

    def __init__(self, matcher: ClauseMatcher, scorer: Scorer, facets: FacetIndex) -> None:
        self.matcher = matcher
        self.snapshot = matcher.snapshot
        self.scorer = scorer
        self.facets = facets

    def suggest(self, q: object) -> dict:
        """Up to MAX_SUGGESTIONS completions: words, speakers and titles (raises InvalidParameter)."""
        text = normalise_text(SuggestParams.from_values(q=q).q)
        words = folded_words(text)
        prefix = fold(re.findall(r"\w+", text)[-1]) if re.search(r"\w$", text) else ""
        suggestions: list[dict] = []
        if len(prefix) >= 2:
            context = text[: len(text) - len(prefix)].rstrip()
            context_words = words[:-1] if words and words[-1] == prefix else words
            terms = self._completions(context_words, prefix, 4)
            suggestions += [{"text": f"{context} {t}".strip(), "kind": "term"} for t in terms if t != prefix or context]
            suggestions += [{"text": name, "kind": "speaker"} for name in self._speakers_starting(prefix, 2)]
            suggestions += [{"text": t, "kind": "title"} for t in self._titles_for(context_words, prefix, 3)]
        seen: set[str] = set()
        unique = []
        for s in suggestions:
            key = fold(s["text"])
            if key not in seen:
                seen.add(key)
                unique.append(s)
        return {"query": q, "suggestions": unique[:MAX_SUGGESTIONS]}

    def _completions(self, context: list[str], prefix: str, limit: int) -> list[str]:
        """Words starting with ``prefix``: the most frequent, or after other words, those found with them most."""
        if not context:
            return list(self.snapshot.expand_prefix("words", prefix, COMPLETION_SCAN, limit))
        together = self.matcher.every_word(context).docs
        overlap = []
        for term in self.snapshot.expand_prefix("words", prefix, COMPLETION_SCAN, 3 * limit):
            data = self.snapshot.term("words", term)
            shared = len(together.intersection(data.frequencies)) if data is not None else 0
            if shared:
                overlap.append((shared, term))
        return [term for _, term in heapq.nlargest(limit, overlap)]

    def _speakers_starting(self, prefix: str, limit: int) -> list[str]:
        return self.facets.speaker_names().starting_with(prefix, limit)

    def _titles_for(self, context: list[str], prefix: str, limit: int) -> list[str]:
        expansions = self.snapshot.expand_prefix("words", prefix, COMPLETION_SCAN, 8)
        in_titles = self.matcher.match_terms([("title", stem_fr(t), 1.0) for t in expansions])
        expander = self.matcher.expander
        context_matches = [self.matcher.match_terms(expander.word_terms(w, fuzzy=False)) for w in context]
        found = match_all([in_titles, *context_matches])
        best = self.scorer.top(found.docs, found.groups, limit)[0]
        return [self.snapshot.stored(d).get("title") or "" for d in best]
