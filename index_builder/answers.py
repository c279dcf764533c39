"""The search pack's precomputed answers (``pre/answers``), asked of the search function's own engine at build time.

The builder runs ``functions.search.engine`` over the pack it is writing, so the answers a first ask reads
are the engine's by construction (hits, scores, ties); their format and the checks a reader makes are
``talksearch.search_pack.answers``. This is why the builder's Lambda package carries ``functions/search``.

With a second core free (``writer.can_fork_worker``), a forked process asks the frequent words while this one
asks the prefixes: each answer depends on its query and the pack alone, so the section is the same either way.
"""

from __future__ import annotations

import heapq
import math
import string

from functions.search.engine import SearchEngine
from functions.search.lru import PROCESS_BUDGET
from index_builder.writer import can_fork_worker
from talksearch.forked import ForkedCall
from talksearch.search_pack.answers import encode_answers
from talksearch.search_pack.reader import PackFiles
from talksearch.synonyms import SynonymFormatError, SynonymTable

__all__ = ["ANSWERING_CACHE_BYTES", "PRECOMPUTED_PREFIXES", "PRECOMPUTED_WORDS", "answer_section"]

#: The queries asked at build time: every two-letter prefix of letters and digits ...
PRECOMPUTED_PREFIXES = tuple(f"{a}{b}*" for a in string.ascii_lowercase for b in string.ascii_lowercase + string.digits)
#: ... and the words (folded, unstemmed: the ``words`` field) in most talks: the 300th is in 631 of 21.7k talks
#: (183 of the 300 reach the engine's threshold for keeping an answer).
PRECOMPUTED_WORDS = 300
#: What the answering engine's caches may hold: each query is asked once, so caches sized to the function's
#: memory only raised the build's peak. Measured at 100,000 talks: 10.7 s and 499 MB peak with the default
#: budget (432 MB), 10.8 s and 142 MB with this one, the same section to the byte.
ANSWERING_CACHE_BYTES = 16 << 20


def answer_section(pack: bytes, synonyms: bytes | None) -> bytes:
    """``pre/answers`` for the pack whose bytes are ``pack`` (every other section written): what the search
    function keeps of each of ``PRECOMPUTED_PREFIXES`` and of the ``PRECOMPUTED_WORDS`` most frequent words
    (at 21.7k talks: 297 answers, ~2 s on one core). Asked through ``SearchEngine.keep_answer``: the same
    answers as ``search`` keeps, without the page's hits or the matching of queries too small to keep."""
    try:
        table = SynonymTable.from_json(synonyms) if synonyms is not None else None
    except SynonymFormatError:  # the function serves such an index without expansion
        table = None
    files = PackFiles(pack)
    worker = ForkedCall(_ask_frequent_words, files, table, name="answering") if can_fork_worker() else None
    kept = _kept_answers(files, table, PRECOMPUTED_PREFIXES)
    words = worker.result() if worker is not None else None
    kept.update(words if words is not None else _kept_answers(files, table, _frequent_words(files)))
    return encode_answers(kept.items())


def _frequent_words(files: PackFiles) -> list[str]:
    return [word for _, word in heapq.nlargest(PRECOMPUTED_WORDS, files.term_frequencies("words"))]


def _kept_answers(files: PackFiles, table: SynonymTable | None, queries) -> dict[tuple, tuple]:
    """What an engine over ``files`` keeps of each of ``queries``."""
    engine = SearchEngine(files=files, version="build", warm=False, synonyms=table, time_budget_ms=math.inf)
    kept: dict[tuple, tuple] = {}
    try:
        with PROCESS_BUDGET.capped(ANSWERING_CACHE_BYTES):
            for q in queries:
                engine.keep_answer(q)
                # taken as they come: the engine's answer cache may drop the first ones
                kept.update(engine.kept_answers())
        return kept
    finally:
        engine.close()


def _ask_frequent_words(files: PackFiles, table: SynonymTable | None) -> dict[tuple, tuple]:
    """The frequent words' kept answers as plain tuples, asked by a forked process (``ForkedCall``)."""
    kept = _kept_answers(files, table, _frequent_words(files))
    return {key: tuple(answer) for key, answer in kept.items()}
