"""The search core's shortcuts answer exactly what the long way answers.

A word's impact order (its talks sorted once by score) gives the page without scoring every talk,
facets of many values are counted from their largest values down, and an answer is kept (total,
facets, its first talks) for the pages asked next: each is checked here against the
long way (every talk scored, every talk's values counted, every answer matched again) over the same
index and queries, hits, scores, totals, facets and snippets alike.
"""

from __future__ import annotations

import json
import random

import pytest

from functions.search import engine as engine_module
from functions.search import facets as facets_module
from functions.search.engine import SearchEngine
from functions.search.scoring import Scorer
from index_builder import write_index
from index_builder.parsers import parse_source

WORDS = ["python", "data", "web", "django", "testing", "async", "machine", "learning", "science", "packaging",
         "security", "typing", "database", "cloud", "api", "performance", "community", "teaching", "numpy",
         "pandas", "deployment", "docker", "rust", "compiler", "parser", "graph", "network", "music", "games",
         "robots"]  # fmt: skip
#: Skewed like a real corpus: a few speakers, events and companies have many talks, most have one or two.
SPEAKERS = [f"Speaker {n:03d}" for n in range(150)]
EVENTS = [f"Conf {n:03d}" for n in range(100)]
COMPANIES = [f"Company {n:02d}" for n in range(90)]
TALKS = 600


def _zipf(rng: random.Random, values: list[str]) -> str:
    return rng.choices(values, weights=[1.0 / (rank + 1) for rank in range(len(values))])[0]


def _talks() -> list[dict]:
    rng = random.Random(12)
    talks = []
    for n in range(TALKS):
        words = [_zipf(rng, WORDS) for _ in range(rng.randint(8, 30))]
        speakers = sorted({_zipf(rng, SPEAKERS) for _ in range(rng.choice((1, 1, 1, 2)))})
        talks.append({
            "id": f"talk/{n:03d}",
            "title": " ".join(words[:4]).capitalize(),
            "speakers": speakers,
            "event": _zipf(rng, EVENTS),
            "company": _zipf(rng, COMPANIES) if n % 3 else "",
            "date": f"{2010 + n % 12}-0{1 + n % 9}-1{n % 10}",
            "language": "eng" if n % 4 else "fra",
            "summary": " ".join(words) + ".",
        })  # fmt: skip
    return talks


QUERIES = [
    *({"q": word} for word in WORDS[:12]),
    *({"q": word[:2] + "*"} for word in WORDS[:12]),
    {"q": "python", "page": 2},
    {"q": "python", "page": 3, "size": 25},
    {"q": "data", "lang": "fra"},
    {"q": "web", "event": "Conf 000"},
    {"q": "python", "speaker": "Speaker 000"},
    {"q": "python", "speaker": "Speaker 149"},  # selected, too rare to be in the top
    {"q": "da*", "company": "Company 01", "year": "2012"},
    {"q": "python", "sort": "date"},
    {"q": "python -data"},
    {"q": '"machine learning"'},
    {"q": "python data"},
    {"q": "python", "size": 5, "page": 4},
    {"q": "web OR data", "page": 2},
    {"q": "learning", "size": 50, "page": 2},  # beyond the kept talks: ranked again
    {"q": "data python", "page": 2},  # the words of "python data" in the other order: other pairs close together
    {"q": "machine learning python", "page": 4},  # past the talks re-ranked by proximity
    {"q": "web data science api community"},  # too many words for proximity
    {"q": "robots games music compiler"},  # fewer than a page have every word: ranked by share of the query
    {"q": "robots games music compiler", "page": 2},
    {"q": "python zzqxw"},  # no talk has both
    {"q": "", "event": "Conf 001"},
    {"q": "", "lang": "eng", "page": 2},
    {"q": "", "year": "2015", "sort": "date", "page": 3},
    {"q": "data", "sort": "date", "page": 2},
]


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("fast-paths") / "index"
    talks = parse_source("talks.jsonl", "\n".join(map(json.dumps, _talks())).encode()).talks
    write_index(talks, directory)
    return directory


def _answers(index_dir) -> list[dict]:
    """Every query's answer, asked twice (a word's shortcuts are built by its first query, used by the next)."""
    engine = SearchEngine(index_dir, time_budget_ms=10_000_000)
    try:
        return [{k: v for k, v in engine.search(**params).items() if k != "took_ms"} for params in QUERIES * 2]
    finally:
        engine.close()


def test_pages_read_off_a_words_impact_order_are_the_pages_of_scoring_every_talk(index_dir, monkeypatch):
    taken = []
    walk = Scorer.top_by_impact

    def spied(self, docs, group, count):
        found = walk(self, docs, group, count)
        taken.append(found is not None)
        return found

    monkeypatch.setattr(Scorer, "top_by_impact", spied)
    fast = _answers(index_dir)
    assert sum(taken) >= 20  # the shortcut answered most one-word queries asked again
    monkeypatch.setattr(Scorer, "top_by_impact", lambda self, docs, group, count: None)
    assert fast == _answers(index_dir)
    assert any(len(answer["hits"]) == 10 and answer["total"] > 100 for answer in fast)


def test_facets_counted_from_their_largest_values_down_are_the_counts_of_every_talk(index_dir, monkeypatch):
    counted = []
    largest = facets_module.FacetIndex._largest_counts

    def spied(by_size, docs):
        found = largest(by_size, docs)
        counted.append(found is not None)
        return found

    monkeypatch.setattr(facets_module, "TOP_DOWN_MIN_TALKS", 50)  # a small corpus: the shortcut on every match
    monkeypatch.setattr(facets_module, "TOP_DOWN_BUDGET", 10.0)
    monkeypatch.setattr(facets_module.FacetIndex, "_largest_counts", staticmethod(spied))
    fast = _answers(index_dir)
    assert sum(counted) >= 10  # speakers, events, companies of the larger matches
    monkeypatch.setattr(facets_module, "TOP_DOWN_FROM_MATCH", 1)  # the value tables from the first match
    assert fast == _answers(index_dir)
    monkeypatch.setattr(facets_module, "TOP_DOWN_MIN_TALKS", 10**9)
    assert fast == _answers(index_dir)
    rare = fast[QUERIES.index({"q": "python", "speaker": "Speaker 149"})]["facets"]["speaker"]
    assert rare[-1]["value"] == "Speaker 149" and rare[-1]["count"] > 0


def test_kept_answers_are_the_answers_of_matching_and_ranking_again(index_dir, monkeypatch):
    served = []
    kept = SearchEngine._kept

    def spied(self, key, offset, stop):
        found = kept(self, key, offset, stop)
        served.append(found is not None)
        return found

    monkeypatch.setattr(engine_module, "ANSWER_MIN_POSTINGS", 40)  # a small corpus: keep most answers
    monkeypatch.setattr(engine_module, "ANSWER_TOP", 45)
    monkeypatch.setattr(SearchEngine, "_kept", spied)
    fast = _answers(index_dir)
    assert sum(served) >= 30  # words, prefixes, phrases, several words, filtered, listings asked again, later pages
    assert not all(served)  # and a page beyond the kept talks, ranked again
    monkeypatch.setattr(engine_module, "ANSWER_MIN_POSTINGS", 10**9)
    assert fast == _answers(index_dir)
    assert any(answer["page"] == 4 and len(answer["hits"]) == 5 for answer in fast)
    assert {"some", "any"} <= {answer["matched"] for answer in fast}  # pages ranked by share of the query


def test_kept_answers_stay_while_the_per_talk_caches_fill_the_memory_budget(index_dir, monkeypatch):
    """At 100,000 talks the per-talk caches fill their budget within a pass of queries: sharing it, the answers
    kept earlier went by recency (499 of 583 before the pass was asked again). They have their own."""
    from functions.search.lru import LRU, PROCESS_BUDGET

    monkeypatch.setattr(engine_module, "ANSWER_MIN_POSTINGS", 40)
    engine = SearchEngine(index_dir, time_budget_ms=10_000_000)
    try:
        first = engine.search(q="python data")
        # GIVEN the queries after it: per-talk entries, more recent than the answer, filling the budget twice over
        others = LRU(10**6, cost=int)
        for n in range(20):
            others.put(n, PROCESS_BUDGET.limit // 10)
        assert len(others) < 20  # the budget gave back its least recently used entries
        # WHEN the query is asked again THEN it is answered from what was kept: nothing is matched again
        monkeypatch.setattr(engine.matcher, "match_group", lambda group: pytest.fail("matched again"))
        again = engine.search(q="python data")
        assert {**again, "took_ms": 0} == {**first, "took_ms": 0}
    finally:
        engine.close()


@pytest.mark.parametrize(("memory_mb", "answers_mb"), [(128, 4), (1024, 32), (4096, 32)])
def test_the_answers_budget_is_a_share_of_the_function_memory_up_to_32_mb(
    index_dir, monkeypatch, memory_mb, answers_mb
):
    from functions.search.lru import PROCESS_BUDGET

    monkeypatch.setattr(PROCESS_BUDGET, "memory_bytes", memory_mb << 20)
    engine = SearchEngine(index_dir)
    try:
        assert engine._answers_budget.limit == answers_mb << 20
    finally:
        engine.close()


def test_keep_answer_keeps_the_whole_rankings_search_keeps_and_no_other(index_dir, monkeypatch):
    """What the builder asks for the pack's precomputed answers: ``keep_answer`` skips the page's hits and stops once
    the matching says nothing will be kept; over thresholds around these queries' talk and posting counts, it
    keeps exactly the answers ``search`` keeps whole."""
    asked = [params["q"] for params in QUERIES if set(params) == {"q"} and params["q"]]
    monkeypatch.setattr(engine_module, "ANSWER_TOP", 45)
    sizes = []
    for threshold in (300, 560, 700, 900, 1200, 1600):
        monkeypatch.setattr(engine_module, "ANSWER_MIN_POSTINGS", threshold)
        kept = []
        for keeping in (True, False):
            engine = SearchEngine(index_dir, time_budget_ms=10_000_000)
            try:
                for q in asked:
                    engine.keep_answer(q) if keeping else engine.search(q=q)
                kept.append(dict(engine.kept_answers()))
            finally:
                engine.close()
        assert kept[0] == kept[1], threshold
        sizes.append(len(kept[0]))
    assert sizes[0] > 20 and sizes[-1] > 0 and len(set(sizes)) == len(sizes)  # from most queries kept to a couple
