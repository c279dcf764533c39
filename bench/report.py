"""Turning one run's results into the stdout table, the JSON file, the latency plot and docs/benchmarks.md."""

from __future__ import annotations

import json
import math
from pathlib import Path

from bench.queries import KINDS, SHAPE_RULES

TARGET = "talksearch"
PEERS = ("fts5", "tantivy")
GOAL_CORPUS = "pyvideo"
LABELS = {"talksearch": "talksearch", "fts5": "SQLite FTS5", "tantivy": "tantivy"}


def _get(results: dict, engine: str, *path: str) -> float | None:
    node = results["engines"].get(engine)
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node if isinstance(node, int | float) and not (isinstance(node, float) and math.isnan(node)) else None


#: (label, path into an engine's results, scale, decimals)
MEASURES = (
    ("full build (s)", ("build_s",), 1, 2),
    ("  peak memory of the build (MB)", ("build_memory", "peak_rss_mb"), 1, 0),
    ("incremental rebuild, 10 talks (s)", ("incremental_s",), 1, 3),
    ("index on disk (MB)", ("sizes", "disk_bytes"), 1e-6, 1),
    ("artifact a cold container downloads (MB)", ("sizes", "artifact_bytes"), 1e-6, 1),
    ("  talksearch's Whoosh artifact, the builder's own (MB)", ("sizes", "whoosh_artifact_bytes"), 1e-6, 1),
    ("cold start: import+open+1st query (ms)", ("cold", "total_ms"), 1, 0),
    ("  of which import (ms)", ("cold", "import_ms"), 1, 0),
    ("  of which open the index (ms)", ("cold", "open_ms"), 1, 0),
    ("  of which first query (ms)", ("cold", "query_ms"), 1, 0),
    ("cold start, whole process (ms)", ("cold", "process_ms"), 1, 0),
    ("cold start with the fetch from S3: first answer (ms)", ("cold_fetch", "total_ms"), 1, 0),
    ("  of which import (ms)", ("cold_fetch", "import_ms"), 1, 0),
    ("  of which fetch: download, sha256 (unpack: peers) (ms)", ("cold_fetch", "fetch_ms"), 1, 0),
    ("  of which open (ms)", ("cold_fetch", "open_ms"), 1, 0),
    ("  of which first query (ms)", ("cold_fetch", "query_ms"), 1, 0),
    ("  whole process (ms)", ("cold_fetch", "process_ms"), 1, 0),
    ("  peak memory (MB)", ("cold_fetch", "peak_rss_mb"), 1, 0),
    ("first pass p50 (ms): each query once, caches cold", ("first_pass", "overall", "p50"), 1, 2),
    ("first pass p95 (ms)", ("first_pass", "overall", "p95"), 1, 2),
    ("first pass p99 (ms)", ("first_pass", "overall", "p99"), 1, 2),
    ("warm p50 (ms)", ("warm", "overall", "p50"), 1, 2),
    ("warm p95 (ms)", ("warm", "overall", "p95"), 1, 2),
    ("warm p99 (ms)", ("warm", "overall", "p99"), 1, 2),
    ("warm max (ms)", ("warm", "overall", "max"), 1, 1),
    ("warm p99, CPU time only (ms)", ("warm", "cpu", "p99"), 1, 2),
    ("warm p99 of each query's median over passes (ms)", ("warm", "per_query_median", "p99"), 1, 2),
)


def _fmt(value: float | None, decimals: int) -> str:
    return "–" if value is None else f"{value:,.{decimals}f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "–" if a is None or b in (None, 0) else f"{a / b:.2f}×"


def engines_of(results: dict) -> list[str]:
    return [name for name in (TARGET, *PEERS) if name in results["engines"]]


def main_table(results: dict) -> list[list[str]]:
    engines = engines_of(results)
    peers = [p for p in PEERS if p in engines] if TARGET in engines else []
    header = ["measure", *(LABELS[e] for e in engines), *(f"talksearch/{LABELS[p]}" for p in peers)]
    rows = [header]
    for label, path, scale, decimals in MEASURES:
        values = {e: _get(results, e, *path) for e in engines}
        scaled = {e: (v * scale if v is not None else None) for e, v in values.items()}
        rows.append(
            [label, *(_fmt(scaled[e], decimals) for e in engines), *(_ratio(values[TARGET], values[p]) for p in peers)]
        )
    return rows


def kinds_in(results: dict) -> list[str]:
    """The mix's kinds in their order (older results without the list: the committed kinds)."""
    return results["mix"].get("kinds") or list(KINDS)


def kind_table(results: dict, phase: str = "warm") -> list[list[str]]:
    """Latency per query kind and engine, of the warm passes or (``phase="first_pass"``) of the first pass."""
    engines = engines_of(results)
    rows = [["query kind", *(f"{LABELS[e]} p50 / p95 / p99 / max" for e in engines)]]
    for kind in kinds_in(results):
        cells = [kind.replace("_", " ")]
        for engine in engines:
            stats = (results["engines"][engine].get(phase) or {}).get("by_kind", {}).get(kind)
            cells.append(" / ".join(_fmt(stats[k], 1) for k in ("p50", "p95", "p99", "max")) if stats else "–")
        rows.append(cells)
    return rows


def load_rows(results: dict) -> list[list[str]]:
    load = results.get("load")
    if not load:
        return []
    if "skipped" in load or "error" in load:
        return [["local stack under hey", load.get("skipped") or load.get("error")]]
    lat = load["latency"]
    return [
        ["local stack under hey", "figure"],
        [
            "requests (urls × requests, concurrency)",
            f"{load['requests']} ({load['urls']} urls, c={load['concurrency']})",
        ],
        ["requests per second", f"{load['requests_per_second']:.1f}"],
        ["latency p50 / p95 / p99 / max (ms)", " / ".join(_fmt(lat[k], 1) for k in ("p50", "p95", "p99", "max"))],
        ["non-200 or failed requests", str(load["errors"])],
    ]


def goals(results: dict) -> list[dict]:
    """The issue's goals next to this run's figures: met, or missed by how much."""

    def mine(*path: str) -> float | None:
        return _get(results, TARGET, *path)

    def fts(*path: str) -> float | None:
        return _get(results, "fts5", *path)

    fts_p99, fts_p95 = fts("warm", "overall", "p99"), fts("warm", "overall", "p95")
    fts_size = fts("sizes", "disk_bytes")
    checks = [
        ("full-response p95", mine("warm", "overall", "p95"), 15.0, "ms"),
        ("full-response p99", mine("warm", "overall", "p99"), 40.0, "ms"),
        ("worst query", mine("warm", "overall", "max"), 250.0, "ms"),
        ("p99 better than SQLite FTS5's", mine("warm", "overall", "p99"), fts_p99, "ms<"),
        ("p95 within 3× SQLite FTS5's", mine("warm", "overall", "p95"), 3 * fts_p95 if fts_p95 else None, "ms"),
        ("cold start (import, open, first answer)", mine("cold", "total_ms"), 400.0, "ms"),
        ("full build", mine("build_s"), 60.0, "s"),
        ("incremental rebuild after 10 talks change", mine("incremental_s"), 5.0, "s"),
        (
            "artifact ≤ 1.2× the SQLite FTS5 database",
            mine("sizes", "artifact_bytes"),
            1.2 * fts_size if fts_size else None,
            "B",
        ),
    ]
    load = results.get("load") or {}
    out = []
    for name, figure, target, unit in checks:
        out.append(_goal(name, figure, target, unit))
    if "errors" in load:
        out.append(
            {
                "goal": "0 errors under load",
                "target": "0",
                "figure": str(load["errors"]),
                "status": "met" if load["errors"] == 0 else f"missed: {load['errors']} errors",
            }
        )
    return out


#: Issue 12's goals: (label, path into an engine's results, at most this many times tantivy's figure)
PEER_GOALS = (
    ("warm p95", ("warm", "overall", "p95"), 1.0),
    ("warm p99", ("warm", "overall", "p99"), 1.2),
    ("first pass p95 (each query asked once)", ("first_pass", "overall", "p95"), 1.0),
    ("first pass p99", ("first_pass", "overall", "p99"), 1.2),
    ("cold start with the fetch, first answer", ("cold_fetch", "total_ms"), 2.0),
    ("artifact", ("sizes", "artifact_bytes"), 1.0),
    ("full build", ("build_s",), 8.0),
)
#: ... and its absolute ones, on this kind of machine
COLD_FETCH_GOAL_MS = 600.0
LARGE_CORPUS = 100_000
LARGE_BUILD_GOAL_S = 600.0
LARGE_P99_RATIO = 1.5


def tantivy_goals(results: dict) -> list[dict]:
    """talksearch against tantivy measured in the same run (issue 12), plus its absolute goals."""
    large = results["corpus"]["talks"] >= LARGE_CORPUS
    out = []
    for label, path, limit in PEER_GOALS:
        if large and path[-1] == "p99":
            limit = LARGE_P99_RATIO
        mine, theirs = _get(results, TARGET, *path), _get(results, "tantivy", *path)
        if mine is None or not theirs:
            out.append({"goal": f"{label} / tantivy's", "target": f"≤ {limit:.1f}×", "figure": "not measured",
                        "status": "–"})  # fmt: skip
            continue
        ratio = mine / theirs
        status = "met" if ratio <= limit else f"missed ({ratio / limit:.2f}× the target)"
        out.append({"goal": f"{label} / tantivy's", "target": f"≤ {limit:.1f}×", "figure": f"{ratio:.2f}×",
                    "status": status})  # fmt: skip
    out.append(_goal("cold start with the fetch, first answer", _get(results, TARGET, "cold_fetch", "total_ms"),
                     COLD_FETCH_GOAL_MS, "ms"))  # fmt: skip
    if large:
        out.append(_goal("full build of a large corpus", _get(results, TARGET, "build_s"), LARGE_BUILD_GOAL_S, "s"))
    return out


#: The 100,000-talk run's rows in docs/benchmarks.md (labels of MEASURES)
SCALE_MEASURES = (
    "full build (s)",
    "  peak memory of the build (MB)",
    "incremental rebuild, 10 talks (s)",
    "artifact a cold container downloads (MB)",
    "cold start with the fetch from S3: first answer (ms)",
    "  peak memory (MB)",
    "first pass p50 (ms): each query once, caches cold",
    "first pass p95 (ms)",
    "first pass p99 (ms)",
    "warm p50 (ms)",
    "warm p95 (ms)",
    "warm p99 (ms)",
)
SCALE_BEGIN, SCALE_END = "<!-- 100k run: begin -->", "<!-- 100k run: end -->"
#: What a deployment gives (template.yaml's defaults): the limits a growing corpus meets
BUILDER_MEMORY_MB, SEARCH_MEMORY_MB = 2048, 1024


def scale_section(scale: dict | None) -> list[str]:
    """The kept 100,000-talk run (``make bench-100k``): its figures against tantivy's, its goals, and which
    deployment limit a larger corpus meets first, extrapolated from its own figures."""
    if not scale:
        heading = "## At 100,000 synthetic talks (issue 12, item 5)"
        return [SCALE_BEGIN, heading, "", "Not measured yet: `make bench-100k` writes this section.", "", SCALE_END]
    machine, talks = scale["machine"], scale["corpus"]["talks"]
    lines = [SCALE_BEGIN, f"## At {talks:,} synthetic talks (issue 12, item 5)", ""]
    lines += [
        f"`{scale.get('command', 'python -m bench')}` ({scale['date']}, {machine['cores']} cores, {machine['cpu']},"
        f" load {machine['load_start']:.2f} / {machine['load_end']:.2f}; kept in `docs/benchmarks-100k.json`,"
        f" rewritten by `make bench-100k` only): {talks:,} talks, {scale['mix']['queries']} queries"
        f" (`{scale['mix']['file']}`), one first pass then {scale['settings']['passes']} warm pass.",
        "",
    ]
    rows = main_table(scale)
    lines += [markdown_table([rows[0], *(row for row in rows[1:] if row[0] in SCALE_MEASURES)]), ""]
    if "tantivy" in scale["engines"]:
        goal_rows = [["goal", "target", "this run", "status"]] + [list(g.values()) for g in tantivy_goals(scale)]
        lines += [markdown_table(goal_rows), ""]
    lines += [
        "What a larger corpus meets first, from this run's figures, each taken as growing in proportion to the talks"
        " (the import of a cold start and the builder's memory before it reads a talk as fixed):",
        "",
    ]
    lines += [markdown_table(scale_limits(scale)), ""]
    return [*lines, SCALE_END]


def scale_limits(scale: dict) -> list[list[str]]:
    """Each deployment limit, what the run used of it and the corpus size at which it would be reached."""
    talks = scale["corpus"]["talks"]

    def mine(*path: str) -> float | None:
        return _get(scale, TARGET, *path)

    import_ms = mine("cold_fetch", "import_ms") or 0.0
    limits = (
        ("build within the rebuild function's 600 s (Lambda's own limit: 900 s)", mine("build_s"), 600.0, 0.0, "s",
         "several sites' prefixes, or the builder run outside Lambda (`python -m index_builder`)"),
        (f"build's peak memory within the builder's {BUILDER_MEMORY_MB:,} MB", mine("build_memory", "peak_rss_mb"),
         float(BUILDER_MEMORY_MB), mine("build_memory", "base_rss_mb") or 0.0, "MB",
         "the BuilderMemorySize parameter (up to 10,240 MB)"),
        (f"cold first answer's peak memory within the search function's {SEARCH_MEMORY_MB:,} MB",
         mine("cold_fetch", "peak_rss_mb"), float(SEARCH_MEMORY_MB), 0.0, "MB",
         "the SearchMemorySize parameter (the caches' budget follows it)"),
        ("cold start with the fetch within 600 ms", mine("cold_fetch", "total_ms"), 600.0, import_ms, "ms",
         "the keep-warm schedule or provisioned concurrency (docs/deploy.md)"),
    )  # fmt: skip
    rows = [["limit", f"at {talks:,} talks", "share used", "talks at the limit", "the way past it"]]
    for name, figure, limit, fixed, unit, remedy in limits:
        if figure is None:
            rows.append([name, "not measured", "–", "–", remedy])
            continue
        growing = figure - fixed
        reached = talks * (limit - fixed) / growing if growing > 0 else math.inf
        shown = "–" if math.isinf(reached) else f"about {reached:,.0f}" if reached >= talks else "already over"
        rows.append([name, f"{figure:,.0f} {unit}", f"{figure / limit:.0%}", shown, remedy])
    return rows


def replace_scale_section(page: str, scale: dict) -> str:
    """``page`` (docs/benchmarks.md) with its 100,000-talk section rewritten from ``scale``, before the Method."""
    section = "\n".join(scale_section(scale))
    if SCALE_BEGIN in page and SCALE_END in page:
        before, rest = page.split(SCALE_BEGIN, 1)
        return before + section + rest.split(SCALE_END, 1)[1]
    before, method, after = page.partition("## Method")
    return before + section + "\n\n" + method + after


def _goal(name: str, figure: float | None, target: float | None, unit: str) -> dict:
    """``unit`` ending in ``<`` makes the goal strict (the figure must be below the target)."""
    strict = unit.endswith("<")
    unit = unit.rstrip("<")

    def show(value: float) -> str:
        return f"{value / 1e6:.1f} MB" if unit == "B" else f"{value:,.1f} {unit}"

    if figure is None or target is None:
        shown = "–" if target is None else f"{'<' if strict else '≤'} {show(target)}"
        return {"goal": name, "target": shown, "figure": "not measured", "status": "–"}
    met = figure < target if strict else figure <= target
    missed = f"missed by {show(figure - target)} ({figure / target:.1f}× the target)"
    return {
        "goal": name,
        "target": f"{'<' if strict else '≤'} {show(target)}",
        "figure": show(figure),
        "status": "met" if met else missed,
    }


def text_table(rows: list[list[str]]) -> str:
    if not rows:
        return ""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append(
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows: list[list[str]]) -> str:
    if not rows:
        return ""
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join(["---"] + ["---:"] * (len(rows[0]) - 1)) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def stdout_report(results: dict) -> str:
    corpus = results["corpus"]
    parts = [
        f"talksearch benchmark — {corpus['name']} ({corpus['talks']:,} talks), query mix v{results['mix']['version']} "
        f"({results['mix']['queries']} queries × {results['settings']['passes']} passes), {results['date']}",
        "",
        text_table(main_table(results)),
        "",
        text_table(kind_table(results, "first_pass")),
        "",
        text_table(kind_table(results)),
    ]
    if results.get("load"):
        parts += ["", text_table(load_rows(results))]
    if TARGET in results["engines"]:
        rows = [["goal", "target", "figure", "status"]] + [list(g.values()) for g in goals(results)]
        parts += ["", text_table(rows)]
        if "tantivy" in results["engines"]:
            versus = [list(g.values()) for g in tantivy_goals(results)]
            parts += ["", text_table([["goal (issue 12)", "target", "figure", "status"], *versus])]
    parts += ["", sanity_line(results), agreement_line(results)]
    for name, engine in results["engines"].items():
        if engine.get("error"):
            parts += ["", f"{name} FAILED: {engine['error']}"]
    return "\n".join(parts)


def agreement_line(results: dict) -> str:
    """How often each peer found as many talks as talksearch: the engines match the same way, or not."""
    mine = results["engines"].get(TARGET, {}).get("warm", {}).get("totals")
    if not mine:
        return ""
    shares = []
    for peer in PEERS:
        theirs = results["engines"].get(peer, {}).get("warm", {}).get("totals")
        if theirs and len(theirs) == len(mine):
            same = sum(a == b for a, b in zip(mine, theirs, strict=True))
            shares.append(f"{LABELS[peer]} {same}/{len(mine)}")
    return "same total as talksearch (first pass, query by query): " + (", ".join(shares) or "–")


def sanity_line(results: dict) -> str:
    """Whether every engine put the one talk holding a unique title word first: are they doing the same work?"""
    sanity = results.get("sanity")
    if not sanity:
        return "same-top-hit check: no title word unique to one talk in this corpus"
    tops = {e: sanity.get(e) for e in engines_of(results)}
    agree = all(top == sanity["expected"] for top in tops.values())
    verdict = "every engine agrees" if agree else "DISAGREEMENT: " + ", ".join(f"{e} → {t}" for e, t in tops.items())
    return f"same-top-hit check: q={sanity['q']!r} is only in {sanity['expected']}: {verdict}"


def write_json(results: dict, path: Path) -> None:
    path.write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str) + "\n", encoding="utf-8")


def plot(results: dict, samples: dict[str, dict[str, list[float]]], path: Path) -> None:
    """Left: each engine's latency distribution (ECDF, log scale). Right: p95 per query kind."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    plain = FuncFormatter(lambda value, _: f"{value:g}")

    engines = [e for e in engines_of(results) if samples.get(e)]
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 5), width_ratios=(2, 3))
    for engine in engines:
        values = sorted(ms for kind_samples in samples[engine].values() for ms in kind_samples)
        fractions = [(i + 1) / len(values) for i in range(len(values))]
        left.step(values, fractions, where="post", label=LABELS[engine])
    left.set_xscale("log")
    left.xaxis.set_major_formatter(plain)
    left.set_xlabel("full-response latency (ms, log scale)")
    left.set_ylabel("fraction of queries answered within")
    left.axhline(0.95, color="grey", linewidth=0.5, linestyle=":")
    left.axhline(0.99, color="grey", linewidth=0.5, linestyle=":")
    left.grid(True, which="both", linewidth=0.3)
    left.legend()
    left.set_title(f"Warm latency, {results['corpus']['name']} ({results['corpus']['talks']:,} talks)")
    width = 0.8 / max(1, len(engines))
    kinds = kinds_in(results)
    for n, engine in enumerate(engines):
        by_kind = results["engines"][engine]["warm"]["by_kind"]
        heights = [by_kind.get(kind, {}).get("p95", 0) for kind in kinds]
        right.bar([i + n * width for i in range(len(kinds))], heights, width, label=LABELS[engine])
    right.set_xticks([i + width * (len(engines) - 1) / 2 for i in range(len(kinds))])
    right.set_xticklabels([k.replace("_", "\n") for k in kinds], fontsize=7)
    right.set_yscale("log")
    right.yaxis.set_major_formatter(plain)
    right.yaxis.set_minor_formatter(plain)
    right.set_ylabel("p95 (ms, log scale)")
    right.set_title("p95 per query kind")
    right.grid(True, axis="y", which="both", linewidth=0.3)
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(results: dict, plot_name: str, command: str, scale: dict | None = None) -> str:
    """docs/benchmarks.md: this run, then the kept 100,000-talk run (``scale``) and the method."""
    machine = results["machine"]
    corpus = results["corpus"]
    settings = results["settings"]
    lines = [
        "# Benchmarks",
        "",
        "<!-- Generated by `python -m bench` (make bench); edits here are overwritten by the next run. -->",
        "",
        "talksearch next to what a user could pick instead, on the same corpus and the same queries, in one run:",
        "SQLite FTS5 (standard library `sqlite3`) and tantivy (the `tantivy` package). Every engine answers the",
        "same full response: top 10 hits with an HTML snippet (`<mark>` highlights), the total, and facet counts",
        "for speaker, company, event, year and language (each facet's counts ignoring its own filter).",
        "talksearch is measured through `index_builder.build_and_publish` and the search function's",
        "`SearchEngine` over the downloaded and verified search pack, exactly as the Lambda runs it.",
        "",
        f"- **Command:** `{command}`",
        f"- **Date:** {results['date']}",
        f"- **Machine:** {machine['cores']} cores ({machine['cpu']}), {machine['memory_gb']} GB RAM, "
        f"Python {machine['python']}, SQLite {machine['sqlite']}, tantivy {machine.get('tantivy', '–')}, "
        f"whoosh {machine.get('whoosh', '–')}",
        f"- **Load average** (1 min) at start / end: {machine['load_start']:.2f} / {machine['load_end']:.2f}",
    ]
    if machine.get("shared_note"):
        lines.append(f"- **Note:** {machine['shared_note']}")
    lines += [
        f"- **Corpus:** {corpus['name']}, {corpus['talks']:,} talks ({corpus['source']})",
        f"- **Queries:** mix v{results['mix']['version']} (`{results['mix']['file']}`), "
        f"{results['mix']['queries']} queries ({results['mix']['per_kind']} per kind): a first pass over the engine "
        f"just opened (each query once, shuffled), then {settings['passes']} measured warm passes; cold start is "
        f"the median of {settings['cold_runs']} fresh processes.",
        "",
        "## Results",
        "",
        markdown_table(main_table(results)),
        "",
        "Ratios are talksearch divided by the peer: below 1 means talksearch is smaller or faster. The first pass",
        "is what a visitor of a small site mostly meets: every query asked once of an engine just opened, its",
        "caches cold; the warm rows are the passes after it. The last two rows separate the engine's own work",
        "from the machine: CPU time excludes time spent waiting for a core, and each query's median over the",
        "passes drops one-off stalls. The goals are judged on wall time.",
        "",
        "### First-pass latency per query kind (ms): each query once, caches cold",
        "",
        markdown_table(kind_table(results, "first_pass")),
        "",
        "### Warm latency per query kind (ms)",
        "",
        markdown_table(kind_table(results)),
        "",
        f"![latency distributions]({plot_name})",
        "",
    ]
    if results.get("load"):
        lines += ["### Local stack under load", "", markdown_table(load_rows(results)), ""]
        lines += [
            "`make dev`'s stack (`python -m devstack`: moto S3 and SQS, the real rebuild and search handlers behind",
            "the HTTP API v2 adapter) in its own process on loopback, serving the corpus as one JSONL file, driven",
            "by `hey` with one bounded run per sampled query (one of each kind); latencies are over every request.",
            "",
        ]
    if TARGET in results["engines"]:
        lines += ["## Goals (issue 7)", ""]
        if corpus["name"] != GOAL_CORPUS:
            lines += [f"The goals are set for the 21,713-talk pyvideo corpus; this run used {corpus['name']}.", ""]
        rows = [["goal", "target", "this run", "status"]] + [list(g.values()) for g in goals(results)]
        lines += [markdown_table(rows), ""]
        if "tantivy" in results["engines"]:
            lines += ["## Goals (issue 12: talksearch against tantivy in this run)", ""]
            rows = [["goal", "target", "this run", "status"]] + [list(g.values()) for g in tantivy_goals(results)]
            lines += [markdown_table(rows), ""]
        lines += [
            "Where a goal is missed, look here: latency → the slowest queries and the profile below (and the CPU-time",
            "row above, which tells the engine's work from a busy machine); cold start → the import / open / first",
            "query rows; build, incremental rebuild and artifact → `index_builder` (build and pack).",
            "",
        ]
    lines += [sanity_line(results), "", agreement_line(results), ""]
    zero = {e: results["engines"][e].get("warm", {}).get("zero_hits", {}) for e in engines_of(results)}
    if any(zero.values()):
        lines += ["### Queries that found nothing (first pass)", ""]
        lines += [f"- {LABELS[e]}: " + (", ".join(f"{k} {v}" for k, v in z.items()) or "none") for e, z in zero.items()]
        lines.append("")
    gc_rows = [["engine", "gen-2 collections", "their total (ms)", "longest (ms)", "all collections' total (ms)"]]
    for engine in engines_of(results):
        pauses = results["engines"][engine].get("warm", {}).get("gc")
        if pauses:
            full = pauses["gen2"]
            every = sum(p["total_ms"] for p in pauses.values())
            gc_rows.append(
                [LABELS[engine], str(full["count"]), f"{full['total_ms']:.1f}", f"{full['max_ms']:.1f}", f"{every:.1f}"]
            )
    if len(gc_rows) > 1:
        lines += ["### Garbage-collector pauses during the measured passes", "", markdown_table(gc_rows), ""]
    slow = results["engines"].get(TARGET, {}).get("warm", {}).get("slowest")
    if slow:
        lines += ["### talksearch's slowest queries", ""]
        lines += [f"- {s['ms']:.1f} ms — {s['kind']}: `{json.dumps(s['params'], ensure_ascii=False)}`" for s in slow]
        lines.append("")
    if results.get("profile"):
        lines += [
            "### Where talksearch's time goes (cProfile, slowest kinds)",
            "",
            "```",
            results["profile"],
            "```",
            "",
        ]
    for name, engine in results["engines"].items():
        if engine.get("error"):
            lines += [f"**{LABELS.get(name, name)} failed:** `{engine['error']}`", ""]
    lines += [*scale_section(scale), ""]
    lines += [
        "## Method",
        "",
        "- Corpus: `--corpus pyvideo` (default when `../shared/corpora` is present), `pyvideo-fr`, `synthetic`",
        "  (deterministic French/English generator, `--size 1000|10000|100000`) or a JSONL path. The talks are",
        "  written as one JSONL file per event, which is what the builder reads; the peers index the same records.",
        "- Query mix: `bench/mixes/<corpus>-v<version>.json`, drawn by `bench/queries.py` from the corpus' own",
        "  word frequencies, title words and facets (one word, several words, phrase, prefix, typo, filtered, empty",
        "  browse); no engine is consulted when drawing it. `python -m bench queries` redraws it;",
        "  `python -m bench --mix FILE` runs any mix in the same format (a held-out one) through every engine.",
        "  Mix v2's first seven kinds are mix v1's queries, unchanged; the kinds it adds are each drawn by a rule",
        "  over the corpus' statistics:",
        *(f"  - {kind.replace('_', ' ')}: {rule}." for kind, rule in SHAPE_RULES.items()),
        "- Peers: all words must match, then typo variants (edit distance 1 over an unstemmed vocabulary), then any",
        "  word; BM25 weighted title > speakers > summary; the same filters and facet semantics.",
        "- Incremental rebuild: 10 talks spread over the corpus change title and summary; talksearch re-runs",
        "  `build_and_publish` on the content folder, the peers delete and re-add the 10 documents.",
        "- Artifact: what a cold container downloads: talksearch's search pack (`search.pack`; its Whoosh",
        "  `index.tar.gz`, the builder's own state, on its own row); for the peers, their index as a level-6 tar.gz.",
        "  talksearch's index on disk is the pack too: the search function holds it in memory, not in /tmp.",
        "- Builds: each engine's full build runs in a process of its own (`bench/isolated_build.py`), so its",
        "  peak resident memory (VmHWM, the high-water mark of the process' own memory) is its own; a peer is",
        "  handed the records first, talksearch reads the content folder as the rebuild function does.",
        "- Cold start with the fetch (`bench/coldfetch.py`): every artifact is uploaded to one moto S3 server on",
        "  loopback; each fresh process fetches it and answers one query. talksearch through the search",
        "  function's `lambda_handler` (manifest, the pack downloaded into memory with its sha256, open, answer);",
        "  a peer streams the object through sha256 into tar, opens its index and answers. Peak memory is the",
        "  process' VmHWM.",
        "  Loopback is faster than real S3, so the fetch part is a lower bound.",
        "- Same answers (`bench/compare.py`): `python -m bench.compare record INDEX --out A.json.gz --mix FILE",
        "  [--relevance FILE --corpus NAME]` keeps every answer of one version of the search core (search, suggest,",
        "  the first hit's talk page); `check A.json.gz INDEX` runs another version over the same queries and lists",
        "  every difference up to ties (equal scores, facet values tied at the 20th count: docs/api.md), twice: the",
        "  second time each query is asked of the same engine, its kept answers are checked too.",
        "- Latency is wall time around one call answering the full response, in the benchmark process.",
        "- First pass (`bench/measure.py`, `first_pass_latency`): the engine opened in the benchmark process, then",
        "  every query of the mix asked once, in an order shuffled with a fixed seed (the same for every engine),",
        "  before any warm pass: its caches are cold for every query, as in a container few visitors reach.",
        '  Its percentiles per query kind are in their own table, above the warm one (docs/api.md, "The first',
        '  ask", says what a first ask costs and why).',
        "",
    ]
    return "\n".join(lines)
