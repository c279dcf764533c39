"""``make soak``: the local stack (``make dev``) over the 21.7k-talk corpus, under bounded load, while content changes.

    SOAK_SECONDS=600 python -m bench.soak [--corpus ../shared/corpora/pyvideo-talks.jsonl.gz]

Starts ``python -m devstack`` on the corpus in its own process, and at once a bounded loopback load
(``hey``: 4 clients at 10 requests a second each, 15 s runs, each on a search drawn from the corpus's
titles). Once the first index is served, it adds one talk to the content folder every 15 s, with a word
no other talk has, and asks the API for that word until it is found: the time from the change to it
being searchable. After ``SOAK_SECONDS`` (default 600) of that, it stops and prints: requests, answers
that were not 200 (only the documented 503 before the first index is allowed), the stack's resident
memory when the first index was served and at the end, and the change-to-searchable times. Exits 1
when an answer other than that 503 was seen or a change never became searchable. Skips, with a
message, when the corpus is absent. Figures only; run it under ``flock /work/.measure.lock``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gzip
import io
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

from bench.measure import ensure_hey

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpora" / "pyvideo-talks.jsonl.gz"
CHANGE_EVERY_SECONDS = 15
HEY_RUN_SECONDS = 15
HEY_CLIENTS = 4
HEY_RATE_PER_CLIENT = 10
SEARCHABLE_TIMEOUT_SECONDS = 120
FIRST_INDEX_TIMEOUT_SECONDS = 900


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def embedded_s3_pid(stack_pid: int) -> int | None:
    """The stack's child running moto (``devstack.aws.EmbeddedAws``), found by its command line."""
    for children in Path(f"/proc/{stack_pid}/task").glob("*/children"):
        for pid in children.read_text().split():
            with contextlib.suppress(OSError):
                if b"serve_until_stdin_closes" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    return int(pid)
    return None


def get(url: str) -> tuple[int, dict | None]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, None  # not listening yet, or reset


class Soak:
    def __init__(self, corpus: Path, seconds: float, workdir: Path) -> None:
        self.seconds = seconds
        self.content = workdir / "content"
        self.content.mkdir()
        shutil.copy(corpus, self.content / corpus.name)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        opener = gzip.open if corpus.suffix == ".gz" else open
        with opener(corpus, "rt", encoding="utf-8") as lines:
            titles = [json.loads(line).get("title", "") for line in lines if line.strip()]
        words = [w for t in random.Random(21).sample(titles, 300) for w in t.split() if w.isalpha() and len(w) > 3]
        self.queries = random.Random(22).sample(words, min(60, len(words)))
        self.statuses: Counter[int] = Counter()  # every answer: hey's and the probes'
        self.before_first_index: Counter[int] = Counter()
        self.first_index_at: float | None = None
        self.searchable_after: list[float] = []
        self.never_searchable: list[str] = []
        #: (seconds since the first index, the stack's resident MB, the embedded S3's resident MB)
        self.memory: list[tuple[float, float, float]] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def count(self, status: int, at: float | None = None) -> None:
        """One answer, at ``at`` (monotonic seconds; default now): before or after the first index was served."""
        at = time.monotonic() if at is None else at
        with self.lock:
            after = self.first_index_at is not None and at >= self.first_index_at
            (self.statuses if after else self.before_first_index)[status] += 1

    def load(self, hey: str) -> None:
        """hey runs back to back, each bounded in time and rate, until the soak stops."""
        n = 0
        while not self.stop.is_set():
            query = self.queries[n % len(self.queries)]
            n += 1
            url = f"{self.base}/api/search?q={urllib.request.quote(query)}"
            command = [hey, "-z", f"{HEY_RUN_SECONDS}s", "-c", str(HEY_CLIENTS), "-q", str(HEY_RATE_PER_CLIENT)]
            started = time.monotonic()
            result = subprocess.run([*command, "-o", "csv", url], capture_output=True, text=True)
            for row in csv.DictReader(io.StringIO(result.stdout)):  # offset: when the request started, in the run
                self.count(int(row.get("status-code") or 0), at=started + float(row.get("offset") or 0))

    def wait_for_first_index(self, stack: subprocess.Popen) -> None:
        deadline = time.monotonic() + FIRST_INDEX_TIMEOUT_SECONDS
        while time.monotonic() < deadline and stack.poll() is None:
            status, _ = get(f"{self.base}/api/health")
            if status == 200:
                with self.lock:
                    self.first_index_at = time.monotonic()
                return
            self.count(status)
            time.sleep(1)
        raise SystemExit(f"no index served within {FIRST_INDEX_TIMEOUT_SECONDS} s (stack exit code {stack.poll()})")

    def change_and_probe(self, n: int) -> None:
        """Add one talk with a word of its own (random letters: no typo away from another); time until a search
        finds that talk."""
        word = "".join(random.Random(n).choices("bcdfghjklmnpqrstvwxz", k=12))
        talk = {"id": f"soak/{n}", "title": f"Soak probe {word}", "speakers": ["Soak"], "summary": word}
        changed_at = time.monotonic()
        (self.content / f"soak-{n:04d}.json").write_text(json.dumps(talk), encoding="utf-8")
        while time.monotonic() - changed_at < SEARCHABLE_TIMEOUT_SECONDS:
            status, body = get(f"{self.base}/api/search?q={word}")
            self.count(status)
            if status == 200 and body and any(hit.get("id") == talk["id"] for hit in body.get("hits", [])):
                self.searchable_after.append(time.monotonic() - changed_at)
                return
            time.sleep(0.25)
        self.never_searchable.append(word)

    def run(self, hey: str) -> int:
        log = open(self.content.parent / "devstack.log", "w", encoding="utf-8")  # noqa: SIM115 — closed below
        stack = subprocess.Popen(
            [sys.executable, "-m", "devstack", "--content-dir", str(self.content), "--port", str(self.port)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        loader = threading.Thread(target=self.load, args=(hey,), daemon=True)
        started = time.monotonic()
        try:
            loader.start()
            self.wait_for_first_index(stack)
            print(f"first index served after {self.first_index_at - started:.0f} s; soaking {self.seconds:.0f} s")
            s3_pid = embedded_s3_pid(stack.pid)
            if s3_pid is None:
                raise SystemExit("the stack's embedded S3 process was not found")
            self.memory.append((0.0, resident_mb(stack.pid), resident_mb(s3_pid)))
            n = 0
            while time.monotonic() - self.first_index_at < self.seconds:
                next_change = self.first_index_at + n * CHANGE_EVERY_SECONDS
                time.sleep(max(0.0, next_change - time.monotonic()))
                self.change_and_probe(n)
                at = time.monotonic() - self.first_index_at
                self.memory.append((at, resident_mb(stack.pid), resident_mb(s3_pid)))
                n += 1
        finally:
            self.stop.set()
            loader.join(timeout=HEY_RUN_SECONDS + 10)
            stack.send_signal(signal.SIGINT)
            try:
                stack.wait(timeout=60)
            except subprocess.TimeoutExpired:
                stack.kill()
            log.close()
        return self.report()

    def report(self) -> int:
        total = sum(self.statuses.values()) + sum(self.before_first_index.values())
        non_200 = {s: c for s, c in self.statuses.items() if s != 200}
        early = {s: c for s, c in self.before_first_index.items() if s not in (0,)}
        times = sorted(self.searchable_after)
        print(f"requests: {total:,} ({sum(self.before_first_index.values()):,} before the first index)")
        print(f"  before the first index: {dict(sorted(early.items())) or 'none'} (503 is the documented answer)")
        print(f"  after it, not 200: {dict(sorted(non_200.items())) or 'none'}")
        for column, name in ((1, "functions (the stack's process)"), (2, "embedded S3 (moto's process)")):
            mbs = [row[column] for row in self.memory]
            print(
                f"{name} resident memory: {mbs[0]:.0f} MB when the first index was served, {mbs[-1]:.0f} MB "
                f"at the end (max {max(mbs):.0f} MB, {len(times)} versions later)"
            )
        series = ", ".join(
            f"{at:.0f} s {stack:.0f}/{s3:.0f}" for at, stack, s3 in self.memory[:: max(1, len(self.memory) // 10)]
        )
        print(f"  resident MB, functions/embedded S3, by time since the first index: {series}")
        if times:
            print(
                f"change to searchable, {len(times)} changes: median {statistics.median(times):.1f} s, "
                f"p90 {times[int(0.9 * (len(times) - 1))]:.1f} s, max {times[-1]:.1f} s, min {times[0]:.1f} s"
            )
        if self.never_searchable:
            print(f"never searchable within {SEARCHABLE_TIMEOUT_SECONDS} s: {', '.join(self.never_searchable)}")
        bad_early = {s for s in early if s not in (200, 503)}  # hey's runs straddle the first 200
        return 1 if non_200 or bad_early or self.never_searchable else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args(argv)
    if not args.corpus.is_file():
        print(f"soak skipped: the corpus {args.corpus} is absent (it lives in ../shared/corpora)")
        return 0
    hey = ensure_hey()
    if hey is None:
        print("soak skipped: hey is not installed (make bench-deps installs it)")
        return 0
    seconds = float(os.environ.get("SOAK_SECONDS") or 600)
    with tempfile.TemporaryDirectory(prefix="talksearch-soak-") as workdir:
        return Soak(args.corpus, seconds, Path(workdir)).run(hey)


if __name__ == "__main__":
    sys.exit(main())
