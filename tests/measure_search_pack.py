"""First-time reads from a search pack against the same reads from the Whoosh index it was written from.

    python -m tests.measure_search_pack INDEX_DIR PACK [--runs 5]

Each read is timed on a freshly opened reader (nothing decoded or cached yet: what the first query of a
version pays), in CPU milliseconds, the least of ``--runs`` runs; both readers must return the same.
Terms are drawn by rule from the index: the most frequent ``summary`` words, rare ones (in 2 to 5
talks), the completions of two-letter prefixes of ``words`` (as the engine expands ``co*``: the 16
most frequent of the first 2,000), positions of common words in 40 of their talks, stored talks
spread over the corpus. docs/search-pack.md quotes its figures on the 21,713-talk index.
"""

from __future__ import annotations

import argparse
import heapq
import time
from collections.abc import Callable
from operator import itemgetter
from pathlib import Path

from talksearch.index_files.reading import IndexFiles
from talksearch.search_pack import PackFiles


def fresh_cpu_ms(
    open_reader: Callable[[], object], read: Callable[[object], object], runs: int
) -> tuple[float, object]:
    """The least CPU time of ``read`` over ``runs`` readers, each opened anew (the opening not counted)."""
    best, result = float("inf"), None
    for _ in range(runs):
        reader = open_reader()
        started = time.process_time()
        result = read(reader)
        best = min(best, (time.process_time() - started) * 1000)
        if reader is not None:
            reader.close()
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_dir")
    parser.add_argument("pack", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    data = args.pack.read_bytes()
    files = IndexFiles(args.index_dir)
    by_frequency = sorted(
        ((sum(per_segment), term) for term, per_segment, *_ in files.field_postings("summary")), reverse=True
    )
    common = [t for _, t in by_frequency[:40]]
    rare_pool = [t for df, t in by_frequency if 2 <= df <= 5]
    rare = rare_pool[:: max(1, len(rare_pool) // 200)][:200]
    heads = sorted({t[:2] for t in common if len(t) >= 2})[:12]
    expansions = [
        t
        for head in heads
        for t, _ in heapq.nlargest(16, files.prefix_frequencies("words", head, 2000).items(), key=itemgetter(1))
    ]
    candidates = [(t, set(files.postings("summary", t)[0][::7][:40])) for t in common[:30]]
    talks = list(range(0, files.doc_count, max(1, files.doc_count // 200)))
    reads: list[tuple[str, Callable[[object], object]]] = [
        (f"postings of {len(common)} common summary words", lambda r: [r.postings("summary", t) for t in common]),
        (f"postings of {len(rare)} rare summary words", lambda r: [r.postings("summary", t) for t in rare]),
        (
            f"{len(heads)} two-letter prefixes of words: expansion + {len(expansions)} postings",
            lambda r: (
                [r.prefix_frequencies("words", h, 2000) for h in heads],
                [r.postings("words", t) for t in expansions],
            ),
        ),
        (
            "positions of 30 common words in 40 talks each",
            lambda r: [r.positions("summary", t, docs) for t, docs in candidates],
        ),
        (f"stored fields of {len(talks)} talks", lambda r: [r.stored(d) for d in talks]),
        ("length bytes of summary, title, words", lambda r: [r.length_bytes(f) for f in ("summary", "title", "words")]),
        (
            "columns speaker_values, date, sort_title",
            lambda r: [r.column(f) for f in ("speaker_values", "date", "sort_title")],
        ),
    ]
    files.close()
    open_ms = {
        "index": fresh_cpu_ms(lambda: None, lambda _: IndexFiles(args.index_dir).close(), args.runs)[0],
        "pack": fresh_cpu_ms(lambda: None, lambda _: PackFiles(data), args.runs)[0],
    }
    print(f"{args.pack} ({len(data) / 1e6:.1f} MB), {args.runs} runs, least CPU ms on a fresh reader")
    print(f"{'read':62} {'IndexFiles':>10} {'PackFiles':>10} {'ratio':>6}")
    print(f"{'open':62} {open_ms['index']:10.2f} {open_ms['pack']:10.2f} {open_ms['index'] / open_ms['pack']:6.1f}")
    for what, read in reads:
        index_ms, index_result = fresh_cpu_ms(lambda: IndexFiles(args.index_dir), read, args.runs)
        pack_ms, pack_result = fresh_cpu_ms(lambda: PackFiles(data), read, args.runs)
        assert index_result == pack_result, what
        print(f"{what:62} {index_ms:10.2f} {pack_ms:10.2f} {index_ms / max(pack_ms, 0.01):6.1f}")


if __name__ == "__main__":
    main()
