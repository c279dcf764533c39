"""Do two versions of the search core answer the same? The gate for every change that must not change answers.

    python -m bench.compare record INDEX_DIR --out answers.json.gz [--mix FILE]... [--relevance FILE --corpus NAME]...
    python -m bench.compare check answers.json.gz INDEX_DIR      # this checkout's engine against a recording, twice
    python -m bench.compare check answers.json.gz INDEX_DIR --pack search.pack   # ... reading the search pack
    python -m bench.compare diff a.json.gz b.json.gz             # two recordings

``record`` runs every query of the mixes (and of the judged relevance files, for one corpus) through
this checkout's ``SearchEngine`` with no time budget, and keeps each /api/search answer, the
/api/suggest answer for its text and the /api/talks answer of its first hit. Run it in a checkout of
the old code and ``check`` in the new one (each over the index its own builder wrote), and every
difference is listed, up to ties:

- the canonical order of equal scores is talk number ascending, of equal facet counts value
  ascending (``functions.search.scoring.best_by_score``, ``functions.search.facets.top_values``), but
  talk numbers are the builder's and may differ between two builds, and a faster path may add the
  same floats in another order: so hits may differ only in the order of talks with the same
  (rounded) score, and in which of several talks tied at a page's first or last score are on it;
  facets only in which of several values tied at the last count shown are in the top;
- everything else must be equal: totals, every field of every hit (snippets included), facet
  counts, "did you mean", ``matched``, suggestions, a talk's page and its related talks.

Answers identical to the byte are counted apart. ``check`` asks every query twice of the same engine, so
the second answers come from its kept answers (``functions.search.engine``) and are checked as well.
Exits 1 when anything differs.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bench.queries import read_mix_file

#: Answer fields that say when and from what an answer was made, not what it is.
VOLATILE = ("took_ms", "index")
#: Kinds of query whose text is also sent to /api/suggest (what a visitor typing it would get).
SUGGESTED = ("one_word", "prefix", "short_prefix", "common_word", "several_words", "typo")
#: A relevance query is sent as the page sends it (relevance.harness.PAGE_PARAMS).
RELEVANCE_PAGE = {"page": 1, "size": 10}
#: The facet values an answer lists before the selected ones are appended (functions.search.facets).
FACET_LIMIT = 20


def mix_queries(path: Path) -> list[dict]:
    """The queries of a committed mix: ``{"source", "kind", "params"}``."""
    mix = read_mix_file(path, None)
    return [{"source": path.name, "kind": q["kind"], "params": q["params"]} for q in mix["queries"]]


def relevance_queries(path: Path, corpus: str) -> list[dict]:
    """The judged queries of one corpus in a relevance file, as the page would send them."""
    queries = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                judged = json.loads(line)
                if judged.get("corpus", "full") == corpus:
                    params = {"q": judged["query"], **RELEVANCE_PAGE, **judged.get("filters", {})}
                    queries.append({"source": path.name, "kind": judged["kind"], "params": params})
    return queries


def record(engine, queries: Iterable[dict]) -> dict:
    """Every query's answers from ``engine`` (a ``SearchEngine``): search, suggest, the first hit's talk."""
    recorded: list[dict] = []
    talks: dict[str, dict | None] = {}
    for query in queries:
        answer = _stable(engine.search(**query["params"]))
        entry = {**query, "search": answer}
        text = query["params"].get("q", "")
        if text and query["kind"] in SUGGESTED:
            entry["suggest"] = engine.suggest(text)
        recorded.append(entry)
        for hit in answer["hits"][:1]:
            if hit["id"] not in talks:
                talk = engine.talk(hit["id"])
                talks[hit["id"]] = _stable(talk) if talk is not None else None
    return {"queries": recorded, "talks": talks}


def _stable(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k not in VOLATILE}


# --- comparing -----------------------------------------------------------------------------------


def hit_differences(a: dict, b: dict) -> list[str]:
    """How two /api/search answers' hits differ, up to ties (see the module docstring)."""
    hits_a, hits_b = a["hits"], b["hits"]
    scores_a, scores_b = [h["score"] for h in hits_a], [h["score"] for h in hits_b]
    if scores_a != scores_b:
        return [f"hit scores differ: {scores_a} != {scores_b}"]
    page, size, total = a.get("page", 1), a.get("size", len(hits_a)), a.get("total", len(hits_a))
    first, last = (scores_a[0], scores_a[-1]) if scores_a else (None, None)
    # equal scores at a page's edges continue on the neighbouring page: which of them are here may differ
    open_edges = {first} if page > 1 else set()
    if (page - 1) * size + len(hits_a) < total:
        open_edges.add(last)
    if None in scores_a:  # unscored listings (browse, sort=date) have one order
        ids_a, ids_b = [h["id"] for h in hits_a], [h["id"] for h in hits_b]
        return [] if ids_a == ids_b else [f"hit order differs: {ids_a} != {ids_b}"]
    problems = []
    by_score_a, by_score_b = _ids_by_score(hits_a), _ids_by_score(hits_b)
    for score, ids in by_score_a.items():
        if score not in open_edges and ids != by_score_b[score]:
            problems.append(f"talks scored {score} differ: {sorted(ids ^ by_score_b[score])}")
    fields_b = {h["id"]: h for h in hits_b}
    for hit in hits_a:
        other = fields_b.get(hit["id"])
        if other is not None and other != hit:
            changed = sorted(k for k in hit.keys() | other.keys() if hit.get(k) != other.get(k))
            problems.append(f"hit {hit['id']}: {', '.join(changed)} differ")
    return problems


def _ids_by_score(hits: list[dict]) -> dict[float, set[str]]:
    grouped: dict[float, set[str]] = defaultdict(set)
    for hit in hits:
        grouped[hit["score"]].add(hit["id"])
    return grouped


def facet_differences(name: str, a: list[dict], b: list[dict]) -> list[str]:
    """How two answers' counts of one facet differ, up to which values tied at the last count made the top.

    A selected value is always listed: in the top, or appended after it. One tied at the last count
    may be in the top of one answer and appended in the other.
    """
    if a == b:
        return []
    top_a, top_b = a[:FACET_LIMIT], b[:FACET_LIMIT]
    counts_a, counts_b = [e["count"] for e in top_a], [e["count"] for e in top_b]
    if counts_a != counts_b:
        return [f"facet {name}: counts differ: {counts_a} != {counts_b}"]
    cut = counts_a[-1] if len(top_a) == FACET_LIMIT else None
    pairs_a = {(e["value"], e["count"]) for e in top_a if e["count"] != cut}
    pairs_b = {(e["value"], e["count"]) for e in top_b if e["count"] != cut}
    problems = [f"facet {name}: values differ: {sorted(map(str, pairs_a ^ pairs_b))}"] if pairs_a != pairs_b else []
    listed_a, listed_b = {e["value"]: e["count"] for e in a}, {e["value"]: e["count"] for e in b}
    for value in sorted(listed_a.keys() & listed_b.keys(), key=str):
        if listed_a[value] != listed_b[value]:
            problems.append(f"facet {name}: {value!r} counted {listed_a[value]} != {listed_b[value]}")
    appended_a, appended_b = {e["value"] for e in a[FACET_LIMIT:]}, {e["value"] for e in b[FACET_LIMIT:]}
    for value in sorted(appended_a ^ appended_b, key=str):
        if value not in listed_a or value not in listed_b or listed_a[value] != cut:
            problems.append(f"facet {name}: selected value {value!r} listed in one answer only")
    return problems


def search_differences(a: dict, b: dict) -> list[str]:
    """Every difference between two /api/search answers that is not a tie (empty: the same answer)."""
    problems = [
        f"{key}: {a.get(key)!r} != {b.get(key)!r}"
        for key in sorted((a.keys() | b.keys()) - {"hits", "facets", *VOLATILE})
        if a.get(key) != b.get(key)
    ]
    problems += hit_differences(a, b)
    facets_a, facets_b = a.get("facets", {}), b.get("facets", {})
    for name in sorted(facets_a.keys() | facets_b.keys()):
        problems += facet_differences(name, facets_a.get(name, []), facets_b.get(name, []))
    return problems


@dataclass
class Comparison:
    """What two recordings disagree on: one line per difference, and how many answers agree."""

    problems: list[str] = field(default_factory=list)
    queries: int = 0
    differing: int = 0  # queries with at least one difference
    identical: int = 0  # queries whose answers are equal to the byte

    @property
    def same(self) -> bool:
        return not self.problems


def differences(a: dict, b: dict) -> Comparison:
    """Every difference between two recordings (queries in the same order, and the talks' pages)."""
    result = Comparison(queries=len(a["queries"]))
    if len(a["queries"]) != len(b["queries"]):
        result.problems.append(f"{len(a['queries'])} queries recorded against {len(b['queries'])}")
        result.differing = result.queries
        return result
    for qa, qb in zip(a["queries"], b["queries"], strict=True):
        where = f"{qa['source']} {qa['kind']} {json.dumps(qa['params'], ensure_ascii=False)}"
        if qa["params"] != qb["params"]:
            found = [f"recorded with other queries ({qb['params']})"]
        else:
            found = search_differences(qa["search"], qb["search"])
            if qa.get("suggest") != qb.get("suggest"):
                found.append(f"suggestions differ: {qa.get('suggest')} != {qb.get('suggest')}")
        result.problems += [f"{where}: {p}" for p in found]
        result.differing += bool(found)
        result.identical += qa["search"] == qb["search"] and qa.get("suggest") == qb.get("suggest")
    talks_b = b["talks"]
    for talk_id, talk in a["talks"].items():
        if talk_id in talks_b and talks_b[talk_id] != talk:
            result.problems.append(f"/api/talks/{talk_id}: {_talk_difference(talk, talks_b[talk_id])}")
    return result


def _talk_difference(a: dict | None, b: dict | None) -> str:
    if a is None or b is None:
        return f"found {a is not None} != {b is not None}"
    return ", ".join(sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))) + " differ"


# --- command line ----------------------------------------------------------------------------------


def read_recording(path: Path) -> dict:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def write_recording(recording: dict, path: Path) -> None:
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=6) as f:
        json.dump(recording, f, ensure_ascii=False)


def open_engine(index_dir: Path, pack: Path | None = None):
    """The engine over ``index_dir``, reading its postings and stored talks from ``pack`` when given (its
    search pack, ``talksearch.search_pack``) rather than from the Whoosh files."""
    from functions.search.engine import SearchEngine

    files = None
    if pack is not None:
        from talksearch.search_pack import PackFiles

        files = PackFiles(pack.read_bytes())
    # no time budget: a busy machine must not cut optional work from one side only
    return SearchEngine(index_dir, time_budget_ms=10_000_000, files=files)


def queries_of(args: argparse.Namespace) -> list[dict]:
    queries = [q for path in args.mix for q in mix_queries(path)]
    for path in args.relevance:
        queries += relevance_queries(path, args.corpus)
    return queries


def report(comparison: Comparison, out: Callable[[str], None] = print, label: str = "") -> int:
    """Print the differences (the first 200) and a summary line (after ``label``); the exit status: 1 when
    anything differs."""
    for line in comparison.problems[:200]:
        out(f"  {line}")
    if len(comparison.problems) > 200:
        out(f"  … {len(comparison.problems) - 200} more")
    total = comparison.queries
    out(f"{label}{total - comparison.differing}/{total} queries answer the same up to ties, "
        f"{comparison.identical}/{total} identical to the byte; {len(comparison.problems)} differences")  # fmt: skip
    return 0 if comparison.same else 1


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.split("\n\n")[0])
    commands = cli.add_subparsers(dest="command", required=True)
    rec = commands.add_parser("record", help="record this checkout's answers over an index")
    rec.add_argument("index", type=Path)
    rec.add_argument("--out", type=Path, required=True)
    rec.add_argument("--mix", type=Path, action="append", default=[], help="a committed mix file (repeatable)")
    rec.add_argument("--relevance", type=Path, action="append", default=[], help="a judged-queries .jsonl")
    rec.add_argument("--corpus", default="full", help="the relevance files' corpus this index holds (full, fr)")
    check = commands.add_parser("check", help="this checkout's answers over an index against a recording")
    check.add_argument("recording", type=Path)
    check.add_argument("index", type=Path)
    check.add_argument("--pack", type=Path, help="read the index from this search pack (its synonyms from INDEX)")
    diff = commands.add_parser("diff", help="two recordings")
    diff.add_argument("a", type=Path)
    diff.add_argument("b", type=Path)
    args = cli.parse_args(argv)
    if args.command == "record":
        recording = record(open_engine(args.index), queries_of(args))
        write_recording(recording, args.out)
        print(f"{len(recording['queries'])} queries, {len(recording['talks'])} talks recorded in {args.out}")
        return 0
    a = read_recording(args.recording if args.command == "check" else args.a)
    if args.command == "diff":
        return report(differences(a, read_recording(args.b)))
    engine = open_engine(args.index, args.pack)
    queries = [{k: q[k] for k in ("source", "kind", "params")} for q in a["queries"]]
    first = record(engine, queries)
    again = record(engine, queries)  # the same engine again: served by its kept answers, which must not differ
    return report(differences(a, first), label="first ask: ") | report(differences(a, again), label="asked again: ")


if __name__ == "__main__":
    sys.exit(main())
