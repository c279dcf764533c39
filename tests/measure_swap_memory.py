"""The search function's resident memory across index swaps, in a process of its own (for a test to read).

    python -m tests.measure_swap_memory WORK_DIR [--talks 3000] [--versions 4] [--cycles 4]

Builds ``--versions`` versions of ``--talks`` generated talks into a local index folder first (the builder's
memory is then what it is, before any figure), then makes the manifest name each version in turn,
``--cycles`` times: each time the warm ``IndexHolder`` swaps to it in the background, as in Lambda, and four
threads (the local stack's HTTP server answers each request on a thread of its own) search and suggest on
it. Prints one JSON line: the process's resident MB after each swap.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
from pathlib import Path

from functions.search.lifecycle import IndexHolder
from index_builder import build_and_publish
from talksearch.store import open_store

QUERY_THREADS = 4


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def build_versions(work: Path, talks: int, versions: int) -> tuple[str, list[str]]:
    rng = random.Random(7)
    vocabulary = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(4, 10))) for _ in range(20_000)]

    def words(k: int) -> str:
        return " ".join(rng.choices(vocabulary, k=k))

    content, index = work / "content", str(work / "index")
    content.mkdir(parents=True)
    corpus = [
        {
            "id": f"generated/{n}",
            "title": words(6),
            "speakers": [words(2)],
            "event": f"Conference {n % 40}",
            "date": f"20{10 + n % 15}-05-0{1 + n % 9}",
            "language": "eng" if n % 2 else "fra",
            "tags": [words(1)],
            "summary": words(120),
        }
        for n in range(talks)
    ]
    published = []
    for v in range(versions):
        corpus[0] = {**corpus[0], "title": f"version {v} {corpus[0]['title']}"}
        (content / "talks.jsonl").write_text("\n".join(json.dumps(t) for t in corpus), encoding="utf-8")
        report = build_and_publish(str(content), index, keep_versions=versions + 1)
        assert report.published, report.message
        published.append(report.index_version)
    return index, published


def swap_through(work: Path, index: str, versions: list[str], cycles: int) -> list[float]:
    store = open_store(index)
    holder = IndexHolder(index, refresh_seconds=0)
    queries = ["version", "conference", "generated", "summary", "ver", "conf"]
    resident = []
    for version in versions * cycles:
        _, etag = store.read_manifest()
        store.write_manifest(store.read_version_manifest(version), etag)
        holder.engine()  # notices the manifest, swaps in the background
        assert holder.wait_for_swap(timeout=300)
        engine = holder.engine()
        assert holder.wait_for_swap(timeout=300)
        assert engine.version == version

        def search(offset: int, engine=engine) -> None:
            for q in queries[offset:] + queries[:offset]:
                engine.search(q=q)
                engine.suggest(q[:3])

        threads = [threading.Thread(target=search, args=(n,)) for n in range(QUERY_THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        resident.append(round(resident_mb(), 1))
    return resident


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.measure_swap_memory", description=__doc__.split("\n")[0])
    parser.add_argument("work", type=Path)
    parser.add_argument("--talks", type=int, default=3000)
    parser.add_argument("--versions", type=int, default=4)
    parser.add_argument("--cycles", type=int, default=4)
    args = parser.parse_args()
    index, versions = build_versions(args.work, args.talks, args.versions)
    print(json.dumps(swap_through(args.work, index, versions, args.cycles)))


if __name__ == "__main__":
    main()
