"""Words as the index analysed them: folded, unstemmed vocabulary words, and French and English stems.

Stemming is a pure function of a word, shared by every index version: it is memoised with
``functools.lru_cache`` (C, thread-safe, bounded), which costs a sixth of the search function's
``LRU`` per call on the highlighter's hot path. Caches of an index version's data are ``LRU``s.
"""

from __future__ import annotations

from functools import lru_cache

from talksearch.analysis import STEMMERS, folded_tokens

stem_fr = lru_cache(maxsize=50_000)(STEMMERS["fr"])
stem_en = lru_cache(maxsize=50_000)(STEMMERS["en"])


def folded_words(text: str) -> list[str]:
    """Folded, unstemmed, non-stop words of ``text``, exactly as the ``words`` field indexed them."""
    return [word for word, _ in folded_tokens(text)]
