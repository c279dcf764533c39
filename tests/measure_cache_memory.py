"""The search function's resident memory while its caches fill, in a process of its own (for a test to read).

    python -m tests.measure_cache_memory build INDEX_DIR [--talks 8000]
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256 python -m tests.measure_cache_memory serve INDEX_DIR [--passes 2]

``build`` writes an index of generated talks whose words follow a Zipf law (a few words in most talks,
as real summaries have), so that queries on its common words fill every cache with large entries.
``serve`` opens it with the search function's ``SearchEngine`` and asks, ``--passes`` times, every query
of a mix drawn by rule from that vocabulary (common words, pairs of them, two-letter prefixes, phrases),
then prints one JSON line: resident MB after opening and after each pass, the peak (VmHWM), and what the
caches' budget allowed and held (absent from code without a budget).
"""

from __future__ import annotations

import argparse
import json
import random
import string
from itertools import accumulate, pairwise
from pathlib import Path

SEED = 12
VOCABULARY = 6000
COMMON = 150


def _vocabulary() -> list[str]:
    rng = random.Random(SEED)
    words: dict[str, None] = {}
    while len(words) < VOCABULARY:
        words["".join(rng.choices(string.ascii_lowercase, k=rng.randint(4, 9)))] = None
    return list(words)


def build(index_dir: Path, talks: int) -> None:
    from index_builder import write_index
    from index_builder.parsers import parse_source

    rng = random.Random(SEED)
    words = _vocabulary()
    weights = list(accumulate(1 / (rank + 1) for rank in range(len(words))))

    def text(k: int) -> str:
        return " ".join(rng.choices(words, cum_weights=weights, k=k))

    speakers = [f"{text(1).title()} {text(1).title()}" for _ in range(talks // 3)]
    records = [
        {
            "id": f"generated/{n}",
            "title": text(6),
            "speakers": [rng.choice(speakers)],
            "event": f"Conference {n % 60}",
            "date": f"20{10 + n % 15}-0{1 + n % 9}-1{n % 10}",
            "language": "eng",
            "tags": [text(1)],
            "summary": text(160),
        }
        for n in range(talks)
    ]
    content = "\n".join(json.dumps(r) for r in records).encode("utf-8")
    write_index(parse_source("talks.jsonl", content).talks, index_dir)


def queries() -> list[str]:
    """The mix, by rule from the vocabulary's ranks: common words, pairs of them, their two-letter prefixes,
    and two common words as a phrase; the most common first."""
    common = _vocabulary()[:COMMON]
    prefixes = list(dict.fromkeys(w[:2] + "*" for w in common))
    return (
        common + [f"{a} {b}" for a, b in pairwise(common)] + prefixes + [f'"{a} {b}"' for a, b in pairwise(common[:40])]
    )


def resident_mb(key: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {key} in /proc/self/status")


def serve(index_dir: Path, passes: int) -> dict:
    from functions.search import lru
    from functions.search.engine import SearchEngine

    engine = SearchEngine(index_dir, time_budget_ms=1e7)
    figures: dict = {"opened_mb": round(resident_mb(), 1), "passes_mb": []}
    for _ in range(passes):
        for q in queries():
            engine.search(q=q)
        figures["passes_mb"].append(round(resident_mb(), 1))
    figures["peak_mb"] = round(resident_mb("VmHWM"), 1)
    budget = getattr(lru, "PROCESS_BUDGET", None)
    if budget is not None:
        figures |= {"memory_mb": budget.memory_bytes >> 20, "limit_mb": budget.limit / 2**20}
        figures["spent_mb"] = budget.spent / 2**20
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.measure_cache_memory", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=("build", "serve"))
    parser.add_argument("index", type=Path)
    parser.add_argument("--talks", type=int, default=4000)
    parser.add_argument("--passes", type=int, default=2)
    args = parser.parse_args()
    if args.command == "build":
        build(args.index, args.talks)
    else:
        print(json.dumps(serve(args.index, args.passes)))


if __name__ == "__main__":
    main()
