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
    write_results,
)
from relevance.report import goal_checks, markdown_table, render_doc, table_rows, text_table

SEARCH, FTS5, FTS5_SPEAKERS = "search", "fts5", "fts5+speakers"
SYSTEMS = (SEARCH, FTS5, FTS5_SPEAKERS)


def parser() -> argparse.ArgumentParser:
    shared = Path(os.environ.get("TALKSEARCH_SHARED", ROOT.parent / "shared"))
    build = ROOT / "build" / "relevance"
    cli = argparse.ArgumentParser(prog="python -m relevance", description=__doc__)
    cli.add_argument("--shared", type=Path, default=shared, help="folder holding corpora/ and relevance/ (%(default)s)")
    cli.add_argument("--queries", type=Path, help="judged queries (default: <shared>/relevance/dev-queries.jsonl)")
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
    queries_file = args.queries or args.shared / "relevance" / "dev-queries.jsonl"
    if not queries_file.exists():
        print(f"relevance: skipped, no judged queries at {queries_file} (the shared data is not next to this clone)")
        return 0
    try:
        queries = load_queries(queries_file)
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
        print(f"relevance: {queries_file} names unknown corpora {unknown}, known: {known}", file=sys.stderr)
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
    baselines = {
        FTS5: {name: Fts5Baseline(r, with_speakers=False) for name, r in records.items()},
        FTS5_SPEAKERS: {name: Fts5Baseline(r, with_speakers=True) for name, r in records.items()},
    }
    systems = {
        SEARCH: engine,
        FTS5: lambda corpus, text: baselines[FTS5][corpus].search(text),
        FTS5_SPEAKERS: lambda corpus, text: baselines[FTS5_SPEAKERS][corpus].search(text),
    }
    results = run_queries(queries, systems)
    scores = {name: {r.query.qid: r.scores[name] for r in results} for name in SYSTEMS}
    rows = table_rows(queries, scores, SYSTEMS)

    print(f"\n{len(queries)} judged queries from {queries_file}\n")
    print(text_table(rows, SYSTEMS))
    checks = goal_checks(rows, SEARCH, (FTS5, FTS5_SPEAKERS))
    print("\ngoals (issue 8, dev set):")
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
            + "\n\nGoals (issue 8):\n\n"
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
