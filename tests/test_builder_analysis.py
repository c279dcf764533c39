"""French/English analysis, checked the way a user meets it: real searches on an index the builder wrote."""

from __future__ import annotations

import pytest
from whoosh.qparser import MultifieldParser, OrGroup

from index_builder.parsers import parse_source
from index_builder.writer import write_index
from talksearch.contracts import SITE_SYNONYMS_NAME
from talksearch.index_files import open_index
from talksearch.schema import Talk
from tests.conftest import SAMPLE_CONTENT

TEXT_FIELDS = ["title", "title_en", "summary", "summary_en"]
SEARCHED_FIELDS = [*TEXT_FIELDS, "speakers", "company", "event"]

ENGLISH_TALK = Talk(
    id="en/container",
    title="Shipping one container image a day",
    speakers=["Ada O'Brien"],
    company="Harbour Labs",
    event="Ops Day",
    lang="en",
    summary="Why a single container image per service keeps deployments boring.",
)


@pytest.fixture(scope="module")
def searcher(tmp_path_factory):
    talks = [ENGLISH_TALK]
    for path in sorted(SAMPLE_CONTENT.rglob("*.*")):
        if path.name == SITE_SYNONYMS_NAME:  # the site's synonyms: no talks in it
            continue
        talks += parse_source(path.relative_to(SAMPLE_CONTENT).as_posix(), path.read_bytes()).talks
    directory = tmp_path_factory.mktemp("analysis-index")
    write_index(talks, directory)
    ix = open_index(directory)
    with ix.searcher() as s:
        yield s


def search(searcher, text: str, fields: list[str] = SEARCHED_FIELDS) -> set[str]:
    if '"' in text:  # phrases, as the search function checks them: in the fields that keep positions
        fields = [f for f in fields if searcher.schema[f].format.supports("positions")]
    query = MultifieldParser(fields, searcher.schema, group=OrGroup).parse(text)
    return {hit["id"] for hit in searcher.search(query, limit=None)}


RECAP = "recaps/journees-python-bretagne-2026/"


@pytest.mark.parametrize(
    ("query", "expected_id"),
    [
        # accents and case, both ways
        ("meteo", RECAP + "soizic-morvan-meteo-littoral"),
        ("MÉTÉO", RECAP + "soizic-morvan-meteo-littoral"),
        ("energie", RECAP + "pierre-yves-le-goff-granit-energie"),
        ("quere", RECAP + "erwan-quere-universite-de-brest"),
        ("Quéré", RECAP + "erwan-quere-universite-de-brest"),
        # French elisions
        ("accessibilite", RECAP + "nolwenn-cadiou-atelier-numerique-de-quimper"),
        ("l'accessibilité", RECAP + "nolwenn-cadiou-atelier-numerique-de-quimper"),
        ("l’accessibilité", RECAP + "nolwenn-cadiou-atelier-numerique-de-quimper"),
        ("qu'exposition", RECAP + "mathieu-le-roux-studio-goeland"),
        # French plural/singular
        ("conteneur", RECAP + "gwenaelle-le-bihan-armor-logistique"),
        ("vague", RECAP + "soizic-morvan-meteo-littoral"),
        ("formulaire", RECAP + "nolwenn-cadiou-atelier-numerique-de-quimper"),
        # English plural/singular
        ("containers", "en/container"),
        ("deployment", "en/container"),
        ("metric", "talks/observability-on-a-budget"),
        # speakers by last name alone, companies, events
        ("Kervella", RECAP + "thomas-kervella-banque-du-ponant"),
        ("Tanguy", RECAP + "yann-guillou-et-maelle-tanguy-cooperative-breizh-data"),
        ("fernandez", "talks/search-for-small-sites"),
        ("Ponant", RECAP + "thomas-kervella-banque-du-ponant"),
        ('"Banque du Ponant"', RECAP + "thomas-kervella-banque-du-ponant"),
        ("Quillmate", "talks/search-for-small-sites"),
        ("Harbourline", "talks/observability-on-a-budget"),
    ],
)
def test_query_finds_talk(searcher, query, expected_id):
    assert expected_id in search(searcher, query)


def test_event_search_finds_every_talk_of_the_recap(searcher):
    assert len(search(searcher, '"Journées Python de Bretagne"')) == 11


def test_stop_words_alone_find_nothing_in_text(searcher):
    assert search(searcher, "les des the", TEXT_FIELDS) == set()
    assert search(searcher, "les tests", TEXT_FIELDS) != set()  # the control: a content word still matches


def test_lightning_talks_and_conclusion_are_not_indexed_as_talks(searcher):
    assert search(searcher, "parkings vélos") == set()  # a lightning talk's words
    assert search(searcher, "Vannes") == set()  # the conclusion's words


def test_facet_columns_hold_exact_values(searcher):
    reader = searcher.reader()
    speakers = {v for value in reader.column_reader("f_company") for v in [value] if v}
    assert {"Banque du Ponant", "Granit Énergie", "Harbour Labs"} <= speakers
    document = searcher.document(id=RECAP + "yann-guillou-et-maelle-tanguy-cooperative-breizh-data")
    assert document["speaker_list"] == ["Yann Guillou", "Maëlle Tanguy"]
    assert document["lang"] == "fr" and document["year"] == 2026
