"""``python -m relevance``: score the judged queries on the real search path next to the FTS5 baselines."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path

from index_builder.parsers import ContentError
from relevance.data import QueryFileError, load_queries
from relevance.fts5 import Fts5Baseline
from relevance.harness import (
    CORPUS_FILES,
    ROOT,
    EngineSearch,
    cached_index,
    changes_since,
    load_corpus,
    run_queries,
    talk_languages,
    write_results,
)
from relevance.report import goal_checks, markdown_table, render_doc, table_rows, text_table

SEARCH, EXACT, FTS5, FTS5_SPEAKERS = "search", "exact words", "fts5", "fts5+speakers"
#: "exact words" is the search with exact=1 (no translations or synonyms): each run shows what they add.
SYSTEMS = (SEARCH, EXACT, FTS5, FTS5_SPEAKERS)


def parser() -> argparse.ArgumentParser:
    shared = Path(os.environ.get("TALKSEARCH_SHARED", ROOT.parent / "shared"))
    build = ROOT / "build" / "relevance"
    cli = argparse.ArgumentParser(prog="python -m relevance", description=__doc__)
    cli.add_argument("--shared", type=Path, default=shared, help="folder holding corpora/ and relevance/ (%(default)s)")
    cli.add_argument(
        "--queries",
        type=Path,
        action="append",
        help="a judged-query file, may be repeated (default: <shared>/relevance/dev-queries.jsonl and, when "
        "present, crosslingual-dev.jsonl)",
    )
    cli.add_argument("--cache", type=Path, default=build / "indexes", help="where built indexes are kept (%(default)s)")
    cli.add_argument("--results", type=Path, default=build / "results.jsonl", help="per-query results (%(default)s)")
    cli.add_argument("--doc", type=Path, default=ROOT / "docs" / "relevance.md", help="page to update (%(default)s)")
    cli.add_argument("--no-doc", action="store_true", help="do not update the page")
    cli.add_argument(
        "--time-budget-ms",
        type=float,
        default=10_000.0,
        help="the engine's per-request time budget; the default keeps a busy machine from cutting answers short "
        "(the latency benchmark measures time, this measures ranking) (%(default)s)",
    )
    return cli


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    judged = args.shared / "relevance"
    queries_files = args.queries or [judged / "dev-queries.jsonl"]
    if not args.queries and (judged / "crosslingual-dev.jsonl").exists():
        queries_files.append(judged / "crosslingual-dev.jsonl")
    missing_files = [str(path) for path in queries_files if not path.exists()]
    if missing_files:
        absent = ", ".join(missing_files)
        print(f"relevance: skipped, no judged queries at {absent} (the shared data is not next to this clone)")
        return 0
    queries = []
    for queries_file in queries_files:
        try:
            queries += load_queries(queries_file)
        except QueryFileError as error:
            print(f"relevance: {error}", file=sys.stderr)
            return 2
        except UnicodeDecodeError as error:
            print(f"relevance: {queries_file} is not UTF-8 ({error.reason} at byte {error.start})", file=sys.stderr)
            return 2
    wanted = sorted({q.corpus for q in queries})
    unknown = [name for name in wanted if name not in CORPUS_FILES]
    if unknown:
        known = sorted(CORPUS_FILES)
        names = ", ".join(str(path) for path in queries_files)
        print(f"relevance: {names} name unknown corpora {unknown}, known: {known}", file=sys.stderr)
        return 2
    corpus_files = {name: args.shared / CORPUS_FILES[name] for name in wanted}
    missing = [str(path) for path in corpus_files.values() if not path.exists()]
    if missing:
        print(f"relevance: skipped, corpora not found: {', '.join(missing)}")
        return 0

    try:
        indexes = {name: cached_index(name, path, args.cache) for name, path in corpus_files.items()}
    except ContentError as error:
        print(f"relevance: a corpus cannot be indexed: {error}", file=sys.stderr)
        return 2
    engine = EngineSearch(indexes, time_budget_ms=args.time_budget_ms)
    records = {name: load_corpus(path) for name, path in corpus_files.items()}
    # languages only where a query filters on them (reading them is the builder's parse of the corpus)
    filtered = {q.corpus for q in queries if "lang" in q.filters}
    languages = {name: talk_languages(corpus_files[name]) for name in filtered}
    baselines = {
        system: {
            name: Fts5Baseline(r, with_speakers=system == FTS5_SPEAKERS, languages=languages.get(name))
            for name, r in records.items()
        }
        for system in (FTS5, FTS5_SPEAKERS)
    }

    def baseline(system: str):
        return lambda q: baselines[system][q.corpus].search(q.query, filters=q.filters)

    systems = {
        SEARCH: engine,
        EXACT: engine.exact_words(),
        FTS5: baseline(FTS5),
        FTS5_SPEAKERS: baseline(FTS5_SPEAKERS),
    }
    results = run_queries(queries, systems)
    scores = {name: {r.query.qid: r.scores[name] for r in results} for name in SYSTEMS}
    rows = table_rows(queries, scores, SYSTEMS)

    print(f"\n{len(queries)} judged queries from {', '.join(str(path) for path in queries_files)}\n")
    print(text_table(rows, SYSTEMS))
    checks = goal_checks(rows, SEARCH, (FTS5, FTS5_SPEAKERS))
    print("\ngoals (issues 8 and 14, dev sets):")
    for text, met in checks:
        print(f"  [{'x' if met else ' '}] {text}")
    wall, cpu = engine.timings_ms, engine.cpu_ms
    print(
        f"\nsearch time per query (engine.search in process, first use of each term included): "
        f"median {statistics.median(wall):.1f} ms wall / {statistics.median(cpu):.1f} ms CPU, "
        f"max {max(wall):.1f} ms wall / {max(cpu):.1f} ms CPU"
    )
    if engine.partial:
        print(f"warning: {len(engine.partial)} answers hit the search time budget (partial): {engine.partial}")
    previous = write_results(args.results, results)
    if previous is not None:
        changes = changes_since(previous, results, SEARCH)
        print(f"\nchanges since the previous run ({len(changes)} queries):")
        print("\n".join(changes) if changes else "  none")
    print(f"\nper-query results: {args.results}")

    if not args.no_doc:
        generated = (
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {len(queries)} queries, `make eval`:\n\n"
            + markdown_table(rows, SYSTEMS)
            + "\n\nGoals (issues 8 and 14):\n\n"
            + "\n".join(f"- [{'x' if met else ' '}] {text}" for text, met in checks)
            + "\n"
        )
        args.doc.parent.mkdir(parents=True, exist_ok=True)
        existing = args.doc.read_text(encoding="utf-8") if args.doc.exists() else None
        args.doc.write_text(render_doc(existing, generated), encoding="utf-8")
        print(f"updated {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
