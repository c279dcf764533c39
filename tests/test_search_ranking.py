"""Ranking properties the relevance evaluation (docs/relevance.md) relies on, on tiny purpose-built indexes.

Each test pins one finding of ``make eval`` so a ranking change that undoes it fails here, without
../shared: a word counts once however many fields it is found in (BM25F), words typed together and found
together rank higher (proximity), and talks with every word come before those with some.
"""

from __future__ import annotations

import json

import pytest

from functions.search.engine import SearchEngine
from index_builder import write_index
from index_builder.parsers import parse_source


def _talk(talk_id: str, title: str, summary: str, speakers: tuple[str, ...] = ("Ann Example",)) -> dict:
    return {"id": talk_id, "title": title, "speakers": list(speakers), "language": "eng", "summary": summary}


# Common words everywhere in summaries, never in these titles: their title-field idf is high, their talk idf low.
FILLER = [
    _talk(f"filler/{n}", f"Talk {n} about {topic}", f"Getting old {topic} code working again, year after year.")
    for n, topic in enumerate(["testing", "packaging", "asyncio", "web apps", "data science", "security"] * 3)
]
TALKS = [
    *FILLER,
    _talk("common/legacy", "Getting old code working again, year after year", "The people who keep it alive."),
    _talk(
        "target/dot-matrix",
        "Bit splotches",
        "I got an old printer from the eighties working again with NumPy array slicing.",
    ),
    # the same two words, far apart in a short title / side by side in a long one
    _talk("video/far", "Video tricks for a board or card game", "A talk for everyone."),
    _talk(
        "video/together",
        "Writing a small video game engine from scratch in pure Python with pygame",
        "A talk for everyone.",
    ),
]


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> SearchEngine:
    content = "\n".join(json.dumps(t) for t in TALKS).encode("utf-8")
    directory = tmp_path_factory.mktemp("ranking-index")
    write_index(parse_source("talks.jsonl", content).talks, directory)
    engine = SearchEngine(directory, time_budget_ms=10_000)
    yield engine
    engine.close()


def top_ids(engine: SearchEngine, q: str, size: int = 10) -> list[str]:
    return [hit["id"] for hit in engine.search(q=q, page=1, size=size)["hits"]]


def test_rare_words_in_a_summary_outrank_common_words_in_a_title(engine):
    # BM25F: summing per-field scores let five common words in one title beat three rare ones
    assert top_ids(engine, "getting a thirty year old printer working again with array slicing")[0] == (
        "target/dot-matrix"
    )


def test_words_typed_together_and_found_together_rank_first(engine):
    # the short title would win on length alone
    assert top_ids(engine, "video game")[:2] == ["video/together", "video/far"]


def test_talks_with_every_word_come_before_talks_with_some(engine):
    assert engine.search(q="printer pygame", page=1, size=10)["matched"] == "any"  # no talk has both
    body = engine.search(q="printer working", page=1, size=30)
    ids = [hit["id"] for hit in body["hits"]]
    # one talk has every word: it comes first, then talks with some of them fill the page
    assert body["matched"] == "some" and ids[0] == "target/dot-matrix" and len(ids) > 1
