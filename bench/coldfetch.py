"""Cold start with the fetch: what a visitor of a cold container waits for, for every engine.

Every engine's artifact, as it would be shipped, goes to the same moto S3 server on loopback:
talksearch's published tree (``manifest.json`` and ``versions/<v>/index.tar.gz``), each peer's
index packed as a tar.gz. Then, in fresh processes, each engine fetches it and answers one query:

- talksearch through the search function itself: import ``functions.search.app``, and hand
  ``lambda_handler`` an HTTP API event; its first request reads the manifest, downloads the
  search pack into memory, checks its sha256, opens it and answers, exactly as a cold Lambda does;
- a peer the way a competent deployment of it would: import boto3 and the engine, stream the
  object through sha256 into tar's unpacker, open the index, answer.

Reported per engine (median over the fresh processes): time to the first answer, measured inside
the process from its first line, its parts, the whole process seen from outside, and the peak
resident memory (``bench.measure.peak_rss_mb``). talksearch's parts are the import (the function and its engine
library), the fetch (the search pack's download and sha256), the open (the engine's open and warm-up)
and the query; the rest of its first request is the S3 client and the manifest read. Loopback is faster than
real S3: the fetch part is a lower bound.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.corpus import ROOT
from bench.measure import sha256_of

BUCKET = "talksearch-bench-cold"
REGION = "eu-west-3"
FIELDS = ("import_ms", "fetch_ms", "open_ms", "query_ms", "total_ms", "process_ms", "cpu_ms", "peak_rss_mb")


@dataclass
class S3Endpoint:
    url: str
    client: object

    def child_env(self, root: Path = ROOT, **extra: str) -> dict[str, str]:
        """What a fresh process running ``root``'s code needs to reach this server (credentials are moto's dummies)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
        return env | {
            "AWS_ENDPOINT_URL_S3": self.url,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": REGION,
            "PYTHONPATH": str(root),
            **extra,
        }


@contextmanager
def s3_server() -> Iterator[S3Endpoint]:
    """A moto S3 server on a free loopback port with the benchmark's bucket, stopped afterwards."""
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        client = boto3.client(
            "s3", endpoint_url=url, region_name=REGION, aws_access_key_id="bench", aws_secret_access_key="bench"
        )
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield S3Endpoint(url, client)
    finally:
        server.stop()


def upload_tree(endpoint: S3Endpoint, root: Path, prefix: str) -> None:
    """Every file under ``root`` to ``prefix/<relative path>`` (talksearch's published layout)."""
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
        endpoint.client.upload_file(str(path), BUCKET, f"{prefix}/{path.relative_to(root).as_posix()}")


# bench.measure.peak_rss_mb, inlined: importing the harness would count in the engine's import time
_PEAK = """
def peak_mb():
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM:"))
"""

_TALKSEARCH = """
import time
started = time.perf_counter()
import json, sys
from urllib.parse import urlencode
{peak}
from functions.search import app
phases = {}

def timed(owner, name, key):
    # measurement only: how much of the first request goes to each step, when the step exists
    original = getattr(owner, name, None)
    if original is None:
        return
    def wrapper(*args, **kwargs):
        began = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            phases[key] = phases.get(key, 0.0) + (time.perf_counter() - began) * 1000
    setattr(owner, name, wrapper)

import talksearch.store
if hasattr(talksearch.store, "download_verified"):
    timed(talksearch.store, "download_verified", "fetch_ms")  # the search pack
else:  # a baseline checkout from before the download moved to the store (its import then counts as import)
    import talksearch.artifact
    timed(talksearch.artifact, "download_verified", "fetch_ms")
    timed(talksearch.artifact, "download_index", "fetch_ms")  # from before the pack
try:  # imported here rather than in the first request: the engine's library counts as import, as a peer's does
    import functions.search.engine
    timed(functions.search.engine.SearchEngine, "__init__", "open_ms")
except ImportError:
    pass
imported = time.perf_counter()
class Context:
    function_name, memory_limit_in_mb, aws_request_id = "bench", 1024, "bench"
    invoked_function_arn = "arn:aws:lambda:eu-west-3:123456789012:function:bench"
event = {"version": "2.0", "routeKey": "$default", "rawPath": "/api/search",
         "rawQueryString": urlencode(json.loads(sys.argv[1]), doseq=True), "headers": {"host": "bench"},
         "requestContext": {"http": {"method": "GET", "path": "/api/search"}, "requestId": "bench",
                            "stage": "$default"}, "isBase64Encoded": False}
response = app.lambda_handler(event, Context())
done = time.perf_counter()
if response["statusCode"] != 200:
    raise SystemExit(f"first request answered {response['statusCode']}: {response.get('body', '')[:300]}")
body = json.loads(response["body"])
print(json.dumps({"import_ms": (imported - started) * 1000, "fetch_ms": phases.get("fetch_ms"),
                  "open_ms": phases.get("open_ms"), "query_ms": body["took_ms"], "total_ms": (done - started) * 1000,
                  "peak_rss_mb": peak_mb(),
                  "hits": len(body["hits"])}))
"""

_PEER = """
import time
started = time.perf_counter()
import hashlib, json, sys, tarfile
import boto3
{peak}
from {module} import {cls}
imported = time.perf_counter()
bucket, key, sha256, destination, name = sys.argv[2:7]
client = boto3.client("s3")
fetching = time.perf_counter()  # as for talksearch, creating the S3 client is in neither part
body = client.get_object(Bucket=bucket, Key=key)["Body"]
digest = hashlib.sha256()

class Checked:
    def read(self, size=-1):
        chunk = body.read(size)
        digest.update(chunk)
        return chunk

stream = Checked()
with tarfile.open(fileobj=stream, mode="r|gz") as tar:
    tar.extractall(destination, filter="data")
while stream.read(1 << 20):
    pass
if digest.hexdigest() != sha256:
    raise SystemExit("checksum mismatch")
fetched = time.perf_counter()
engine = {cls}(destination + "/" + name)
opened = time.perf_counter()
result = engine.search(**json.loads(sys.argv[1]))
done = time.perf_counter()
print(json.dumps({{"import_ms": (imported - started) * 1000, "fetch_ms": (fetched - fetching) * 1000,
                  "open_ms": (opened - fetched) * 1000, "query_ms": (done - opened) * 1000,
                  "total_ms": (done - started) * 1000,
                  "peak_rss_mb": peak_mb(),
                  "hits": len(result["hits"])}}))
"""


def talksearch_cold_fetch(
    endpoint: S3Endpoint, published: Path, params: dict, runs: int, workdir: Path, root: Path = ROOT
) -> dict:
    """The search function's own cold path (``root``'s checkout of it), from a published tree under ``talksearch/``."""
    upload_tree(endpoint, published, "talksearch")
    env = {"INDEX_BUCKET": BUCKET, "INDEX_PREFIX": "talksearch", "POWERTOOLS_LOG_LEVEL": "ERROR"}
    script = _TALKSEARCH.replace("{peak}", _PEAK)
    return _runs([sys.executable, "-c", script, json.dumps(params)], endpoint, env, runs, workdir, root=root)


def peer_cold_fetch(
    endpoint: S3Endpoint, name: str, module: str, cls: str, artifact: Path, unpacked: str, params: dict, runs: int,
    workdir: Path,
) -> dict:  # fmt: skip
    """A peer's artifact (a tar.gz holding ``unpacked``) fetched, checked, unpacked and opened by ``module.cls``."""
    key = f"{name}/{artifact.name}"
    endpoint.client.upload_file(str(artifact), BUCKET, key)
    script = _PEER.format(module=module, cls=cls, peak=_PEAK)
    argv = [sys.executable, "-c", script, json.dumps(params), BUCKET, key, sha256_of(artifact)]
    return _runs(argv, endpoint, {}, runs, workdir, unpacked=unpacked)


def _runs(
    argv: list[str], endpoint: S3Endpoint, env: dict, runs: int, workdir: Path, unpacked: str = "", root: Path = ROOT
) -> dict:
    """``runs`` fresh processes; medians of their figures, with ``cpu_ms``: the process's user + system CPU,
    all threads, interpreter start included (what a loaded machine stretches least)."""
    measured = []
    for _ in range(runs):
        # a fresh /tmp for each process, as a new Lambda sandbox has
        with tempfile.TemporaryDirectory(prefix="cold-", dir=workdir) as tmp:
            args = [*argv, tmp, unpacked] if unpacked else argv
            started, cpu = time.perf_counter(), _children_cpu_seconds()
            done = subprocess.run(
                args, cwd=root, env=endpoint.child_env(root, TMPDIR=tmp, **env), capture_output=True, text=True,
                timeout=300,
            )  # fmt: skip
            elapsed, cpu = (time.perf_counter() - started) * 1000, (_children_cpu_seconds() - cpu) * 1000
        if done.returncode != 0:
            lines = (done.stderr.strip() or done.stdout.strip() or "(no output)").splitlines()
            raise RuntimeError(f"cold start with fetch failed: {lines[-1][:300]}")
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        measured.append(figures | {"process_ms": elapsed, "cpu_ms": cpu})
    summary: dict = {"runs": runs}
    for key in FIELDS:
        values = [m[key] for m in measured if m.get(key) is not None]
        summary[key] = statistics.median(values) if values else None
    summary["peak_rss_max_mb"] = max(m["peak_rss_mb"] for m in measured)
    return summary


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> None:
    """``python -m bench.coldfetch PUBLISHED TANTIVY_DIR``: talksearch's cold path with the fetch and tantivy's, in
    one run from one moto server, without building either (a published tree, a tantivy index directory); with
    ``--baseline CHECKOUT``, also another checkout's search function on the same tree (before/after a change)."""
    import argparse

    from bench.measure import pack_artifact

    parser = argparse.ArgumentParser(prog="python -m bench.coldfetch", description=main.__doc__)
    parser.add_argument("published", type=Path, help="a published index tree (manifest.json, versions/)")
    parser.add_argument("tantivy", type=Path, help="a tantivy index directory (bench.engines.tantivy_peer's)")
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per engine (default 5)")
    parser.add_argument("--baseline", type=Path, help="another checkout whose search function runs too")
    parser.add_argument("--query", default="python web", help="the first query (default: %(default)s)")
    args = parser.parse_args(argv)
    params = {"q": args.query}
    results: dict = {}
    with s3_server() as endpoint, tempfile.TemporaryDirectory(prefix="coldfetch-") as tmp:
        workdir = Path(tmp)
        if args.baseline:
            results["talksearch (baseline)"] = talksearch_cold_fetch(
                endpoint, args.published, params, args.runs, workdir, root=args.baseline.resolve()
            )
        results["talksearch"] = talksearch_cold_fetch(endpoint, args.published, params, args.runs, workdir)
        archive = workdir / "tantivy.tar.gz"
        size = pack_artifact(args.tantivy, archive)
        results["tantivy"] = peer_cold_fetch(
            endpoint, "tantivy", "bench.engines.tantivy_peer", "Searcher", archive, args.tantivy.name, params,
            args.runs, workdir,
        ) | {"artifact_bytes": size}  # fmt: skip
    print(json.dumps(results, indent=1))
    tantivy = results["tantivy"]
    for name, figures in results.items():
        print(
            f"{name:22} first answer {figures['total_ms']:6.0f} ms ({figures['total_ms'] / tantivy['total_ms']:.2f}x "
            f"tantivy), CPU {figures['cpu_ms']:6.0f} ms ({figures['cpu_ms'] / tantivy['cpu_ms']:.2f}x), "
            f"peak {figures['peak_rss_max_mb']:.0f} MB",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
