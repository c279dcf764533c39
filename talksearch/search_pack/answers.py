"""The ``pre/answers`` section: answers computed at build time (``index_builder.answers``) for the queries whose
first ask costs most, every two-letter prefix and the most frequent words.

A two-letter prefix (``pa*``) matches half the corpus through thousands of terms: its first ask on a
just-opened engine sums ~20k postings and counts five facets over ~11k talks in Python (15-50 ms at 21.7k
talks, tantivy 4); a word in thousands of talks scores and counts each of them (10-20 ms). The search
function keeps such answers once asked (``functions.search.engine``, its "kept answers"); this section
holds them from the build, computed by the same engine over the pack being written (the builder's side:
``index_builder.answers``, the one place that runs the search engine at build time), so a first ask reads
one small JSON entry instead. The entry is what the engine would keep: total,
facet counts, the ``ANSWER_TOP`` best talks with their scores in order, so hits, scores and ties are those
of the long way by construction.

``pre/answers``: a JSON object {answer key (``engine._answer_key`` as JSON): [start, end]}, a newline, then
the entries back to back (each a JSON object). Optional: a pack without it answers the same, later.
Reading checks each entry it decodes (``PackError``): the pack is untrusted input. An incremental build
must recompute it from the final pack (it depends on every talk), never reuse the previous pack's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from talksearch.search_pack.format import PackError

__all__ = [
    "ANSWERS",
    "MAX_ANSWERS",
    "PrecomputedAnswers",
    "encode_answers",
]

ANSWERS = "pre/answers"
#: Entries a reader accepts (936 two-letter prefixes exist over letters and digits; 114 are kept at 21.7k talks).
MAX_ANSWERS = 4096


def encode_answers(kept: Iterable[tuple[tuple, tuple]]) -> bytes:
    """The ``pre/answers`` section of ``kept`` (answer key → what the engine keeps of its answer)."""
    index: dict[str, list[int]] = {}
    body: list[bytes] = []
    at = 0
    for key, (total, facets, best, scores, found, matched) in sorted(kept, key=lambda entry: repr(entry[0])):
        entry = {
            "total": total,
            "facets": facets,
            "best": list(best),
            "scores": [scores[doc] for doc in best] if scores else None,
            "found": found,
            "matched": matched,
        }
        raw = json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        index[json.dumps(key, separators=(",", ":"))] = [at, at + len(raw)]
        body.append(raw)
        at += len(raw)
    return json.dumps(index, separators=(",", ":")).encode("utf-8") + b"\n" + b"".join(body)


class PrecomputedAnswers:
    """The ``pre/answers`` section: an answer by its key, decoded and checked when first asked."""

    def __init__(self, data: bytes | memoryview, doc_count: int) -> None:
        data = bytes(data)
        end = data.find(b"\n")
        if end < 0:
            raise PackError(f"section {ANSWERS!r}: no index line")
        try:
            index = json.loads(data[:end])
        except (UnicodeDecodeError, ValueError):
            raise PackError(f"section {ANSWERS!r}: its index is not JSON") from None
        if not isinstance(index, dict) or len(index) > MAX_ANSWERS:
            raise PackError(f"section {ANSWERS!r}: its index is not an object of at most {MAX_ANSWERS} entries")
        size = len(data) - end - 1
        for where in index.values():
            if not (
                isinstance(where, list)
                and len(where) == 2
                and all(type(n) is int for n in where)
                and 0 <= where[0] <= where[1] <= size
            ):
                raise PackError(f"section {ANSWERS!r}: an entry's place is not within the section")
        self._index: dict[str, list[int]] = index
        self._body = memoryview(data)[end + 1 :]
        self._doc_count = doc_count

    def get(self, key: tuple) -> tuple | None:
        """(total, facets, best, scores, found, matched) kept for ``key`` at build time, or None."""
        where = self._index.get(json.dumps(key, separators=(",", ":")))
        if where is None:
            return None
        try:
            entry = json.loads(bytes(self._body[where[0] : where[1]]))
        except (UnicodeDecodeError, ValueError):
            raise PackError(f"section {ANSWERS!r}: an entry is not JSON") from None
        return _checked(entry, self._doc_count)


def _checked(entry: object, doc_count: int) -> tuple:
    what = f"section {ANSWERS!r}: an entry"
    if not isinstance(entry, dict):
        raise PackError(f"{what} is not an object")
    total, facets, best, scores = entry.get("total"), entry.get("facets"), entry.get("best"), entry.get("scores")
    found, matched = entry.get("found"), entry.get("matched")
    if type(total) is not int or type(found) is not int or not isinstance(matched, str) or total < 0 or found < 0:
        raise PackError(f"{what} has no total, found or matched")
    if not (isinstance(best, list) and all(type(d) is int and 0 <= d < doc_count for d in best)):
        raise PackError(f"{what}: its talks are not talk numbers")
    if len(set(best)) != len(best) or len(best) > total:
        raise PackError(f"{what}: its talks repeat or outnumber its total")
    if scores is not None and not (
        isinstance(scores, list) and len(scores) == len(best) and all(type(s) is float for s in scores)
    ):
        raise PackError(f"{what}: its scores do not match its talks")
    if not (isinstance(facets, dict) and all(isinstance(rows, list) for rows in facets.values())):
        raise PackError(f"{what}: its facets are not lists")
    for rows in facets.values():
        for row in rows:
            if not (
                isinstance(row, dict)
                and set(row) == {"value", "count"}
                and type(row["count"]) is int
                and isinstance(row["value"], (str, int))
            ):
                raise PackError(f"{what}: a facet row is not a value and a count")
    return total, facets, tuple(best), dict(zip(best, scores, strict=True)) if scores else {}, found, matched
