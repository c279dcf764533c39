"""The search function's resident memory and CPU latency over passes of a mix, in this process alone.

    python -m bench.memory INDEX MIX [--per-kind 20] [--passes 3] [--second-index INDEX]

Opens the search function's ``SearchEngine`` over INDEX, a search pack (a file, held in memory as the function
holds it) or a Whoosh index folder (the caches' budget follows ``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``,
as on Lambda), asks every query of the mix once per pass (shuffled, seeded by the pass), and prints
one line: resident MB after opening and after each pass, with the peak (VmHWM), the CPU time of the first
pass (caches cold) and of the later ones, and the caches' budget. ``--second-index``: then open another
version (a copy of the index elsewhere, as a swap downloads one) while the first stays open, as the
search function keeps the previous version for the requests still using it, and run the passes on it.
Run it under ``flock /work/.measure.lock``: figures are only comparable within one run.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

from bench.measure import percentiles
from bench.queries import read_mix_file


def _status(key: str) -> int:
    """A line of /proc/self/status, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) // 1024
    raise RuntimeError(f"no {key} in /proc/self/status")


def _passes(engine, queries: list[dict], passes: int) -> tuple[list[list[float]], list[str]]:
    cpu, resident = [], []
    for n in range(passes):
        order = list(queries)
        random.Random(n).shuffle(order)
        times = []
        for query in order:
            started = time.process_time()
            engine.search(**query["params"])
            times.append((time.process_time() - started) * 1000)
        cpu.append(times)
        resident.append(f"{_status('VmRSS')}/{_status('VmHWM')}")
    return cpu, resident


def _cpu(samples: list[float]) -> str:
    figures = percentiles(samples)
    return " / ".join(f"{figures[k]:.2f}" for k in ("p50", "p95", "p99"))


def _budget() -> str:
    """What the caches hold and may hold (code from before the budget, measured as a baseline: nothing)."""
    try:
        from functions.search.lru import PROCESS_BUDGET as budget
    except ImportError:
        return "no caches' budget"
    return f"caches {budget.spent / 2**20:.0f} of {budget.limit / 2**20:.0f} MB (memory {budget.memory_bytes >> 20})"


def _open(index: Path):
    from functions.search.engine import SearchEngine

    if index.is_file():
        from talksearch.search_pack import PackFiles

        return SearchEngine(files=PackFiles(index.read_bytes()), version=index.stem, time_budget_ms=1e7)
    return SearchEngine(index, time_budget_ms=1e7)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.split("\n")[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("mix", type=Path)
    parser.add_argument("--per-kind", type=int, default=None)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--second-index", type=Path)
    args = parser.parse_args(argv)
    queries = read_mix_file(args.mix, args.per_kind)["queries"]
    engine = _open(args.index)
    opened = _status("VmRSS")
    cpu, resident = _passes(engine, queries, args.passes)
    repeat = [ms for times in cpu[1:] for ms in times]
    print(
        f"{len(queries)} queries × {args.passes} passes: opened {opened} MB; RSS/peak after each pass "
        f"{' '.join(resident)} MB; CPU ms p50 / p95 / p99 first pass {_cpu(cpu[0])}, "
        f"repeat {_cpu(repeat) if repeat else '–'}; {_budget()}; files mapped {_status('RssFile')} MB",
        flush=True,
    )
    if args.second_index:
        second = _open(args.second_index)
        opened = _status("VmRSS")
        _, resident = _passes(second, queries, args.passes)
        print(f"  a second version: opened {opened} MB; RSS/peak after each pass {' '.join(resident)} MB; {_budget()}")


if __name__ == "__main__":
    main()
