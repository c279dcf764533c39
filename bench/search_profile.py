"""Latency of the search function's engine per query kind, and its cold start: the search engineer's loop.

    python -m bench.search_profile INDEX_DIR [--mix bench/mixes/pyvideo-v2.json] [--passes 2] [--profile] [--exact]

INDEX_DIR is an unpacked index (what the function opens under /tmp). Every query of the mix
runs once per pass, in a shuffled order, in one warm process: pass 1 meets every term for the
first time (nothing cached but the per-talk columns), later passes show the warm caches. Cold
start runs in fresh processes: import the handler module, open the index, answer one query.
Figures are printed, never asserted (``make bench`` is the full comparison with peer engines).
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from bench.queries import mix_path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MIX = mix_path("pyvideo")

_COLD_START = """
import sys, time
started, started_cpu = time.perf_counter(), time.process_time()
import functions.search.app
from functions.search.engine import SearchEngine
imported = time.perf_counter()
engine = SearchEngine(sys.argv[1])
opened = time.perf_counter()
engine.search(q="python web")
answered, answered_cpu = time.perf_counter(), time.process_time()
print(f"{(imported - started) * 1000:.1f} {(opened - imported) * 1000:.1f} {(answered - opened) * 1000:.1f}", end=" ")
print(f"{(answered_cpu - started_cpu) * 1000:.1f}")
"""


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summary(values: list[float]) -> str:
    return (
        f"n={len(values):4d}  p50 {statistics.median(values):6.2f}  p95 {percentile(values, 0.95):6.2f}  "
        f"p99 {percentile(values, 0.99):6.2f}  max {max(values):7.2f} ms"
    )


class _ServedIndex:
    """Stands in for the function's IndexHolder: the engine is already open (the download is not measured)."""

    def __init__(self, engine) -> None:
        self._engine = engine

    def engine(self):
        return self._engine


def _handler_search(engine):
    """engine.search, but through lambda_handler with an HTTP API v2 event: routing, validation, JSON."""
    import contextlib
    import io
    from urllib.parse import urlencode

    from functions.search import app

    app.set_index_holder(_ServedIndex(engine))

    class Context:
        function_name, memory_limit_in_mb, aws_request_id = "bench", 1024, "bench"
        invoked_function_arn = "arn:aws:lambda:eu-west-3:123456789012:function:bench"

    def search(**params):
        query = urlencode(params, doseq=True)
        event = {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": "/api/search",
            "rawQueryString": query,
            "headers": {"host": "bench"},
            "requestContext": {
                "http": {"method": "GET", "path": "/api/search"},
                "requestId": "bench",
                "stage": "$default",
            },
            "isBase64Encoded": False,
        }
        with contextlib.redirect_stdout(io.StringIO()):  # the EMF metrics and logs Lambda would ship
            response = app.lambda_handler(event, Context())
        assert response["statusCode"] == 200, response
        return response

    return search


def run_mix(index_dir: Path, queries: list[dict], passes: int, profile: bool, handler: bool, exact: bool) -> None:
    from functions.search.engine import SearchEngine

    engine = SearchEngine(index_dir)  # warms up as IndexHolder does before swapping a version in
    search = _handler_search(engine) if handler else engine.search
    if exact:  # the words as typed only: what the glossary and synonyms cost is the difference
        search = functools.partial(search, exact="1")
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    slowest: list[tuple[float, str, dict]] = []
    for number in range(1, passes + 1):
        order = list(queries)
        random.Random(number).shuffle(order)
        by_kind: dict[str, list[float]] = defaultdict(list)
        cpu_by_kind: dict[str, list[float]] = defaultdict(list)
        for query in order:
            if profiler:
                profiler.enable()
            started, started_cpu = time.perf_counter(), time.process_time()
            search(**query["params"])
            elapsed = (time.perf_counter() - started) * 1000
            cpu_by_kind[query["kind"]].append((time.process_time() - started_cpu) * 1000)
            if profiler:
                profiler.disable()
            by_kind[query["kind"]].append(elapsed)
            slowest.append((elapsed, query["kind"], query["params"]))
        print(f"pass {number} (wall-clock time per query)")
        for kind, values in sorted(by_kind.items()):
            print(f"  {kind:14s} {summary(values)}")
        print(f"  {'overall':14s} {summary([v for values in by_kind.values() for v in values])}")
        # CPU time of this process: what the queries cost, whatever else the machine's cores are doing
        print(f"pass {number} (CPU time per query)")
        for kind, values in sorted(cpu_by_kind.items()):
            print(f"  {kind:14s} {summary(values)}")
        print(f"  {'overall':14s} {summary([v for values in cpu_by_kind.values() for v in values])}")
    print("slowest:")
    for elapsed, kind, params in sorted(slowest, key=lambda item: -item[0])[:8]:
        print(f"  {elapsed:7.2f} ms  {kind:14s} {json.dumps(params, ensure_ascii=False)}")
    if profiler:
        import pstats

        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)


def cold_start(index_dir: Path, runs: int) -> None:
    totals, cpus = [], []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", _COLD_START, str(index_dir)], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.split()
        imported, opened, answered, cpu = (float(x) for x in out)
        totals.append(imported + opened + answered)
        cpus.append(cpu)
        print(
            f"  cold start: import {imported:6.1f}  open+warm {opened:6.1f}  first answer {answered:6.1f} ms"
            f"  (CPU {cpu:.1f})"
        )
    print(
        f"cold start median {statistics.median(totals):.1f} ms, max {max(totals):.1f} ms; "
        f"CPU median {statistics.median(cpus):.1f} ms ({runs} fresh processes)"
    )


def machine_load() -> str:
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return "load average " + " ".join(f.read().split()[:3])
    except OSError:
        return "load average unknown"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("--mix", type=Path, default=DEFAULT_MIX)
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile the query passes")
    parser.add_argument("--handler", action="store_true", help="through lambda_handler (HTTP API v2 events)")
    parser.add_argument("--exact", action="store_true", help="every query with exact=1 (no translations, synonyms)")
    args = parser.parse_args(argv)
    queries = json.loads(args.mix.read_text(encoding="utf-8"))["queries"]
    print(f"{len(queries)} queries from {args.mix.name} over {args.index_dir}; {machine_load()}")
    if args.passes:
        run_mix(args.index_dir, queries, args.passes, args.profile, args.handler, args.exact)
    if args.cold_runs:
        cold_start(args.index_dir, args.cold_runs)
    print(machine_load())


if __name__ == "__main__":
    main()
