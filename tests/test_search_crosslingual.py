"""Cross-lingual search and synonyms as a visitor meets them: a French query finds the English talks
on the same subject and back, words as typed lead, the answer says what it also searched, and
``exact=1`` turns it off.

The index is written as a build writes it: ``write_index`` then the compiled glossary
(``index_builder.synonyms``), so the engine reads ``synonyms.json`` from the index directory.
"""

from __future__ import annotations

import json
import logging

import pytest

from functions.search.engine import InvalidParameter, SearchEngine
from index_builder import write_index
from index_builder.parsers import parse_source
from index_builder.synonyms import compile_synonyms, write_synonyms
from talksearch.contracts import SYNONYMS_NAME
from talksearch.synonyms import compile_table, parse_synonyms
from tests.search_support import TALKS


def _talks():
    content = "\n".join(json.dumps(t, ensure_ascii=False) for t in TALKS).encode("utf-8")
    return parse_source("talks.jsonl", content).talks


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("index")
    write_index(_talks(), directory)
    return directory


@pytest.fixture(scope="module")
def engine(index_dir):
    site = parse_synonyms("orchestrateur => kubernetes\n")
    write_synonyms(index_dir, compile_synonyms(site))
    engine = SearchEngine(index_dir)
    yield engine
    engine.close()


def ids(body: dict) -> list[str]:
    return [hit["id"] for hit in body["hits"]]


ENGLISH_CONTAINER_TALKS = {
    "europython-2019/container-orchestration-explained",
    "europython-2020/kubernetes-for-python-developers",
}


def test_a_french_word_finds_the_english_talks_on_the_subject(engine):
    body = engine.search(q="conteneurs", lang="en")
    assert set(ids(body)) == ENGLISH_CONTAINER_TALKS
    assert body["matched"] == "all"
    assert body["expanded"] == [{"from": "conteneurs", "to": ["container", "containers"]}]


def test_exact_words_only_finds_what_the_words_as_typed_find(engine):
    body = engine.search(q="conteneurs", lang="en", exact="1")
    assert ids(body) == [] and body["expanded"] == []
    assert ids(engine.search(q="conteneurs", exact="true")) == ["pycon-fr-2019/introduction-a-kubernetes"]


def test_talks_with_the_words_as_typed_lead_and_translations_follow(engine):
    french_first = ids(engine.search(q="conteneurs"))
    assert french_first[0] == "pycon-fr-2019/introduction-a-kubernetes"
    assert set(french_first[1:]) == ENGLISH_CONTAINER_TALKS
    english_first = ids(engine.search(q="containers"))
    assert set(english_first[:2]) == ENGLISH_CONTAINER_TALKS
    assert english_first[2] == "pycon-fr-2019/introduction-a-kubernetes"


def test_a_multi_word_term_is_one_term_in_both_directions(engine):
    body = engine.search(q="apprentissage automatique", lang="en")
    # "Learning machine code" has both words, not the term
    assert set(ids(body)) == {
        "pydata-paris-2019/machine-learning-scikit-learn",
        "pycon-us-2017/machine-learning-for-the-web",
    }
    assert body["expanded"][0]["from"] == "apprentissage automatique"
    assert "machine learning" in body["expanded"][0]["to"]
    back = engine.search(q="neural networks", lang="fr")
    assert ids(back) == ["pycon-fr-2019/reseaux-de-neurones"]


def test_the_answer_names_the_words_as_typed(engine):
    body = engine.search(q="Réseaux de Neurones", lang="en")
    assert body["expanded"][0]["from"] == "Réseaux de Neurones"
    assert "neural network" in body["expanded"][0]["to"]


def test_highlights_mark_the_translated_words_matched(engine):
    body = engine.search(q="conteneurs", lang="en")
    snippets = " ".join(hit["snippet"] for hit in body["hits"])
    assert "<mark>containers</mark>" in snippets


def test_site_synonyms_apply_one_way(engine):
    body = engine.search(q="orchestrateur", lang="en")
    assert "europython-2020/kubernetes-for-python-developers" in ids(body)
    assert body["expanded"] == [{"from": "orchestrateur", "to": ["kubernetes"]}]
    assert engine.search(q="kubernetes")["expanded"][0]["to"] != ["orchestrateur"]


@pytest.mark.parametrize("query", ["conteneur*", "-conteneurs python", "speaker:conteneurs", "conteneurs OR pods"])
def test_prefixes_fields_or_groups_and_exclusions_are_not_expanded(engine, query):
    assert engine.search(q=query)["expanded"] == []


def test_a_quoted_phrase_is_expanded_only_as_a_whole(engine):
    assert engine.search(q='"apprentissage automatique"', lang="en")["total"] == 2
    assert engine.search(q='"apprentissage automatique python"', lang="en")["expanded"] == []


def test_exact_is_checked(engine):
    with pytest.raises(InvalidParameter, match="exact"):
        engine.search(q="conteneurs", exact="yes")


def test_an_index_without_a_table_is_served_without_expansion(tmp_path, caplog):
    write_index(_talks(), tmp_path)
    with caplog.at_level(logging.ERROR):
        engine = SearchEngine(tmp_path)
    assert "without synonyms" in caplog.text
    body = engine.search(q="conteneurs", lang="en")
    assert body["total"] == 0 and body["expanded"] == []


def test_a_refused_table_is_logged_and_the_index_served(tmp_path, caplog):
    write_index(_talks(), tmp_path)
    (tmp_path / SYNONYMS_NAME).write_bytes(b'{"format": 2, "texts": ["a"], "words": []}')
    with caplog.at_level(logging.ERROR):
        engine = SearchEngine(tmp_path)
    assert "refused" in caplog.text
    assert ids(engine.search(q="kubernetes"))


def test_an_explicit_table_overrides_the_index_one(index_dir):
    table = compile_table(parse_synonyms("scikit, orchestration").rules)
    engine = SearchEngine(index_dir, synonyms=table)
    assert "europython-2019/container-orchestration-explained" in ids(engine.search(q="scikit"))
