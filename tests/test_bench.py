"""`make bench`'s quick path end to end on a tiny synthetic corpus, and the pieces it relies on.

Nothing here asserts a timing: the benchmark prints figures, tests only check that it measures
the same work in every engine and writes its outputs.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.corpus import load_corpus, synthetic_records
from bench.queries import KINDS, draw_query_mix, load_query_mix, mix_path

ROOT = Path(__file__).resolve().parent.parent
ENGINES = ("talksearch", "fts5", "tantivy")

#: The only talk with "zymurgy" or "brewing" in it: every engine must rank it first for those words.
UNIQUE_TALK = {
    "id": "pycon-fr-2024/zymurgy",
    "title": "Zymurgy: brewing beer with Python sensors",
    "speakers": ["Brewer McTest"],
    "event": "PyCon FR 2024",
    "event_slug": "pycon-fr-2024",
    "date": "2024-10-31",
    "language": "eng",
    "tags": [],
    "summary": "Temperature probes, <b>fermentation</b> curves & a Raspberry Pi in the cellar.",
    "url": "https://video.example.org/zymurgy",
    "duration": 1800,
}


@pytest.fixture
def peers_installed() -> None:
    for package in ("tantivy", "matplotlib"):
        pytest.importorskip(package, reason="`make bench-deps` installs the benchmark's extra packages")


def test_quick_run_measures_every_engine_and_writes_its_outputs(tmp_path, peers_installed):
    # GIVEN a tiny corpus of synthetic talks plus one talk with a word no other talk has
    corpus = tmp_path / "tiny.jsonl"
    records = [*synthetic_records(150), UNIQUE_TALK]
    corpus.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    out = tmp_path / "results"
    load = ["--load-requests", "14", "--load-concurrency", "2"] if shutil.which("hey") else ["--load-requests", "0"]
    # ... and a mix file of its own, as a held-out one would be: two queries of each committed kind
    # plus a kind the generator does not know
    committed = load_query_mix(load_corpus("synthetic", 1000), per_kind=2)["queries"]
    held_out = {"version": 7, "queries": [*committed, {"kind": "held_out_shape", "params": {"q": "python web"}}]}
    mix = tmp_path / "held-out.json"
    mix.write_text(json.dumps(held_out), encoding="utf-8")

    # WHEN the quick benchmark runs that mix on it, as `make bench-quick BENCH_ARGS=--mix ...` would
    command = ["--quick", "--corpus", str(corpus), "--mix", str(mix), "--out", str(out), "--no-docs", *load]
    done = subprocess.run(
        [sys.executable, "-m", "bench", *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )

    # THEN it succeeds, prints the table and where the results are, and shows progress while running
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "warm p95 (ms)" in done.stdout and "first pass p95 (ms)" in done.stdout
    assert "talksearch/SQLite FTS5" in done.stdout
    assert f"results: {out / 'results.json'}" in done.stdout
    assert re.search(r"\[\s*\d+\.\ds\] talksearch: full build of 151 talks", done.stderr)
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["mix"]["queries"] == len(held_out["queries"]) and results["mix"]["version"] == 7
    for name in ENGINES:
        engine = results["engines"][name]
        assert "error" not in engine, engine
        # every kind of the mix was answered, and the incremental rebuild made the 10 edited talks findable
        assert set(engine["warm"]["by_kind"]) == {*KINDS, "held_out_shape"}
        assert set(engine["warm"]["overall"]) >= {"p50", "p95", "p99", "max"}
        # ... and each query was asked once of the engine just opened, before the warm passes
        assert set(engine["first_pass"]["overall"]) >= {"p50", "p95", "p99", "max"}
        assert engine["first_pass"]["overall"]["n"] == len(held_out["queries"])
        assert engine["build_s"] > 0
        assert engine["after_update_errata_hits"] == 10
        assert engine["sizes"]["disk_bytes"] > 0 and engine["sizes"]["artifact_bytes"] > 0
        # each build ran in a process of its own, and each engine answered from its artifact fetched from S3
        assert engine["build_memory"]["peak_rss_mb"] >= engine["build_memory"]["base_rss_mb"] > 0
        cold = engine["cold_fetch"]
        assert cold["total_ms"] >= cold["import_ms"] + cold["fetch_ms"] + cold["query_ms"] > 0
        assert cold["peak_rss_mb"] > 0
    # the same exact query puts the same talk first in every engine
    assert results["sanity"]["expected"] == UNIQUE_TALK["id"]
    assert results["sanity"]["q"] in UNIQUE_TALK["title"].lower()
    assert {results["sanity"][name] for name in ENGINES} == {UNIQUE_TALK["id"]}
    if shutil.which("hey"):
        assert results["load"]["errors"] == 0 and results["load"]["ok"] == results["load"]["requests"]
    assert (out / "latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "benchmarks.md").read_text(encoding="utf-8")
    assert "| full build (s) |" in report and "## Goals (issue 7)" in report
    assert "| cold start with the fetch from S3: first answer (ms) |" in report
    assert "| held out shape |" in report and "## Goals (issue 12" in report


def test_a_malformed_mix_file_is_a_usage_error(tmp_path):
    mix = tmp_path / "mix.json"
    mix.write_text(json.dumps({"version": 1, "queries": [{"kind": "one_word", "params": "python"}]}), "utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--mix", str(mix)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "query 0 is not" in done.stderr


@pytest.mark.parametrize("engine", ["fts5", "tantivy_peer"])
def test_peer_snippets_escape_the_text_and_mark_only_the_match(tmp_path, engine, peers_installed):
    # GIVEN a peer index holding a summary with markup in it
    module = __import__(f"bench.engines.{engine}", fromlist=["build", "Searcher"])
    path = tmp_path / "index"
    module.build([*synthetic_records(20), UNIQUE_TALK], path)

    # WHEN a word of that summary is searched
    hit = module.Searcher(path).search(q="fermentation")["hits"][0]

    # THEN the snippet escapes the talk's markup and <mark> is the only tag
    assert hit["id"] == UNIQUE_TALK["id"]
    assert "&lt;b&gt;<mark>fermentation</mark>&lt;/b&gt;" in hit["snippet"]
    assert set(re.findall(r"</?(\w+)", hit["snippet"])) == {"mark"}


def test_committed_synthetic_mix_is_what_the_generator_draws():
    # A change to the drawing algorithm must come with a new MIX_VERSION, never silently change the mix.
    corpus = load_corpus("synthetic", 1000)
    committed = json.loads(mix_path(corpus.name).read_text(encoding="utf-8"))
    assert draw_query_mix(corpus) == committed


def test_committed_pyvideo_mix_is_what_the_generator_draws(full_corpus):
    corpus = load_corpus("pyvideo")
    committed = json.loads(mix_path(corpus.name).read_text(encoding="utf-8"))
    assert draw_query_mix(corpus) == committed


def test_a_smaller_mix_keeps_the_first_queries_of_every_kind():
    corpus = load_corpus("synthetic", 1000)
    full = load_query_mix(corpus)["queries"]
    small = load_query_mix(corpus, per_kind=3)["queries"]
    assert [q["kind"] for q in small] == [kind for kind in KINDS for _ in range(3)]
    assert all(q in full for q in small)
