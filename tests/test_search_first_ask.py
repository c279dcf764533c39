"""The first ask of a word or a phrase takes shortcuts that must not change what it finds.

A common phrase's first ask reads a word's positions in thousands of talks: past ``POSITIONS_KEPT_MAX`` they
are read without the per-talk positions cache, and two words in order are checked by one set test. A word's
first ask sums each term's own postings (no intersection with the union of its terms first) and selects its
best talks among its contributions (no dict of every talk's score first). Each is compared here with the
slow way over generated talks, to the float, and the order check with a brute-force reference.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.search import snapshot as snapshot_module
from functions.search.engine import SearchEngine
from functions.search.query import parse_query
from functions.search.scoring import Scorer, best_by_score, every_contribution, weighted_frequencies
from functions.search.snapshot import K1, IndexSnapshot, _in_order
from index_builder.writer import write_index
from talksearch.schema import Talk

WORDS = ["python", "data", "code", "using", "build", "web", "fast", "test", "apps", "deep", "learning", "community"]


def _talk(n: int, rng: random.Random) -> Talk:
    return Talk(
        id=f"talks/{n}",
        title=" ".join(rng.choices(WORDS, k=rng.randint(2, 6))),
        speakers=[f"Speaker {n % 11}"],
        event=f"Event {n % 4}",
        date="2020-01-01",
        lang="en",
        summary=" ".join(rng.choices(WORDS, k=rng.randint(5, 60))),
        source="talks.jsonl",
    )


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    rng = random.Random(5)
    directory = tmp_path_factory.mktemp("phrases")
    write_index([_talk(n, rng) for n in range(900)], directory)
    return directory


@given(
    st.lists(st.integers(0, 60), max_size=12, unique=True),
    st.lists(st.integers(0, 60), max_size=12, unique=True),
    st.integers(1, 4),
)
def test_two_words_in_order_is_any_pair_at_most_slop_apart(first, second, slop):
    expected = any(0 < q - p <= slop for p in first for q in second)
    assert _in_order([sorted(first), sorted(second)], slop) is expected


def test_phrases_found_without_the_positions_cache_are_those_found_with_it(index_dir, monkeypatch):
    pairs = [(a, b) for a in WORDS[:6] for b in WORDS[:6] if a != b]
    specs = [[("summary", [a, b], slop), ("title", [a, b], slop)] for a, b in pairs for slop in (1, 3)]

    def found(kept_max: int) -> list[set[int]]:
        monkeypatch.setattr(snapshot_module, "POSITIONS_KEPT_MAX", kept_max)
        snapshot = IndexSnapshot(index_dir)
        return [snapshot.phrase_docs(spec, set(range(snapshot.doc_count))) for spec in specs]

    uncached, cached = found(0), found(1 << 30)
    assert uncached == cached
    assert sum(map(len, cached)) > 1000  # the phrases are found in many talks: the comparison is not of empties


def test_a_words_first_ask_ranks_and_scores_as_scoring_every_talk_does(index_dir):
    engine = SearchEngine(index_dir, warm=False)
    queries = [*WORDS, "py*", "d*", "co*", "l*", "te*", "speaker", "event"]
    checked = 0
    term_counts = set()  # groups of one term and of several, each computed its own way
    for q in queries:
        match, _ = engine._match(parse_query(q), lambda: False)
        if len(match.groups) != 1 or not match.docs:
            continue
        (group,) = match.groups
        union = set().union(*(data.frequencies for data, _ in group.terms))
        factor = group.idf * (K1 + 1.0)
        summed = {d: factor * f / (K1 + f) for d, f in weighted_frequencies(union, group).items()}
        assert every_contribution(group) == summed, q  # the same floats, summed term by term
        term_counts.add(min(len(group.terms), 2))
        every_talk = set(range(engine.snapshot.doc_count))
        # its talks, some of them (a filter), and more than them (talks without the word score 0)
        for docs in (set(match.docs), set(sorted(match.docs)[::3]), set(match.docs) | set(sorted(every_talk)[::50])):
            for count in (1, 10, 200):
                slow = Scorer(engine.snapshot).score(docs, [group])
                best, scores = Scorer(engine.snapshot).top(docs, [group], count)  # a fresh scorer: the first ask
                assert best == best_by_score(count, docs, slow), q
                assert [scores[d] for d in best] == [slow[d] for d in best], q  # the same floats
        checked += 1
    assert checked >= 10
    assert term_counts == {1, 2}
