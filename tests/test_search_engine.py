"""SearchEngine behaviour a visitor sees: matching, typos, accents, plurals, facets, snippets, paging.

The index is written by ``index_builder.write_index`` from talks parsed by the builder's own JSONL
parser, exactly as a build would; no Lambda and no S3 here (see test_search_api.py for those).
"""

from __future__ import annotations

import json
import re

import pytest

from functions.search import engine as engine_module
from functions.search.engine import InvalidParameter, SearchEngine
from functions.search.matching import Match, match_some
from index_builder import write_index
from index_builder.parsers import parse_source
from tests.search_support import ID, TALKS


def _talk_records(talks: list[dict]):
    """Talk records exactly as the builder's JSONL parser makes them."""
    content = "\n".join(json.dumps(t, ensure_ascii=False) for t in talks).encode("utf-8")
    return parse_source("talks.jsonl", content).talks


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> SearchEngine:
    directory = tmp_path_factory.mktemp("index")
    write_index(_talk_records(TALKS), directory)
    engine = SearchEngine(directory, version="test-1", built_at="2026-11-26T19:00:00Z")
    yield engine
    engine.close()


def ids(body: dict) -> list[str]:
    return [hit["id"] for hit in body["hits"]]


def search_ids(engine: SearchEngine, q: str, **params) -> set[str]:
    return set(ids(engine.search(q=q, size=50, **params)))


# --- browsing ---------------------------------------------------------------------------------------
def test_empty_query_lists_every_talk_newest_first(engine):
    body = engine.search(q="", size=50)
    assert body["total"] == len(TALKS)
    dates = [hit["date"] for hit in body["hits"] if hit["date"]]
    assert dates == sorted(dates, reverse=True)
    assert body["hits"][-1]["id"] == "misc/undated-talk"  # unknown dates last
    assert all(hit["score"] is None for hit in body["hits"])


def test_response_has_the_documented_shape(engine):
    body = engine.search(q="kubernetes")
    assert set(body) == {
        "query", "total", "page", "size", "took_ms", "hits", "facets", "did_you_mean", "expanded", "matched",
        "partial", "index",
    }  # fmt: skip
    assert body["index"] == {"version": "test-1", "built_at": "2026-11-26T19:00:00Z"}
    hit = body["hits"][0]
    assert set(hit) == {
        "id",
        "title",
        "speakers",
        "company",
        "event",
        "date",
        "year",
        "lang",
        "url",
        "snippet",
        "score",
    }
    assert set(body["facets"]) == {"speaker", "company", "event", "year", "lang"}


def test_paging_walks_the_same_order_without_overlap(engine):
    first = engine.search(q="", size=10, page=1)
    second = engine.search(q="", size=10, page=2)
    everything = engine.search(q="", size=20)
    assert ids(first) + ids(second) == ids(everything)
    assert engine.search(q="", size=10, page=99)["hits"] == []


# --- query understanding ----------------------------------------------------------------------------
def test_all_words_must_match(engine, monkeypatch):
    monkeypatch.setattr(engine_module, "FILL_BELOW", 2)  # a page of talks has both words
    body = engine.search(q="kubernetes python", size=50)
    assert set(ids(body)) == {ID["Introduction à Kubernetes"], ID["Kubernetes for Python developers"]}
    assert body["matched"] == "all"


def test_talks_with_some_words_follow_when_fewer_than_a_page_have_all(engine):
    body = engine.search(q="kubernetes python", size=50)
    both = {ID["Introduction à Kubernetes"], ID["Kubernetes for Python developers"]}
    assert set(ids(body)[:2]) == both  # first, whatever the scores of the talks after them
    assert len(ids(body)) > 2 and body["total"] == len(ids(body))
    assert body["matched"] == "some"


def test_a_word_typed_twice_counts_once(engine):
    once, twice = engine.search(q="kubernetes"), engine.search(q="kubernetes Kubernetes")
    assert [h["id"] for h in twice["hits"]] == [h["id"] for h in once["hits"]]
    assert [h["score"] for h in twice["hits"]] == [h["score"] for h in once["hits"]]


def test_talks_added_after_those_with_every_word_come_from_the_rarest_words():
    rare, common, commonest = (Match(frozenset(range(1, n))) for n in (3, 50, 5000))
    # the rarest word's talks, then the next rarest's until a page is filled; the commonest are not needed
    assert match_some([commonest, rare, common], enough=10, most=2000).docs == common.docs
    # a word that would take the set past `most` talks is left out, even if the page stays short
    assert match_some([rare, commonest], enough=10, most=2000).docs == rare.docs


def test_falls_back_to_any_word_when_all_words_find_nothing(engine):
    body = engine.search(q="kubernetes zzyzx", size=50)
    assert body["matched"] == "any"
    assert set(ids(body)) == {ID["Introduction à Kubernetes"], ID["Kubernetes for Python developers"]}
    assert search_ids(engine, "kubernetes django") != set()


def test_phrase_needs_the_words_in_order(engine):
    plain = search_ids(engine, "machine learning")
    phrase = search_ids(engine, '"machine learning"')
    assert ID["Learning machine code"] in plain
    assert ID["Learning machine code"] not in phrase
    assert ID["Machine learning with scikit-learn"] in phrase
    # stop words inside a phrase do not break it (positions are kept, not renumbered)
    assert search_ids(engine, '"machine learning for the web"') == {ID["Machine learning for the web"]}


def test_minus_excludes(engine):
    assert search_ids(engine, "django -rest") == {ID["Testing Django applications"]}
    assert search_ids(engine, "django NOT rest") == {ID["Testing Django applications"]}
    assert ID["asyncio in depth"] not in search_ids(engine, "-asyncio")


def test_or_between_words(engine):
    assert search_ids(engine, "asyncio OR geopandas") == {
        ID["asyncio in depth"],
        ID["Programmation asynchrone avec asyncio"],
        ID["Cartographie avec GeoPandas"],
    }


def test_prefix(engine):
    assert search_ids(engine, "kube*") == {ID["Introduction à Kubernetes"], ID["Kubernetes for Python developers"]}
    assert search_ids(engine, "carto*") == {ID["Cartographie avec GeoPandas"]}


def test_fields_in_the_query(engine):
    assert search_ids(engine, 'speaker:"jane doe"') == {
        ID["asyncio in depth"],
        ID["Machine learning with scikit-learn"],
        ID["Machine learning for the web"],
    }
    assert search_ids(engine, "event:djangocon") == {
        ID["Testing Django applications"],
        ID["Building APIs with Django REST framework"],
    }
    assert search_ids(engine, "company:initech") == {ID["Kubernetes for Python developers"]}
    assert search_ids(engine, "kubernetes year:2020") == {ID["Kubernetes for Python developers"]}
    in_range = engine.search(q="year:2017-2018", size=50)
    assert {hit["year"] for hit in in_range["hits"]} == {2017, 2018}


@pytest.mark.parametrize(
    "query",
    ['"unbalanced', "(kubernetes", "kubernetes)", "AND", "OR kubernetes", "kubernetes NOT", "::", "foo:kubernetes",
     "kubernetes:", "*", "**", "*ubernetes", "?", "-", "- -", "year:abc", "year:99999", 'speaker:""', "\\", "'", "k*"],
)  # fmt: skip
def test_malformed_syntax_is_read_leniently(engine, query):
    body = engine.search(q=query)
    assert isinstance(body["total"], int)


def test_malformed_syntax_still_finds_the_words(engine):
    assert ID["Introduction à Kubernetes"] in search_ids(engine, '"kubernetes')
    assert ID["Introduction à Kubernetes"] in search_ids(engine, "foo:kubernetes")
    assert ID["Introduction à Kubernetes"] in search_ids(engine, "(kubernetes")


# --- typos, accents, plurals (French and English) ---------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "expected", "suggestion"),
    [
        ("kubernets", "Introduction à Kubernetes", "kubernetes"),
        ("kuberentes", "Kubernetes for Python developers", "kubernetes"),
        ("asyncoi", "asyncio in depth", "asyncio"),
        ("geopanda", "Cartographie avec GeoPandas", "geopandas"),
        ("programation asynchrone", "Programmation asynchrone avec asyncio", "programmation asynchrone"),
    ],
)
def test_one_typo_still_finds_the_talk_and_offers_a_correction(engine, query, expected, suggestion):
    body = engine.search(q=query, size=50)
    assert ID[expected] in ids(body)
    assert body["did_you_mean"] == suggestion


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("deploiement", "Introduction à Kubernetes"),  # déploiement without its accent
        ("DÉPLOIEMENT", "Introduction à Kubernetes"),
        ("evenements", "Programmation asynchrone avec asyncio"),  # événements
        ("reseau", "Les réseaux de neurones pour les nuls"),  # French plural réseaux
        ("neurone", "Les réseaux de neurones pour les nuls"),
        ("conteneur", "Introduction à Kubernetes"),  # conteneurs
        ("container", "Container orchestration explained"),
        ("containers", "Container orchestration explained"),
        ("deployment", "Kubernetes for Python developers"),  # English stem: deploying
        ("tests", "Testing Django applications"),
        ("Élodie Martin", "Introduction à Kubernetes"),
        ("elodie", "Programmation asynchrone avec asyncio"),
        ("certik", "Container orchestration explained"),  # Čertík
        ("l'orchestration", "Container orchestration explained"),
        ("l’API", "Building APIs with Django REST framework"),
        ("cartograph", "Cartographie avec GeoPandas"),  # unknown, no neighbour: words sharing its stem
    ],
)
def test_accents_case_and_inflections_do_not_matter(engine, query, expected):
    assert ID[expected] in search_ids(engine, query)


def test_exact_and_title_matches_rank_above_stemmed_and_body_ones(engine):
    ranked = ids(engine.search(q="containers"))
    assert ranked[0] == ID["Container orchestration explained"]  # title (and summary) match first
    ranked = ids(engine.search(q="kubernetes"))
    assert set(ranked[:2]) == {ID["Introduction à Kubernetes"], ID["Kubernetes for Python developers"]}


def test_exact_word_ranks_above_its_typo_neighbours(engine):
    body = engine.search(q="asyncio")
    assert body["did_you_mean"] is None
    assert set(ids(body)[:2]) == {ID["asyncio in depth"], ID["Programmation asynchrone avec asyncio"]}


def test_no_correction_for_a_query_that_finds_plenty(engine):
    assert engine.search(q="python")["did_you_mean"] is None


# --- facets ---------------------------------------------------------------------------------------------
def counts(body: dict, facet: str) -> dict:
    return {entry["value"]: entry["count"] for entry in body["facets"][facet]}


def test_values_of_one_facet_are_ored(engine):
    body = engine.search(q="", speaker=["Jane Doe", "Chu, Hua-Rong"], size=50)
    assert set(ids(body)) == {
        ID["asyncio in depth"],
        ID["Machine learning with scikit-learn"],
        ID["Machine learning for the web"],
        ID["Building APIs with Django REST framework"],
    }


def test_facets_are_anded_and_each_counts_without_its_own_filter(engine):
    body = engine.search(q="", speaker=["Jane Doe", "John Smith"], event=["PyCon US 2017"], size=50)
    assert ids(body) == [ID["Machine learning for the web"]]
    # speaker counts apply the event filter only: every PyCon US 2017 speaker is offered
    assert counts(body, "speaker") == {"Jane Doe": 1, "John Smith": 1, "Mallory": 1, "Alex Turing": 1}
    # event counts apply the speaker filter only
    assert counts(body, "event")["PyCon US 2017"] == 1
    assert counts(body, "event")["EuroPython 2019"] == 1  # Jane Doe's asyncio talk
    assert counts(body, "event")["DjangoCon 2018"] == 1  # John Smith's testing talk
    # other facets apply every filter
    assert counts(body, "year") == {2017: 1}


def test_facet_counts_follow_the_query(engine):
    body = engine.search(q="kubernetes")
    assert counts(body, "lang") == {"fr": 1, "en": 1}
    assert counts(body, "company") == {"Acme Corp": 1, "Initech": 1}
    assert counts(body, "year") == {2019: 1, 2020: 1}


def test_year_and_lang_filters(engine):
    french = engine.search(q="", lang=["fr"], size=50)
    assert {hit["lang"] for hit in french["hits"]} == {"fr"}
    assert french["total"] == 4
    body = engine.search(q="", year=["2019", 2020], lang="fr", size=50)
    assert {hit["year"] for hit in body["hits"]} == {2019, 2020}


def test_selected_values_are_always_listed(engine):
    body = engine.search(q="", speaker=["Nobody Known"])
    assert body["total"] == 0
    assert {"value": "Nobody Known", "count": 0} in body["facets"]["speaker"]


# --- snippets --------------------------------------------------------------------------------------------
def test_snippets_mark_matches_and_escape_everything_else(engine):
    body = engine.search(q="script")
    snippet = body["hits"][0]["snippet"]
    assert "<mark>script</mark>" in snippet
    assert "&lt;<mark>script</mark>&gt;" in snippet
    for hit in engine.search(q="", size=50)["hits"] + body["hits"]:
        assert set(re.findall(r"</?[a-z]+", hit["snippet"])) <= {"<mark", "</mark"}


def test_snippets_mark_stemmed_and_folded_forms(engine):
    snippet = engine.search(q="deploiement")["hits"][0]["snippet"]
    assert "<mark>déploiement</mark>" in snippet
    snippet = engine.search(q="conteneur")["hits"][0]["snippet"]
    assert "<mark>conteneurs</mark>" in snippet


# --- bounds ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "params",
    [{"q": "x" * 201}, {"page": 0}, {"page": 101}, {"size": 0}, {"size": 51}, {"page": "two"}, {"sort": "random"},
     {"speaker": [f"s{n}" for n in range(11)]}, {"year": "19x9"}, {"bogus": "1"}, {"q": ["a", "b"]}],
)  # fmt: skip
def test_out_of_bounds_parameters_are_refused_with_a_reason(engine, params):
    with pytest.raises(InvalidParameter) as refused:
        engine.search(**params)
    assert str(refused.value)


def test_time_budget_returns_the_best_so_far_flagged_partial(tmp_path):
    write_index(_talk_records(TALKS), tmp_path / "index")
    hurried = SearchEngine(tmp_path / "index", time_budget_ms=0)
    try:
        body = hurried.search(q="kubernetes python django")
        assert body["partial"] is True
        assert body["total"] >= 1  # the first word's talks
    finally:
        hurried.close()


def test_sort_by_date(engine):
    body = engine.search(q="python", sort="date", size=50)
    dates = [hit["date"] for hit in body["hits"] if hit["date"]]
    assert dates == sorted(dates, reverse=True)
    assert all(hit["score"] is not None for hit in body["hits"])


# --- talk and suggestions -----------------------------------------------------------------------------------
def test_talk_has_full_summary_and_related_talks(engine):
    talk = engine.talk(ID["Introduction à Kubernetes"])
    assert talk["summary"] == TALKS[0]["summary"]
    assert talk["tags"] == ["kubernetes", "devops"]
    related = [r["id"] for r in talk["related"]]
    assert 0 < len(related) <= 5
    assert ID["Introduction à Kubernetes"] not in related
    assert related[0] == ID["Kubernetes for Python developers"]
    assert engine.talk("no/such-talk") is None


def test_suggest_completes_words_speakers_and_titles(engine):
    found = engine.suggest("kube")["suggestions"]
    assert {"text": "kubernetes", "kind": "term"} in found
    assert any(s["kind"] == "title" and "Kubernetes" in s["text"] for s in found)
    assert {"text": "Élodie Martin", "kind": "speaker"} in engine.suggest("elo")["suggestions"]
    assert {"text": "machine learning", "kind": "term"} in engine.suggest("machine lea")["suggestions"]
    assert len(engine.suggest("p")["suggestions"]) == 0  # one letter: nothing yet
    assert len(engine.suggest("py")["suggestions"]) <= 8


def test_deleted_talks_disappear(tmp_path):
    from index_builder.writer import update_index

    directory = tmp_path / "index"
    write_index(_talk_records(TALKS), directory)
    gone = ID["Introduction à Kubernetes"]
    update_index(directory, remove_ids=[gone], add=_talk_records([dict(TALKS[0], id="new/kubernetes-talk")]))
    updated = SearchEngine(directory)
    try:
        found = search_ids(updated, "kubernetes")
        assert gone not in found
        assert "new/kubernetes-talk" in found
        assert updated.talk(gone) is None
        assert updated.search(q="")["total"] == len(TALKS)
    finally:
        updated.close()


# --- per-talk data (the door's own reads are pinned in test_index_files.py) ------------------------------
def test_facet_values_are_each_talks_stored_values(engine):
    snapshot = engine.snapshot
    stored = [snapshot.stored(d) for d in range(len(TALKS))]
    assert list(snapshot.facet_values["event"]) == [s.get("event") for s in stored]
    assert list(snapshot.facet_values["speaker"]) == [tuple(s.get("speaker_list") or ()) for s in stored]
    assert list(snapshot.facet_values["year"]) == [s.get("year") for s in stored]


def test_a_retired_index_version_leaves_no_cache_behind(tmp_path):
    # GIVEN an engine that answered a search (its per-version caches are full)
    import gc
    import weakref

    write_index(_talk_records(TALKS), tmp_path)
    retired = SearchEngine(tmp_path, warm=False)
    assert retired.search(q="kubernetes python")["total"] > 0
    snapshot = weakref.ref(retired.snapshot)
    # WHEN the function swaps to another version and drops this one
    retired.close()
    del retired
    gc.collect()
    # THEN nothing (no cache keyed on it) keeps the old snapshot and its postings alive
    assert snapshot() is None


def test_caches_keep_the_most_recently_used_entries():
    from functions.search.lru import LRU

    cache = LRU(2)
    computed = []
    for key in ["a", "b", "a", "c", "a", "b"]:
        cache.get_or_compute(key, lambda k: computed.append(k) or k.upper())
    # "a", read again before "c" came, stayed; "b", the least recently used, went and was computed again
    assert computed == ["a", "b", "c", "b"]
    assert len(cache) == 2 and cache.get("a") == "A" and cache.get("c") is None


def test_a_cache_with_a_budget_holds_many_small_entries_or_few_large_ones():
    from functions.search.lru import LRU, MemoryBudget

    budget = MemoryBudget(10, share=1.0, runtime_bytes=0, floor=0)  # ten bytes
    cache = LRU(100, cost=len, budget=budget)
    for key in "abcdefghij":  # ten entries of one byte each: all stay
        cache.put(key, [1])
    assert len(cache) == 10
    cache.put("big", list(range(6)))  # six bytes: the six least recently used go
    assert len(cache) == 5 and cache.get("f") is None and cache.get("g") == [1]
    cache.put("g", list(range(4)))  # replaced (1 → 4): three more go, not four
    assert len(cache) == 2 and cache.get("j") is None and cache.get("big") is not None
    assert budget.spent == cache.spent == 10
    # over the budget alone: computed and returned, not kept (nor anything else)
    assert cache.get_or_compute("huge", lambda _: list(range(50))) == list(range(50))
    assert len(cache) == 0 and budget.spent == 0


def test_caches_sharing_a_budget_give_back_the_least_recently_used_entries_of_any_of_them():
    from functions.search.lru import LRU, MemoryBudget

    budget = MemoryBudget(100, share=1.0, runtime_bytes=0, floor=0)
    old, new = LRU(100, cost=len, budget=budget), LRU(100, cost=len, budget=budget)
    for key in "abcde":  # the version an index swap left behind: 50 bytes, then no more requests
        old.put(key, "x" * 10)
    new.put("hot", "y" * 40)
    for n in range(5):  # the new version's entries come in, and "hot" keeps being read
        new.put(n, "z" * 10)
        assert new.get("hot") is not None
    # the old version's entries went first, oldest first, and only as many as needed
    assert [k for k in "abcde" if old.get(k) is not None] == ["e"]
    assert len(new) == 6 and budget.spent == 100
    del old  # a dropped version's cache gives its bytes back
    assert budget.spent == 90


def test_an_open_index_version_is_left_out_of_the_caches_budget_until_it_closes():
    from functions.search.lru import LRU, MemoryBudget

    budget = MemoryBudget(1000, share=0.5, runtime_bytes=100, floor=10)
    assert budget.limit == 400  # half of the memory, less the runtime's
    cache = LRU(100, cost=len, budget=budget)
    for key in range(30):
        cache.put(key, "x" * 10)
    assert budget.spent == 300
    version = SearchVersionStandIn()
    budget.hold(version, 250)  # an index opened, holding 250 bytes: the caches give back what is over
    assert budget.limit == 150 and budget.spent == 150 and cache.get(14) is None and cache.get(15) is not None
    budget.make_room()  # another version is about to open: room for as much as the open one holds, first
    assert budget.limit == 10 and budget.spent == 10
    budget.cancel_room()  # it failed to open
    assert budget.limit == 150
    large = SearchVersionStandIn()
    budget.hold(large, 10_000)  # an index larger than the memory: the caches keep the floor
    assert budget.limit == 10
    budget.release(version)  # closed
    assert budget.limit == 10
    del large  # dropped without closing: no longer held either
    assert budget.limit == 400


class SearchVersionStandIn:
    """Something a budget can hold memory for (an opened ``SearchEngine``)."""


def test_the_function_reads_its_memory_from_lambda_and_defaults_to_the_template_s(monkeypatch):
    from functions.search.lru import DEFAULT_MEMORY_MB, ENV_MEMORY_SIZE, memory_size_mb

    monkeypatch.setenv(ENV_MEMORY_SIZE, "512")
    assert memory_size_mb() == 512
    for unset in ("", "lots", "-3", "0"):
        monkeypatch.setenv(ENV_MEMORY_SIZE, unset)
        assert memory_size_mb() == DEFAULT_MEMORY_MB
    monkeypatch.delenv(ENV_MEMORY_SIZE)
    assert memory_size_mb() == DEFAULT_MEMORY_MB == 1024


def test_an_engine_with_nothing_to_read_says_so():
    with pytest.raises(TypeError, match="needs an index_dir or files"):
        SearchEngine()


def test_a_capped_budget_holds_at_most_its_cap_and_the_memory_share_again_after():
    from functions.search.lru import LRU, MemoryBudget

    budget = MemoryBudget(1000, share=0.5, runtime_bytes=100, floor=10)
    cache = LRU(100, cost=len, budget=budget)
    for key in range(30):
        cache.put(key, "x" * 10)
    with budget.capped(50):  # the builder's answering engine: each query asked once
        assert budget.limit == 50 and budget.spent == 50 and cache.get(24) is None and cache.get(25) is not None
        cache.put("new", "y" * 10)
        assert budget.spent == 50
    assert budget.limit == 400


def test_a_search_frees_the_young_cycles_and_freezes_what_it_left_alive(engine):
    """What a request leaves alive (cache entries) is frozen, never walked again by later collections; the reference
    cycles left since the last request are freed first, not frozen for good."""
    import gc
    import weakref

    class Node:
        pass

    gc.freeze()  # what the test run made so far is no concern of the engine's
    frozen_before = gc.get_freeze_count()
    cycle = Node()
    cycle.me = cycle
    gone = weakref.ref(cycle)
    del cycle
    body = engine.search(q="python data", page=2)
    assert gone() is None
    assert len(gc.get_objects()) < 50  # the body's own dict, made after the freeze
    assert gc.get_freeze_count() > frozen_before
    assert body["total"] >= 0
