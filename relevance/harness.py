"""Running the judged queries: index building (cached), the search engine, the baselines, per-query results."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from relevance.data import JudgedQuery, file_sha256, read_jsonl
from relevance.metrics import CUTOFF, QueryScore, score

ROOT = Path(__file__).resolve().parent.parent
#: Where each judged corpus lives inside the shared folder (see ../shared/relevance/README.md).
CORPUS_FILES = {"fr": "corpora/pyvideo-talks-fr.jsonl", "full": "corpora/pyvideo-talks.jsonl.gz"}
#: Code whose changes may alter what an index holds: a change invalidates cached indexes even without
#: a SCHEMA_VERSION bump, so iterating on analysis never measures a stale index. Every builder module
#: counts (a new one too), except those that only publish or parse the command line.
INDEXING_CODE = (
    "talksearch/analysis.py",
    "talksearch/schema.py",
    "talksearch/index_files/*.py",
    "index_builder/*.py",
    "index_builder/parsers/*.py",
    "talksearch/synonyms.py",
    "talksearch/glossary/*.txt",
)
NOT_INDEXING_CODE = {
    f"index_builder/{name}.py" for name in ("build", "cache", "cli", "publish", "report", "state", "__main__")
}

#: What the page sends for a search (frontend/js/url.js searchParams, config.pageSize).
PAGE_PARAMS = {"page": 1, "size": CUTOFF}

SearchFunction = Callable[[JudgedQuery], list[str]]  # a judged query (corpus, text, filters) -> ranked talk ids


def index_key(corpus_file: Path) -> str:
    """Cache key of an index: the corpus checksum, SCHEMA_VERSION and the indexing code."""
    from talksearch.contracts import SCHEMA_VERSION

    digest = hashlib.sha256(f"{file_sha256(corpus_file)}:{SCHEMA_VERSION}".encode())
    for pattern in INDEXING_CODE:
        for path in sorted(ROOT.glob(pattern)):
            if path.relative_to(ROOT).as_posix() not in NOT_INDEXING_CODE:
                digest.update(path.read_bytes())
    return f"v{SCHEMA_VERSION}-{digest.hexdigest()[:16]}"


def build_index(corpus_file: Path, directory: Path, log: Callable[[str], None] = print) -> int:
    """Index a corpus file the way the builder indexes any content object; returns the talk count.

    Raises ``index_builder.parsers.ContentError`` when the file is unusable; skipped records are reported.
    """
    from index_builder import write_index
    from index_builder.parsers import parse_source
    from index_builder.synonyms import compile_synonyms, write_synonyms
    from talksearch.synonyms import ParsedSynonyms

    parsed = parse_source(corpus_file.name, corpus_file.read_bytes())
    for problem in parsed.problems[:5]:
        log(f"  {corpus_file.name}: skipped {problem}")
    if len(parsed.problems) > 5:
        log(f"  {corpus_file.name}: ... {len(parsed.problems) - 5} more records skipped")
    write_index(parsed.talks, directory)
    write_synonyms(directory, compile_synonyms(ParsedSynonyms()))  # the shipped glossary, as a build writes it
    return len(parsed.talks)


def cached_index(name: str, corpus_file: Path, cache_dir: Path, log: Callable[[str], None] = print) -> Path:
    """The index directory of ``corpus_file``, built once per cache key; stale ones are removed."""
    key = index_key(corpus_file)
    target = cache_dir / f"{name}-{key}"
    if target.is_dir():
        log(f"index {name}: cached {target}")
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    for stale in cache_dir.glob(f"{name}-v*"):
        shutil.rmtree(stale, ignore_errors=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=f".{name}-") as work:
        count = build_index(corpus_file, Path(work) / "index", log)
        (Path(work) / "index").rename(target)  # atomic: a crashed build never leaves a half index under the key
    log(f"index {name}: built {count} talks in {time.perf_counter() - started:.1f} s -> {target}")
    return target


@dataclass
class EngineSearch:
    """The search function's own code path: one SearchEngine per corpus index, called as the page calls it."""

    index_dirs: dict[str, Path]
    #: the request time budget; generous by default so a busy machine cannot change the rankings measured
    time_budget_ms: float = 10_000.0
    timings_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)  # CPU time: what the engine costs on a shared, busy machine
    #: queries whose answer ran out of the request's time budget (their ranking may depend on machine load)
    partial: list[str] = field(default_factory=list)
    _engines: dict = field(default_factory=dict)

    def __call__(self, query: JudgedQuery) -> list[str]:
        started, cpu_started = time.perf_counter(), time.process_time()
        body = self._search(query, exact=False)
        self.cpu_ms.append((time.process_time() - cpu_started) * 1000)
        self.timings_ms.append((time.perf_counter() - started) * 1000)
        if body.get("partial"):
            self.partial.append(query.query)
        return [hit["id"] for hit in body["hits"]]

    def exact_words(self) -> SearchFunction:
        """The same engines asked with ``exact=1`` (the words as typed only): what expansion adds is the
        difference between the two systems. Not timed."""
        return lambda query: [hit["id"] for hit in self._search(query, exact=True)["hits"]]

    def _search(self, query: JudgedQuery, exact: bool) -> dict:
        corpus = query.corpus
        if corpus not in self._engines:
            from functions.search.engine import SearchEngine

            self._engines[corpus] = SearchEngine(self.index_dirs[corpus], time_budget_ms=self.time_budget_ms)
        return self._engines[corpus].search(q=query.query, exact=exact, **PAGE_PARAMS, **query.filters)


def load_corpus(corpus_file: Path) -> list[dict]:
    """The talk records of a corpus file for the baselines (broken lines skipped, as the builder does)."""
    return [r for r in read_jsonl(corpus_file, skip_broken=True) if isinstance(r.get("id"), str)]


def talk_languages(corpus_file: Path) -> dict[str, str]:
    """Talk id -> language as the builder records it (declared, else detected): what ``lang`` filters see."""
    from index_builder.parsers import parse_source

    return {talk.id: talk.lang for talk in parse_source(corpus_file.name, corpus_file.read_bytes()).talks}


@dataclass
class QueryResult:
    query: JudgedQuery
    rankings: dict[str, list[str]]
    scores: dict[str, QueryScore]

    def to_json(self) -> dict:
        q = self.query
        return {
            "qid": q.qid,
            "corpus": q.corpus,
            "kind": q.kind,
            "query": q.query,
            **({"filters": q.filters} if q.filters else {}),
            "relevant": sorted(q.relevant),
            "systems": {
                name: {
                    "rank": s.rank,
                    "rr": round(s.rr, 4),
                    "recall": round(s.recall, 4),
                    "ndcg": round(s.ndcg, 4),
                    "top": self.rankings[name][:CUTOFF],
                }
                for name, s in self.scores.items()
            },
        }


def run_queries(queries: Sequence[JudgedQuery], systems: dict[str, SearchFunction]) -> list[QueryResult]:
    results = []
    for q in queries:
        rankings = {name: search(q) for name, search in systems.items()}
        results.append(QueryResult(q, rankings, {name: score(r, q.relevant) for name, r in rankings.items()}))
    return results


def write_results(path: Path, results: Sequence[QueryResult]) -> Path | None:
    """Write per-query results as JSON Lines; the previous file is kept as ``*.prev.jsonl`` for diffs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    previous = path.with_suffix(".prev.jsonl")
    had_previous = path.exists()
    if had_previous:
        path.replace(previous)
    with path.open("w", encoding="utf-8") as out:
        for result in results:
            out.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
    return previous if had_previous else None


def changes_since(previous: Path, results: Sequence[QueryResult], system: str) -> list[str]:
    """One line per query whose reciprocal rank for ``system`` moved since the previous results file."""
    before = {}
    for raw in read_jsonl(previous):
        entry = raw.get("systems", {}).get(system)
        if entry is not None:
            before[raw["qid"]] = entry["rr"]
    lines = []
    for result in results:
        old, new = before.get(result.query.qid), round(result.scores[system].rr, 4)
        if old is not None and abs(old - new) > 1e-9:
            arrow = "better" if new > old else "WORSE"
            lines.append(f"  {arrow:6} {result.query.qid:22} RR {old:.3f} -> {new:.3f}  {result.query.query!r}")
    return lines
