"""Text analysis shared by the builder and the search function, without Whoosh's index machinery.

The search function analyses every query and every snippet the way the index analysed its texts,
but needs none of Whoosh's schema, fields or codecs: importing ``whoosh.analysis`` and
``whoosh.fields`` cost a cold start about 130 ms (``python -X importtime``). Here are the same steps
as the schema's Whoosh chains (``talksearch.schema`` builds them from these tables): split on word
characters, lowercase, fold accents with Whoosh's ``accent_map``, drop stop words without
renumbering positions; stems from Whoosh's Snowball stemmers. tests/test_analysis.py checks that
these functions give the tokens the Whoosh chains give.
"""

from __future__ import annotations

import re

from whoosh.lang import stemmer_for_language
from whoosh.lang.stopwords import stoplists
from whoosh.support.charset import accent_map

__all__ = [
    "LENGTH_OF_BYTE",
    "STEMMERS",
    "STOP_WORDS",
    "TECH_STOP_WORDS",
    "WORD",
    "fold",
    "folded_tokens",
    "name_words",
    "query_words",
]

#: A word, as the index's tokenizer (Whoosh's ``RegexTokenizer(r"\w+")``) finds them.
WORD = re.compile(r"\w+")

#: The field length each of the 256 length bytes stands for: an index (and the search pack) stores a talk's
#: field lengths in one byte, logarithmically, as Whoosh does (``whoosh.util.numeric.byte_to_length``, whose
#: table this formula generated; tests/test_index_files.py checks them equal). Here without Whoosh's index
#: modules, which the search function does not import.
LENGTH_OF_BYTE = tuple(round((1.033**b - 1) * 27) for b in range(256))

#: Elided articles (``l'`` in ``l'API``): the tokenizer splits them off as words of their own.
ELIDED = frozenset({"c", "d", "j", "l", "m", "n", "s", "t", "qu", "jusqu", "lorsqu", "puisqu", "quoiqu"})


def fold(text: str) -> str:
    """Lowercase and strip accents the way the index does (for stop lists and display keys)."""
    return text.lower().translate(accent_map)


#: French function words Whoosh's French list lacks; without them ``les`` is indexed as ``le``
#: in every French talk and matches everything.
_FRENCH_STOPS = {"les", "cette", "ils", "elles", "leurs", "dont", "quoi", "donc", "ni"}

STOP_WORDS = frozenset(fold(w) for w in stoplists["fr"] | stoplists["en"] | _FRENCH_STOPS) | ELIDED
#: Stop words that are also tech terms, kept in queries (the index drops them from texts; titles are
#: searched for them): ``AI`` (on the French list, from *j'ai*) and the C language (from *c'est*).
TECH_STOP_WORDS = frozenset({"ai", "c"})
#: Elided articles (``l'``, ``c'est``) and ``j'ai`` are not words of a query: ``c'est`` is not the C language.
_ELISION = re.compile(r"\bj['’]ai\b|\b(?:[cdjlmnst]|qu|jusqu|lorsqu|puisqu|quoiqu)['’](?=\w)", re.IGNORECASE)

#: The French and English stemmers, as the schema's StemFilters use them.
STEMMERS = {"fr": stemmer_for_language("fr"), "en": stemmer_for_language("en")}


def folded_tokens(text: str) -> list[tuple[str, int]]:
    """(word, position) of the folded, unstemmed, non-stop words of ``text``: the ``words`` field's analysis.

    Positions count every word, stop words included, as the index's StopFilter (``renumber=False``)
    keeps them: a phrase must not match across a removed word.
    """
    found = []
    for position, match in enumerate(WORD.finditer(text)):
        word = match.group().lower().translate(accent_map)
        if word and word not in STOP_WORDS:
            found.append((word, position))
    return found


def name_words(text: str) -> list[str]:
    """Folded words of a name (speakers, companies, events), stop words kept: the name fields' analysis."""
    return [match.group().lower().translate(accent_map) for match in WORD.finditer(text)]


def query_words(text: str, keep_stop: bool = False) -> list[str]:
    """The words of a query or a synonym term: folded, without elided articles, and without stop words
    except tech terms (``keep_stop``: with every one, for a query of stop words only)."""
    words = name_words(_ELISION.sub(" ", text))
    return words if keep_stop else [w for w in words if w not in STOP_WORDS or w in TECH_STOP_WORDS]
