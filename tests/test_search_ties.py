"""The canonical order of ties: equal scores by talk number, equal facet counts by value.

Which of several equal talks make a page, and which of several equal facet values make the top 20,
used to follow Python's set and dict iteration order; two engines answering the same query (or the same
engine after a faster path lands) could then show different pages. ``bench.compare`` relies on this order.
"""

from __future__ import annotations

import json
from collections import Counter

from functions.search.engine import SearchEngine
from functions.search.facets import FACET_LIMIT, top_values
from functions.search.scoring import best_by_score
from index_builder import write_index
from index_builder.parsers import parse_source

#: 25 talks that score the same for "widgets", each by its own speaker, written Zed … Abe.
SPEAKERS = [f"{chr(ord('Z') - n)}{'ed' if n % 2 else 'ax'} Example" for n in range(25)]
TIED = [
    {
        "id": f"tied/{n:02d}",
        "title": "Widgets for everyone",
        "speakers": [speaker],
        "language": "eng",
        "summary": "Building widgets with Python, one small widget at a time.",
    }
    for n, speaker in enumerate(SPEAKERS)
]


def test_equal_scores_keep_the_smallest_talk_numbers_whatever_the_set_order():
    docs = {8, 1}  # a set of two ints that iterates 8 first
    assert list(docs) == [8, 1]
    scores = {1: 0.5, 8: 0.5}
    assert best_by_score(1, docs, scores) == [1]
    assert best_by_score(2, docs, scores) == [1, 8]
    assert best_by_score(2, {3, 11, 19}, {3: 0.2, 11: 0.9, 19: 0.2}) == [11, 3]


def test_equal_counts_keep_the_first_values_whatever_the_counting_order():
    counter = Counter({"b": 2, "a": 2, "c": 3, "d": 1})
    assert top_values(counter, 2) == [("c", 3), ("a", 2)]
    assert top_values(counter, 10) == [("c", 3), ("a", 2), ("b", 2), ("d", 1)]


def test_pages_of_tied_talks_follow_talk_order_and_tied_speakers_their_names(tmp_path):
    talks = parse_source("talks.jsonl", "\n".join(map(json.dumps, TIED)).encode()).talks
    write_index(talks, tmp_path / "index")
    engine = SearchEngine(tmp_path / "index")
    try:
        pages = [engine.search(q="widgets", page=page, size=10) for page in (1, 2, 3)]
    finally:
        engine.close()
    assert len({hit["score"] for page in pages for hit in page["hits"]}) == 1
    assert [hit["id"] for page in pages for hit in page["hits"]] == [talk["id"] for talk in TIED]
    speakers = pages[0]["facets"]["speaker"]
    assert {entry["count"] for entry in speakers} == {1}
    assert [entry["value"] for entry in speakers] == sorted(SPEAKERS)[:FACET_LIMIT]
