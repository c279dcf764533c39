"""The search pack's precomputed answers (``pre/answers``), asked of the search function's own engine at build time.

The builder runs ``functions.search.engine`` over the pack it is writing, so the answers a first ask reads
are the engine's by construction (hits, scores, ties); their format and the checks a reader makes are
``talksearch.search_pack.answers``. This is why the builder's Lambda package carries ``functions/search``.
"""

from __future__ import annotations

import heapq
import math
import string

from functions.search.engine import SearchEngine
from talksearch.search_pack.answers import encode_answers
from talksearch.search_pack.reader import PackFiles
from talksearch.synonyms import SynonymFormatError, SynonymTable

__all__ = ["PRECOMPUTED_PREFIXES", "PRECOMPUTED_WORDS", "answer_section"]

#: The queries asked at build time: every two-letter prefix of letters and digits ...
PRECOMPUTED_PREFIXES = tuple(f"{a}{b}*" for a in string.ascii_lowercase for b in string.ascii_lowercase + string.digits)
#: ... and the words (folded, unstemmed: the ``words`` field) in most talks: the 300th is in 631 of 21.7k talks
#: (183 of the 300 reach the engine's threshold for keeping an answer).
PRECOMPUTED_WORDS = 300


def answer_section(pack: bytes, synonyms: bytes | None) -> bytes:
    """``pre/answers`` for the pack whose bytes are ``pack`` (every other section written): what the search
    function keeps of each of ``PRECOMPUTED_PREFIXES`` and of the ``PRECOMPUTED_WORDS`` most frequent words
    (at 21.7k talks: 297 answers, ~2 s). Asked through ``SearchEngine.keep_answer``: the same answers as
    ``search`` keeps, without the page's hits or the matching of queries too small to keep."""
    try:
        table = SynonymTable.from_json(synonyms) if synonyms is not None else None
    except SynonymFormatError:  # the function serves such an index without expansion
        table = None
    files = PackFiles(pack)
    engine = SearchEngine(files=files, version="build", warm=False, synonyms=table, time_budget_ms=math.inf)
    words = files.terms_starting("words", "", 1 << 62) or []
    frequent = heapq.nlargest(PRECOMPUTED_WORDS, ((files.doc_frequency("words", w), w) for w in words))
    kept: dict[tuple, tuple] = {}
    try:
        for q in [*PRECOMPUTED_PREFIXES, *(word for _, word in frequent)]:
            engine.keep_answer(q)
            # taken as they come: the process's memory budget may drop the first ones from the engine's cache
            kept.update(engine.kept_answers())
        return encode_answers(kept.items())
    finally:
        engine.close()
