"""``python -m bench``: run the benchmark; ``python -m bench queries``: redraw the committed query mixes."""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import importlib.util
import io
import json
import os
import platform
import pstats
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from bench import coldfetch, measure, report
from bench.corpus import PYVIDEO, ROOT, apply_changes, changed_talks, load_corpus, write_content_tree, write_jsonl
from bench.isolated_build import make_engine
from bench.queries import (
    draw_query_mix,
    kinds_of,
    load_query_mix,
    mix_path,
    read_mix_file,
    sanity_query,
    save_query_mix,
)

ENGINES = ("talksearch", "fts5", "tantivy")
DOCS = ROOT / "docs" / "benchmarks.md"
#: The last 100,000-talk run against tantivy (``make bench-100k``), shown in every docs/benchmarks.md
SCALE_RESULTS = ROOT / "docs" / "benchmarks-100k.json"
DOCS_PLOT = "benchmarks-latency.png"
PROFILED_KINDS = 2
STACK_READY_SECONDS = 900
LARGE_RUN_TALKS = 50_000


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("command", nargs="?", default="run", choices=("run", "queries"))
    parser.add_argument(
        "--corpus", default=None, help="auto (default) | pyvideo | pyvideo-fr | synthetic | path to a .jsonl(.gz)"
    )
    parser.add_argument("--size", type=int, help="talks: synthetic size (1000, 10000, 100000) or a sample of a file")
    parser.add_argument("--engines", default=",".join(ENGINES), help=f"comma-separated subset of {','.join(ENGINES)}")
    parser.add_argument("--quick", action="store_true", help="under two minutes: 1k synthetic, fewer queries")
    parser.add_argument(
        "--mix", type=Path, help="run this mix file (committed format: version, queries [{kind, params}]) instead"
    )
    parser.add_argument("--per-kind", type=int, help="queries of each kind taken from the mix (default: all)")
    parser.add_argument(
        "--passes", type=int, help=f"measured passes (default 3; 1 with --quick or --size ≥ {LARGE_RUN_TALKS:,})"
    )
    parser.add_argument("--cold-runs", type=int, help="fresh processes for the cold start (default 5, quick 1)")
    parser.add_argument("--load-requests", type=int, help="hey requests in all (default 2100, quick 140; 0 = skip)")
    parser.add_argument("--load-concurrency", type=int, default=4, help="hey's concurrent clients (default 4)")
    parser.add_argument(
        "--profile", action=argparse.BooleanOptionalAction, default=None, help="cProfile talksearch's slowest kinds"
    )
    parser.add_argument("--out", type=Path, help="results folder (default bench-results/<time>-<corpus>)")
    parser.add_argument(
        "--docs",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="rewrite docs/benchmarks.md (default: only `make bench`'s own run, every engine on the default corpus)",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    args.corpus = args.corpus or ("synthetic" if quick else "auto")
    if quick and args.corpus == "synthetic" and not args.size:
        args.size = 1000
    # at 100k talks a peer (SQLite FTS5) takes about 10 minutes per pass over the 700-query mix
    large = (args.size or 0) >= LARGE_RUN_TALKS
    args.passes = args.passes or (1 if quick or large else 3)
    args.cold_runs = args.cold_runs or (1 if quick else 5)
    args.per_kind = args.per_kind or (10 if quick else None)
    if args.load_requests is None:
        args.load_requests = 140 if quick else 2100
    args.profile = (not quick) if args.profile is None else args.profile
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    default_run = (
        not quick
        and args.corpus == "auto"
        and not args.size
        and not args.per_kind
        and set(args.engines) == set(ENGINES)
        and not args.mix
    )
    args.scale_run = (
        not quick
        and args.corpus == "synthetic"
        and (args.size or 0) >= report.LARGE_CORPUS
        and {"talksearch", "tantivy"} <= set(args.engines)
        and not args.mix
    )
    args.docs = (default_run or args.scale_run) if args.docs is None else args.docs
    unknown = sorted(set(args.engines) - set(ENGINES))
    if unknown:
        parser.error(f"unknown engine {unknown[0]!r}; choose from {', '.join(ENGINES)}")
    args.mix_data = None
    if args.mix:
        try:
            args.mix_data = read_mix_file(args.mix, args.per_kind)
        except ValueError as error:
            parser.error(str(error))
    return args


class Clock:
    """Progress lines on stderr, stamped with the time since the run started."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def __call__(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.started:7.1f}s] {message}", file=sys.stderr, flush=True)


def machine(load_start: float) -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30 if hasattr(os, "sysconf") else 0
    info = {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(memory),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "load_start": load_start,
    }
    for package, key in (("tantivy", "tantivy"), ("whoosh-reloaded", "whoosh")):
        with contextlib.suppress(metadata.PackageNotFoundError):
            info[key] = metadata.version(package)
    return info


def run(args: argparse.Namespace) -> int:
    progress = Clock()
    load_start = os.getloadavg()[0]
    corpus = load_corpus(args.corpus, args.size)
    source = str(PYVIDEO) if corpus.name.startswith("pyvideo") else args.corpus
    progress(f"corpus {corpus.name}: {len(corpus):,} talks")
    mix = args.mix_data or load_query_mix(corpus, args.per_kind)
    queries = mix["queries"]
    mix_file = _shown_path(mix["file"]) if mix["file"] else "drawn for this run: no committed mix"
    progress(f"query mix v{mix['version']}: {len(queries)} queries ({mix_file})")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or ROOT / "bench-results" / f"{stamp}-{corpus.name}"
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": "quick" if args.quick else "full",
        "corpus": {"name": corpus.name, "talks": len(corpus), "source": source},
        "mix": {
            "version": mix["version"],
            "file": mix_file,
            "queries": len(queries),
            "per_kind": mix["per_kind"],
            "kinds": kinds_of(queries),
        },
        "settings": {"passes": args.passes, "cold_runs": args.cold_runs, "engines": args.engines},
        "engines": {},
    }
    if not mix["file"]:
        save_query_mix(mix, out / "queries.json")
    samples: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="talksearch-bench-") as tmp, contextlib.ExitStack() as servers:
        workdir = Path(tmp)
        content_dir = workdir / "content"
        files = write_content_tree(corpus, content_dir)
        corpus_file = workdir / "corpus.jsonl"
        write_jsonl(corpus_file, corpus.records)  # what the isolated builds of the peers read
        progress(f"content: {len(files)} JSONL files under {content_dir}")
        changes = changed_talks(corpus)
        sanity = sanity_query(corpus)
        s3 = servers.enter_context(coldfetch.s3_server()) if args.cold_runs else None
        engines = {}
        for name in args.engines:
            engine = make_engine(name)
            engines[name] = engine
            results["engines"][name], samples[name] = bench_engine(
                engine, len(corpus), corpus_file, content_dir, workdir, queries, args, progress, s3
            )
            if sanity and not results["engines"][name].get("error"):
                hits = engine.search(q=sanity["q"])["hits"]
                sanity[name] = hits[0]["id"] if hits else None
        results["sanity"] = sanity
        if any(not results["engines"][n].get("error") for n in engines):
            progress("incremental rebuild: 10 talks change")
            corpus_after = apply_changes(corpus, changes, content_dir)
            for name, engine in engines.items():
                if results["engines"][name].get("error"):
                    continue
                try:
                    seconds = engine.update(corpus_after, changes, content_dir)
                    found = engine.search(q="errata")["total"]
                    results["engines"][name]["incremental_s"] = seconds
                    results["engines"][name]["after_update_errata_hits"] = found
                    progress(f"  {name}: {seconds:.3f} s (talks now matching 'errata': {found})")
                except Exception as exc:  # one engine failing must not lose the others' figures
                    results["engines"][name]["incremental_error"] = _describe(exc)
                    progress(f"  {name}: incremental rebuild FAILED: {_describe(exc)}")
        talksearch = engines.get("talksearch")
        if talksearch and not results["engines"]["talksearch"].get("error"):
            if args.profile:
                results["profile"] = profile(talksearch, queries, results["engines"]["talksearch"], out, progress)
            if args.load_requests:
                results["load"] = load(corpus_after, workdir, queries, args, out, progress)
        for engine in engines.values():
            engine.close()
    results["machine"] = machine(load_start) | {"load_end": os.getloadavg()[0]}
    cores = results["machine"]["cores"] or 1
    busiest = max(load_start, results["machine"]["load_end"])
    if busiest > 0.5 * cores:
        results["machine"]["shared_note"] = (
            f"the machine was shared with other work while these figures were taken (1-minute load average up to "
            f"{busiest:.1f} on {cores} cores): latencies are noisier and slower than on an idle machine."
        )
    write_outputs(results, samples, out, args)
    failed = [n for n, r in results["engines"].items() if r.get("error")]
    return 1 if failed else 0


def _shown_path(path: str) -> str:
    """A mix file relative to the repository when it is inside it, else as given."""
    resolved = Path(path).resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(path)


def bench_engine(
    engine, talks: int, corpus_file: Path, content_dir: Path, workdir: Path, queries: list[dict], args, progress, s3
) -> tuple:
    name = engine.name
    result: dict = {}
    try:
        progress(f"{name}: full build of {talks:,} talks, in a process of its own")
        build = measure.isolated_build(name, corpus_file, content_dir, workdir)
        engine.attach(workdir)
        result["build_s"] = build["seconds"]
        result["build_detail"] = build["detail"]
        result["build_memory"] = {"peak_rss_mb": build["peak_rss_mb"], "base_rss_mb": build["base_rss_mb"]}
        result["sizes"] = engine.sizes()
        progress(
            f"  built in {build['seconds']:.2f} s (peak memory {build['peak_rss_mb']:.0f} MB); "
            f"{result['sizes']['disk_bytes'] / 1e6:.1f} MB on disk, "
            f"{result['sizes']['artifact_bytes'] / 1e6:.1f} MB artifact"
        )
        first = next((q["params"] for q in queries if q["kind"] == "several_words"), queries[0]["params"])
        if args.cold_runs:
            module, cls, path = engine.cold_start_target()
            progress(f"{name}: cold start, {args.cold_runs} fresh process(es)")
            result["cold"] = measure.cold_start(module, cls, path, first, args.cold_runs)
            progress(
                f"  {result['cold']['total_ms']:.0f} ms in process, {result['cold']['process_ms']:.0f} ms whole process"
            )
            progress(f"{name}: cold start with the fetch from S3, {args.cold_runs} fresh process(es)")
            result["cold_fetch"] = cold_fetch(engine, s3, first, args.cold_runs, workdir)
            progress(
                f"  first answer after {result['cold_fetch']['total_ms']:.0f} ms "
                f"(fetch {result['cold_fetch']['fetch_ms'] or 0:.0f} ms), "
                f"peak memory {result['cold_fetch']['peak_rss_mb']:.0f} MB"
            )
        # The harness' own objects (corpus, mix) would not be in a Lambda's heap: keep them out of the
        # collector's way, so GC pauses measured below come from the engine's objects only.
        gc.collect()
        gc.freeze()
        engine.open()
        progress(f"{name}: first pass, {len(queries)} queries each once over the engine just opened")
        result["first_pass"] = measure.first_pass_latency(engine.search, queries)
        first_pass = result["first_pass"]["overall"]
        progress(f"  p50 {first_pass['p50']:.2f} / p95 {first_pass['p95']:.2f} / p99 {first_pass['p99']:.2f} ms")
        progress(f"{name}: warm latency, {len(queries)} queries × {args.passes} passes (the first pass warmed it)")
        warm = measure.warm_latency(engine.search, queries, args.passes, progress, warm_up=False)
        samples = warm.pop("samples")
        result["warm"] = warm
        overall = warm["overall"]
        progress(
            f"  p50 {overall['p50']:.2f} / p95 {overall['p95']:.2f} / p99 {overall['p99']:.2f} / "
            f"max {overall['max']:.1f} ms"
        )
        return result, samples
    except Exception as exc:  # report the failure next to the other engines' figures
        result["error"] = _describe(exc)
        progress(f"{name}: FAILED: {result['error']}")
        traceback.print_exc(file=sys.stderr)
        return result, {}


def cold_fetch(engine, s3, params: dict, runs: int, workdir: Path) -> dict:
    """The engine's artifact from the benchmark's S3 server, fetched and queried in fresh processes."""
    if engine.name == "talksearch":
        return coldfetch.talksearch_cold_fetch(s3, engine.published, params, runs, workdir)
    module, cls, path = engine.cold_start_target()
    return coldfetch.peer_cold_fetch(s3, engine.name, module, cls, engine.archive, path.name, params, runs, workdir)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"[:300]


def profile(engine, queries: list[dict], result: dict, out: Path, progress) -> str:
    """cProfile over the queries of talksearch's slowest kinds (by p95): where the time goes."""
    by_kind = result["warm"]["by_kind"]
    slowest = sorted(by_kind, key=lambda kind: -by_kind[kind]["p95"])[:PROFILED_KINDS]
    progress(f"talksearch: profiling the slowest kinds ({', '.join(slowest)})")
    profiler = cProfile.Profile()
    chosen = [q for q in queries if q["kind"] in slowest]
    profiler.enable()
    for query in chosen:
        engine.search(**query["params"])
    profiler.disable()
    profiler.dump_stats(out / "talksearch.prof")
    (out / "talksearch-profile.txt").write_text(_profile_text(profiler, "cumulative", None, 40), encoding="utf-8")
    own = _profile_text(profiler, "cumulative", r"functions/search|talksearch/", 14)
    hot = _profile_text(profiler, "tottime", None, 14)
    header = f"{len(chosen)} queries of kinds {', '.join(slowest)}, profiled once"
    summary = f"talksearch's own functions by cumulative time:\n{own}\n\nall functions by own time (tottime):\n{hot}"
    return f"{header}\n{summary.rstrip()}"


def _profile_text(profiler: cProfile.Profile, sort: str, restrict: str | None, limit: int) -> str:
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text).sort_stats(sort)
    stats.print_stats(*([restrict] if restrict else []), limit)
    body = text.getvalue()
    body = body[body.find("   ncalls") :] if "   ncalls" in body else body
    for prefix in (str(Path(sys.prefix) / "lib") + "/", str(ROOT) + "/"):
        body = body.replace(prefix, "")
    return body.rstrip()


def load(corpus, workdir: Path, queries: list[dict], args, out: Path, progress) -> dict:
    """The local stack (``python -m devstack``, i.e. ``make dev``) serving the corpus, under a bounded hey load.

    It runs in its own process (its logs go to ``stack.log``), serving the corpus as one JSONL file so that
    a single rebuild publishes it. Started and stopped here; nothing outlives the run.
    """
    if importlib.util.find_spec("devstack") is None:
        return {"skipped": "devstack is not available"}
    content = workdir / "stack-content"
    content.mkdir()
    write_jsonl(content / "talks.jsonl", corpus.records)
    port = measure.free_port()
    log_path = out / "stack.log"
    progress(f"local stack: starting on port {port} (it indexes {len(corpus):,} talks first; log in {log_path})")
    sampled = [next(q for q in queries if q["kind"] == kind) for kind in dict.fromkeys(q["kind"] for q in queries)]
    with open(log_path, "w", encoding="utf-8") as log:
        stack = subprocess.Popen(
            [sys.executable, "-m", "devstack", "--content-dir", str(content), "--port", str(port)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            api = f"http://127.0.0.1:{port}/api"
            problem = measure.wait_for_health(api, stack, timeout=STACK_READY_SECONDS, progress=progress)
            if problem:
                return {"error": f"the stack did not become healthy: {problem} (see {log_path})"}
            progress(
                f"local stack: hey, {args.load_requests} requests over {len(sampled)} urls, c={args.load_concurrency}"
            )
            return measure.load_test(api, sampled, args.load_requests, args.load_concurrency, progress)
        finally:
            stack.terminate()
            try:
                stack.wait(timeout=60)
            except subprocess.TimeoutExpired:
                stack.kill()
                stack.wait()


def write_outputs(results: dict, samples: dict, out: Path, args) -> None:
    command = "python -m bench " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    results["command"] = command.strip()
    json_path = out / "results.json"
    plot_path = out / "latency.png"
    results["samples_ms"] = samples
    report.write_json(results, json_path)
    if any(samples.values()):
        report.plot(results, samples, plot_path)
    (out / "benchmarks.md").write_text(report.markdown(results, plot_path.name, command.strip()), encoding="utf-8")
    print(report.stdout_report(results))
    print()
    print(f"results: {json_path}")
    print(f"plot:    {plot_path}")
    print(f"report:  {out / 'benchmarks.md'}")
    if not args.docs:
        return
    DOCS.parent.mkdir(exist_ok=True)
    if args.scale_run:  # its own section of the page, and the figures that section is drawn from
        kept = {key: value for key, value in results.items() if key != "samples_ms"}
        report.write_json(kept, SCALE_RESULTS)
        page = DOCS.read_text(encoding="utf-8") if DOCS.exists() else ""
        DOCS.write_text(report.replace_scale_section(page, kept), encoding="utf-8")
        print(f"docs:    {DOCS} (its 100,000-talk section), {SCALE_RESULTS}")
        return
    if plot_path.exists():
        (DOCS.parent / DOCS_PLOT).write_bytes(plot_path.read_bytes())
    scale = json.loads(SCALE_RESULTS.read_text(encoding="utf-8")) if SCALE_RESULTS.exists() else None
    DOCS.write_text(report.markdown(results, DOCS_PLOT, command.strip(), scale), encoding="utf-8")
    print(f"docs:    {DOCS}")


def redraw_queries(args: argparse.Namespace) -> int:
    """Redraw the committed mix of one corpus (bump MIX_VERSION in bench/queries.py when the algorithm changes)."""
    corpus = load_corpus(args.corpus, args.size)
    mix = draw_query_mix(corpus)
    save_query_mix(mix, mix_path(corpus.name))
    print(f"{mix_path(corpus.name)}: {len(mix['queries'])} queries from {corpus.name} ({len(corpus):,} talks)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    return redraw_queries(args) if args.command == "queries" else run(args)


if __name__ == "__main__":
    sys.exit(main())
