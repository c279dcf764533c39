"""Stop words never swallow a query: a query of stop words only searches them as words, and AI and C,
on the stop lists (French *j'ai*, *c'est*), are terms."""

from __future__ import annotations

import json

import pytest

from functions.search.engine import SearchEngine
from index_builder import write_index
from index_builder.parsers import parse_source


def _talk(talk_id: str, title: str, summary: str, language: str = "en") -> dict:
    return {"id": talk_id, "title": title, "speakers": ["Sam Doe"], "summary": summary, "language": language}


TALKS = [
    _talk("ai-ethics", "The ethics of AI", "Fairness and accountability in machine learning systems."),
    _talk("ai-teaching", "Teaching Python with AI assistants", "Classrooms, homework and large language models."),
    _talk("c-ext", "Extending Python with C", "Writing extension modules by hand and with cffi."),
    _talk("the-end", "The end of the GIL", "Free-threaded Python and what it changes for the rest of us."),
    _talk("a-pony", "Give a Python a pony", "Django tales."),
    _talk("its-a-bias", "It's not a bug, it's a bias", "Models learn what the data says."),
    _talk("jai-teste", "J'ai testé Django en production", "C'est une longue histoire : j'ai appris beaucoup.", "fr"),
    _talk("cest-rentree", "C'est la rentrée des classes", "Les nouveautés de Python 3.13 pour les enseignants.", "fr"),
    _talk("les-tests", "Les tests qui racontent une histoire", "Écrire des tests lisibles avec pytest.", "fr"),
    _talk("asyncio", "Asyncio in depth", "Event loops, tasks and cancellation."),
]


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    directory = tmp_path_factory.mktemp("index")
    content = "\n".join(json.dumps(t) for t in TALKS).encode()
    write_index(parse_source("talks.jsonl", content).talks, directory)
    engine = SearchEngine(directory)
    yield engine
    engine.close()


def ids(body: dict) -> list[str]:
    return [hit["id"] for hit in body["hits"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("the", {"ai-ethics", "the-end"}),
        ("a", {"a-pony", "its-a-bias"}),
        ("it", {"its-a-bias"}),
        ("les", {"les-tests"}),
        ("The", {"ai-ethics", "the-end"}),
    ],
)
def test_a_query_of_stop_words_only_searches_them_as_words(engine, query, expected):
    body = engine.search(q=query)
    assert set(ids(body)) == expected  # the talks whose titles say it, not every talk in browse order
    assert body["matched"] == "all" and all(hit["score"] is not None for hit in body["hits"])


def test_the_word_said_more_often_ranks_first(engine):
    assert ids(engine.search(q="the"))[0] == "the-end"  # "The end of the GIL": twice


def test_ai_and_c_are_terms_and_j_ai_c_est_are_not_them(engine):
    assert set(ids(engine.search(q="AI"))) == {"ai-ethics", "ai-teaching"}
    assert ids(engine.search(q="C")) == ["c-ext"]
    # with other words too: AI is a word of the query, not a dropped one (the talk with both leads)
    assert ids(engine.search(q="AI python"))[:1] == ["ai-teaching"]
    assert ids(engine.search(q="python c"))[:1] == ["c-ext"]


def test_other_stop_words_stay_dropped_among_content_words(engine):
    assert set(ids(engine.search(q="the asyncio"))) == {"asyncio"}


def test_an_empty_query_still_lists_every_talk(engine):
    body = engine.search(q="")
    assert body["total"] == len(TALKS) and body["matched"] == "all"
    assert all(hit["score"] is None for hit in body["hits"])
