"""How each figure is taken: warm latency, cold start in a fresh process, sizes, loopback load with hey."""

from __future__ import annotations

import csv
import gc
import hashlib
import io
import json
import math
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from bench.corpus import ROOT

Progress = Callable[[str], None]


def peak_rss_mb() -> float:
    """This process' peak resident memory (Linux: VmHWM), in MB.

    Not ``ru_maxrss``: a process started by a big one (the harness holding a 100k-talk corpus, moto's
    server holding every artifact) inherits its parent's resident size in ``ru_maxrss`` at exec, so a
    small child would report the parent's figure. The high-water mark of its own memory map does not.
    """
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentiles(samples: list[float]) -> dict[str, float]:
    """Nearest-rank p50/p95/p99, max and mean of millisecond samples."""
    if not samples:
        return {"n": 0, "p50": math.nan, "p95": math.nan, "p99": math.nan, "max": math.nan, "mean": math.nan}
    ordered = sorted(samples)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    return {
        "n": len(ordered),
        "p50": rank(50),
        "p95": rank(95),
        "p99": rank(99),
        "max": ordered[-1],
        "mean": statistics.fmean(ordered),
    }


#: The order of the first pass: a fixed shuffle, the same for every engine and every run of one mix.
FIRST_PASS_SEED = 20261202


def first_pass_latency(search: Callable[..., dict], queries: list[dict], seed: int = FIRST_PASS_SEED) -> dict:
    """Each query of the mix once, over an engine just opened (its caches cold), in a shuffled order.

    What a visitor of a small site mostly meets: a query nobody asked since the container started. The
    order is drawn by ``seed``, so that no kind comes first only because the mix lists it first.
    """
    order = list(queries)
    random.Random(seed).shuffle(order)
    samples: dict[str, list[float]] = {}
    cpu: list[float] = []
    for query in order:
        started, cpu_started = time.perf_counter(), time.process_time()
        search(**query["params"])
        samples.setdefault(query["kind"], []).append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    every = [ms for kind_samples in samples.values() for ms in kind_samples]
    return {
        "overall": percentiles(every),
        "by_kind": {kind: percentiles(values) for kind, values in samples.items()},
        "cpu": percentiles(cpu),
        "seed": seed,
    }


def warm_latency(
    search: Callable[..., dict], queries: list[dict], passes: int, progress: Progress, warm_up: bool = True
) -> dict:
    """One unrecorded pass to warm caches (unless the caller made one: ``warm_up``), then ``passes``
    recorded passes over the whole mix.

    Each sample is the wall time of one full response (hits, highlights, facet counts).
    """
    if warm_up:
        for query in queries:
            search(**query["params"])
    pauses = GcPauses()
    samples: dict[str, list[float]] = {}
    cpu: list[float] = []
    per_query: list[list[float]] = [[] for _ in queries]
    slowest: list[tuple[float, str, dict]] = []
    zero_hits = {}
    totals: list[int] = []
    for n in range(passes):
        for i, query in enumerate(queries):
            started, cpu_started = time.perf_counter(), time.process_time()
            result = search(**query["params"])
            elapsed = (time.perf_counter() - started) * 1000
            cpu.append((time.process_time() - cpu_started) * 1000)
            samples.setdefault(query["kind"], []).append(elapsed)
            per_query[i].append(elapsed)
            slowest.append((elapsed, query["kind"], query["params"]))
            if n == 0:
                totals.append(result["total"])
                if not result["total"]:
                    zero_hits[query["kind"]] = zero_hits.get(query["kind"], 0) + 1
        progress(f"  pass {n + 1}/{passes} done")
    pauses.stop()
    slowest.sort(key=lambda item: -item[0])
    every = [ms for kind_samples in samples.values() for ms in kind_samples]
    return {
        "overall": percentiles(every),
        "by_kind": {kind: percentiles(values) for kind, values in samples.items()},
        # On a shared machine a query can wait for a core: CPU time and each query's median over the
        # passes show how much of the tail is the engine's own work rather than the scheduler.
        "cpu": percentiles(cpu),
        "per_query_median": percentiles([statistics.median(values) for values in per_query]),
        "samples": samples,
        "zero_hits": zero_hits,
        "totals": totals,
        "slowest": [{"ms": round(ms, 2), "kind": kind, "params": params} for ms, kind, params in slowest[:8]],
        "gc": pauses.summary(),
    }


class GcPauses:
    """Python's garbage-collector pauses while measuring: a full collection over a big heap shows up as tail latency."""

    def __init__(self) -> None:
        self.started = 0.0
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.pauses[info["generation"]].append((time.perf_counter() - self.started) * 1000)

    def stop(self) -> None:
        gc.callbacks.remove(self._callback)

    def summary(self) -> dict:
        return {
            f"gen{generation}": {"count": len(p), "total_ms": round(sum(p), 1), "max_ms": round(max(p, default=0), 1)}
            for generation, p in self.pauses.items()
        }


_COLD_SCRIPT = """
import time
started = time.perf_counter()
import json, sys
from {module} import {cls}
opened = time.perf_counter()
engine = {cls}({path!r})
ready = time.perf_counter()
result = engine.search(**json.loads({params!r}))
done = time.perf_counter()
print(json.dumps({{"import_ms": (opened - started) * 1000, "open_ms": (ready - opened) * 1000,
                  "query_ms": (done - ready) * 1000, "total_ms": (done - started) * 1000,
                  "hits": len(result["hits"])}}))
"""


def cold_start(module: str, cls: str, path: Path, params: dict, runs: int) -> dict:
    """Median over ``runs`` fresh interpreters of: import the engine, open the index, answer one full query.

    ``total_ms`` is measured inside the process (the goal's definition); ``process_ms`` adds interpreter
    start-up and exit, as seen from outside.
    """
    script = _COLD_SCRIPT.format(module=module, cls=cls, path=str(path), params=json.dumps(params))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    measured = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        elapsed = (time.perf_counter() - started) * 1000
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines() or ["(no output)"]
            raise RuntimeError(f"cold start of {module} failed: {lines[-1]}")
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        figures["process_ms"] = elapsed
        measured.append(figures)
    keys = ("import_ms", "open_ms", "query_ms", "total_ms", "process_ms")
    return {key: statistics.median(m[key] for m in measured) for key in keys} | {"runs": runs}


def isolated_build(name: str, corpus_file: Path, content_dir: Path, workdir: Path, timeout: float = 3600) -> dict:
    """``bench.isolated_build`` in a fresh process: the build's seconds, details and its own peak memory."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.isolated_build", name, str(corpus_file), str(content_dir), str(workdir)],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        lines = (done.stderr.strip() or "(no output)").splitlines()
        raise RuntimeError(f"{name} build failed: {lines[-1][:300]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def directory_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def pack_artifact(path: Path, archive: Path) -> int:
    """``path`` (a file or a directory) as a tar.gz at level 6, the way a peer's index would be shipped; bytes."""
    with tarfile.open(archive, mode="w:gz", compresslevel=6) as tar:
        tar.add(path, arcname=path.name)
    return archive.stat().st_size


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def ensure_hey() -> str | None:
    return shutil.which("hey")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_health(api: str, process: subprocess.Popen, timeout: float, progress: Progress) -> str | None:
    """Poll ``/api/health`` until it answers 200; None when ready, else what went wrong.

    Slow or refused answers are expected while the stack indexes and loads its first artifact.
    """
    deadline = time.monotonic() + timeout
    last, reported = "no answer yet", time.monotonic()
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"the stack exited with status {process.returncode}"
        try:
            with urllib.request.urlopen(f"{api}/health", timeout=30) as response:
                if response.status == 200:
                    return None
        except urllib.error.HTTPError as error:
            last = f"/api/health answered {error.code}"
        except OSError as error:
            last = f"/api/health: {error}"
        if time.monotonic() - reported > 30:
            progress(f"  still waiting for the stack ({last})")
            reported = time.monotonic()
        time.sleep(1)
    return f"not healthy after {timeout:.0f} s ({last})"


def api_url(base: str, params: dict) -> str:
    query = {k: v for k, v in params.items() if v not in ("", None, [])}
    query.setdefault("q", "")
    return f"{base}/search?{urllib.parse.urlencode(query, doseq=True)}"


def load_test(base: str, queries: list[dict], total_requests: int, concurrency: int, progress: Progress) -> dict:
    """``hey`` against the running stack: one run per sampled query, each bounded in count and time.

    Latencies come from hey's per-request CSV, so the p99 is over every request of every run.
    """
    hey = ensure_hey()
    if not hey:
        return {"skipped": "hey is not installed (make bench installs it with apt-get)"}
    urls = [api_url(base, q["params"]) for q in queries]
    # hey splits -n evenly over its -c workers and drops the remainder (-n 150 -c 4 sends 148): ask a multiple
    per_url = max(1, total_requests // len(urls) // concurrency) * concurrency
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors = 0
    busy = 0.0
    for n, url in enumerate(urls, 1):
        started = time.perf_counter()
        done = subprocess.run(
            [hey, "-n", str(per_url), "-c", str(concurrency), "-t", "20", "-o", "csv", url],
            capture_output=True,
            text=True,
            timeout=300,
        )
        busy += time.perf_counter() - started
        rows = list(csv.DictReader(io.StringIO(done.stdout)))
        for row in rows:
            latencies.append(float(row["response-time"]) * 1000)
            statuses[row["status-code"]] = statuses.get(row["status-code"], 0) + 1
        errors += per_url - len(rows)  # requests hey could not complete (connection errors, timeouts)
        progress(f"  hey {n}/{len(urls)}: {len(rows)} responses")
    ok = statuses.get("200", 0)
    errors += sum(count for status, count in statuses.items() if status != "200")
    return {
        "requests": per_url * len(urls),
        "concurrency": concurrency,
        "urls": len(urls),
        "requests_per_second": len(latencies) / busy if busy else 0.0,
        "latency": percentiles(latencies),
        "ok": ok,
        "errors": errors,
        "statuses": statuses,
    }
