"""bench.compare: two recordings of the search core's answers differ only where it says, up to ties."""

from __future__ import annotations

import copy
import json

import pytest
from search_support import TALKS

from bench import compare
from index_builder import write_index
from index_builder.parsers import parse_source
from talksearch.search_pack import PackError


def _hit(talk_id: str, score: float | None, snippet: str = "…") -> dict:
    return {"id": talk_id, "score": score, "title": talk_id, "snippet": snippet}


def _answer(hits: list[dict], total: int | None = None, page: int = 1, facets: dict | None = None) -> dict:
    return {"hits": hits, "total": len(hits) if total is None else total, "page": page, "size": 3,
            "facets": facets or {}, "took_ms": 1.0}  # fmt: skip


def test_tied_talks_may_come_in_another_order_and_swap_at_an_open_page_edge():
    a = _answer([_hit("x", 2.0), _hit("y", 2.0), _hit("z", 1.0)], total=9)
    reordered = _answer([_hit("y", 2.0), _hit("x", 2.0), _hit("z", 1.0)], total=9)
    other_last = _answer([_hit("x", 2.0), _hit("y", 2.0), _hit("w", 1.0)], total=9)  # "z" continues on page 2
    assert compare.search_differences(a, reordered) == []
    assert compare.search_differences(a, other_last) == []


def test_a_different_talk_inside_the_page_or_at_its_closed_end_is_a_difference():
    a = _answer([_hit("x", 2.0), _hit("y", 2.0), _hit("z", 1.0)])
    assert compare.search_differences(a, _answer([_hit("x", 2.0), _hit("y", 2.0), _hit("w", 1.0)]))
    assert compare.search_differences(a, _answer([_hit("x", 2.0), _hit("v", 2.0), _hit("z", 1.0)]))
    assert compare.search_differences(a, _answer([_hit("x", 2.0), _hit("y", 1.5), _hit("z", 1.0)]))


def test_a_changed_snippet_total_or_listing_order_is_a_difference():
    a = _answer([_hit("x", 2.0), _hit("y", 1.0)])
    snippet = _answer([_hit("x", 2.0), _hit("y", 1.0, snippet="other")])
    assert compare.search_differences(a, snippet) == ["hit y: snippet differ"]
    assert compare.search_differences(a, _answer(a["hits"], total=3)) == ["total: 2 != 3"]
    listing = _answer([_hit("x", None), _hit("y", None)])
    assert compare.search_differences(listing, _answer([_hit("y", None), _hit("x", None)]))


def test_facet_values_tied_at_the_last_count_shown_may_differ_counts_may_not():
    top = [{"value": f"v{n:02d}", "count": 40 - n} for n in range(compare.FACET_LIMIT - 1)]
    a = _answer([], facets={"speaker": [*top, {"value": "ann", "count": 1}]})
    b = _answer([], facets={"speaker": [*top, {"value": "bob", "count": 1}]})
    assert compare.search_differences(a, b) == []
    c = _answer([], facets={"speaker": [*top, {"value": "ann", "count": 2}]})
    assert compare.search_differences(a, c)
    d = _answer([], facets={"speaker": [{"value": "bob", "count": 40}, *top[1:], {"value": "ann", "count": 1}]})
    assert compare.search_differences(a, d)


def test_a_selected_value_tied_at_the_last_count_may_be_in_the_top_or_after_it():
    top = [{"value": f"v{n:02d}", "count": 40 - n} for n in range(compare.FACET_LIMIT - 1)]
    selected_in_top = _answer([], facets={"speaker": [*top, {"value": "ann", "count": 1}]})
    selected_after = _answer([], facets={"speaker": [*top, {"value": "bob", "count": 1}, {"value": "ann", "count": 1}]})
    assert compare.search_differences(selected_in_top, selected_after) == []
    above_the_cut = [*top[:-1], {"value": "ann", "count": 22}]
    missing = _answer([], facets={"speaker": [*above_the_cut, {"value": "bob", "count": 1}]})
    appended = _answer([], facets={"speaker": [*top, {"value": "bob", "count": 1}, {"value": "ann", "count": 22}]})
    assert compare.search_differences(missing, appended)


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    content = "\n".join(json.dumps(t) for t in TALKS).encode("utf-8")
    directory = tmp_path_factory.mktemp("compare-index")
    write_index(parse_source("talks.jsonl", content).talks, directory)
    return directory


@pytest.fixture
def mix(tmp_path):
    queries = [
        {"kind": "one_word", "params": {"q": "python"}},
        {"kind": "prefix", "params": {"q": "kube"}},
        {"kind": "browse", "params": {"page": 1, "size": 5}},
        {"kind": "filtered", "params": {"q": "python", "lang": "fra"}},
    ]
    path = tmp_path / "mix.json"
    path.write_text(json.dumps({"version": 2, "queries": queries}), encoding="utf-8")
    return path


def test_the_same_engine_answers_the_same_and_a_changed_answer_fails_the_check(index_dir, mix, tmp_path, capsys):
    recording = tmp_path / "answers.json.gz"
    assert compare.main(["record", str(index_dir), "--out", str(recording), "--mix", str(mix)]) == 0
    assert compare.main(["check", str(recording), str(index_dir)]) == 0
    out = capsys.readouterr().out
    assert "first ask: 4/4 queries answer the same up to ties, 4/4 identical to the byte; 0 differences" in out
    assert "asked again: 4/4 queries answer the same up to ties, 4/4 identical to the byte; 0 differences" in out

    answers = compare.read_recording(recording)
    assert answers["queries"][0]["search"]["hits"] and answers["talks"]
    changed = copy.deepcopy(answers)
    changed["queries"][1]["search"]["total"] += 1
    first_talk = next(iter(changed["talks"]))
    changed["talks"][first_talk]["title"] = "Another title"
    compare.write_recording(changed, tmp_path / "changed.json.gz")
    assert compare.main(["diff", str(recording), str(tmp_path / "changed.json.gz")]) == 1
    out = capsys.readouterr().out
    assert 'prefix {"q": "kube"}: total' in out
    assert f"/api/talks/{first_talk}: title differ" in out
    assert "3/4 queries answer the same up to ties, 3/4 identical to the byte; 2 differences" in out


def test_check_asks_every_query_twice_and_a_repeat_that_differs_fails(index_dir, mix, tmp_path, capsys, monkeypatch):
    recording = tmp_path / "answers.json.gz"
    assert compare.main(["record", str(index_dir), "--out", str(recording), "--mix", str(mix)]) == 0
    opened = compare.open_engine
    asked: dict[str, int] = {}

    def engine_whose_second_answers_are_wrong(*args):
        engine = opened(*args)
        search = engine.search

        def search_and_spoil_repeats(**params):
            key = repr(sorted(params.items()))
            asked[key] = asked.get(key, 0) + 1
            answer = search(**params)
            return {**answer, "total": answer["total"] + 1} if asked[key] > 1 else answer

        engine.search = search_and_spoil_repeats
        return engine

    monkeypatch.setattr(compare, "open_engine", engine_whose_second_answers_are_wrong)
    assert compare.main(["check", str(recording), str(index_dir)]) == 1
    out = capsys.readouterr().out
    assert "first ask: 4/4 queries answer the same up to ties" in out
    assert "asked again: 0/4 queries answer the same up to ties" in out


def test_check_reads_a_search_pack_when_given_one(index_dir, mix, tmp_path, capsys):
    from talksearch.search_pack import write_pack

    recording, pack = tmp_path / "answers.json.gz", tmp_path / "search.pack"
    write_pack(index_dir, pack)
    assert compare.main(["record", str(index_dir), "--out", str(recording), "--mix", str(mix)]) == 0
    assert compare.main(["check", str(recording), str(index_dir), "--pack", str(pack)]) == 0
    assert "first ask: 4/4 queries answer the same up to ties, 4/4 identical" in capsys.readouterr().out
    pack.write_bytes(pack.read_bytes()[:100])  # a cut pack is refused, not read as an empty index
    with pytest.raises(PackError):
        compare.main(["check", str(recording), str(index_dir), "--pack", str(pack)])
