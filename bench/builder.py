"""The index builder alone, on the shared corpus as one gzipped JSONL file: ``python -m bench.builder``.

Prints, for a local folder and for S3 (a moto server on loopback, reached through boto3 like real
S3): the full build's wall and CPU time and artifact size, then an incremental rebuild after 10
talks of the file change. The one-big-file layout is the hard case for incrementality: the file's
ETag changes, so it is re-read, and only the per-talk fingerprints keep the re-indexing to 10 talks.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from bench.corpus import PYVIDEO
from index_builder.cache import ENV_BUILD_CACHE

BUCKET = "talksearch-bench-builder"


def change_talks(corpus: Path, count: int, offset: int = 0) -> None:
    """Give ``count`` talks of a gzipped JSONL file (spread through it, from ``offset``) a new title."""
    with gzip.open(corpus, "rt", encoding="utf-8") as f:
        lines = f.read().split("\n")  # not splitlines(): U+2028 inside a JSON string is not a line break
    step = len(lines) // count
    for n in range(count):
        record = json.loads(lines[n * step + offset])
        record["title"] += f" (revised {n})"
        lines[n * step + offset] = json.dumps(record, ensure_ascii=False)
    corpus.write_bytes(gzip.compress("\n".join(lines).encode("utf-8"), compresslevel=6))


def timed_build(source: str, index: str, cache: Path | None) -> dict:
    """One build; without a cache it downloads the previous artifact, as a cold Lambda does."""
    from index_builder import build_and_publish

    os.environ[ENV_BUILD_CACHE] = str(cache) if cache else "off"
    wall, cpu = time.perf_counter(), time.process_time()
    report = build_and_publish(source, index, progress=False)
    return {
        "wall_s": time.perf_counter() - wall,
        "cpu_s": time.process_time() - cpu,
        "status": report.status,
        "mode": report.mode,
        "talks": report.talks_indexed,
        "added": report.talks_added,
        "changed": report.talks_changed,
        "removed": report.talks_removed,
        "artifact_mb": report.artifact_bytes / 1e6,
    }


def run_local(corpus: Path, workdir: Path, changed: int) -> list[tuple[str, dict]]:
    content = workdir / "local-content"
    content.mkdir()
    shutil.copy(corpus, content / corpus.name)
    index = str(workdir / "local-index")
    full = timed_build(str(content), index, workdir / "cache")
    change_talks(content / corpus.name, changed)
    warm = timed_build(str(content), index, workdir / "cache")
    change_talks(content / corpus.name, changed, offset=1)
    cold = timed_build(str(content), index, None)
    return [
        ("local folder, full", full),
        (f"local folder, {changed} changed, cache", warm),
        (f"local folder, {changed} changed, no cache", cold),
    ]


def run_s3(corpus: Path, workdir: Path, changed: int) -> list[tuple[str, dict]]:
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log line per request

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        os.environ["AWS_ENDPOINT_URL_S3"] = f"http://{host}:{port}"
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            os.environ.setdefault(name, "bench")
        os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-3")
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
        shutil.copy(corpus, workdir / corpus.name)
        s3.upload_file(str(corpus), BUCKET, f"content/{corpus.name}")
        source, index = f"s3://{BUCKET}/content", f"s3://{BUCKET}/index"
        full = timed_build(source, index, workdir / "cache")
        rows = [("moto server S3, full", full)]
        for offset, cache in ((0, True), (1, False)):
            change_talks(workdir / corpus.name, changed, offset=offset)
            s3.upload_file(str(workdir / corpus.name), BUCKET, f"content/{corpus.name}")
            rows.append(
                (
                    f"moto server S3, {changed} changed, {'cache' if cache else 'no cache'}",
                    timed_build(source, index, workdir / "cache" if cache else None),
                )
            )
    finally:
        server.stop()
        os.environ.pop("AWS_ENDPOINT_URL_S3", None)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.builder", description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=PYVIDEO, help=f"gzipped JSONL corpus (default: {PYVIDEO})")
    parser.add_argument("--changed", type=int, default=10, help="talks changed before the incremental rebuild")
    parser.add_argument("--only", choices=["local", "s3"], help="run one of the two targets")
    args = parser.parse_args(argv)
    if not args.corpus.exists():
        parser.error(f"{args.corpus} not found (the shared corpora are not next to this clone)")
    rows = []
    with tempfile.TemporaryDirectory(prefix="talksearch-bench-builder-") as tmp:
        for name, run in (("local", run_local), ("s3", run_s3)):
            if args.only in (None, name):
                target = Path(tmp) / name
                target.mkdir()
                rows += run(args.corpus, target, args.changed)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall time counts other processes)")
    header = f"{'build':<40} {'status':<10} {'talks':>7} {'+new/~chg/-gone':>16}"
    print(f"{header} {'wall s':>7} {'cpu s':>7} {'artifact MB':>12}")
    for name, r in rows:
        delta = f"+{r['added']}/~{r['changed']}/-{r['removed']}"
        print(
            f"{name:<40} {r['status']:<10} {r['talks']:>7,} {delta:>16} {r['wall_s']:>7.1f} {r['cpu_s']:>7.1f} "
            f"{r['artifact_mb']:>12.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
