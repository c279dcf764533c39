"""What each private Whoosh access of talksearch.index_files saves, against Whoosh's public API, on one index.

    python -m tests.measure_index_files INDEX_DIR [--runs 5]

Prints CPU milliseconds (the least of ``--runs`` runs, so other jobs on the machine matter little)
for the door's way and the public way of reading the same thing, after checking both read the same.
docs/architecture.md ("The door to Whoosh") quotes its figures on the 21,713-talk index.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

from whoosh.reading import TermNotFound
from whoosh.util.numeric import length_to_byte

from talksearch.index_files.reading import IndexFiles


def cpu_ms(work: Callable[[], object], runs: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(runs):
        started = time.process_time()
        result = work()
        best = min(best, (time.process_time() - started) * 1000)
    return best, result


def public_postings(files: IndexFiles, fieldname: str, term: str) -> tuple[list[int], list[float]]:
    ids, weights = [], []
    for segment, offset in files._segments:
        try:
            matcher = segment.postings(fieldname, term)
        except TermNotFound:
            continue
        while matcher.is_active():
            ids.append(matcher.id() + offset)
            weights.append(matcher.weight())
            matcher.next()
    return ids, weights


def public_positions(files: IndexFiles, fieldname: str, term: str, docs: set[int]) -> dict[int, list[int]]:
    found = {}
    for segment, offset in files._segments:
        try:
            matcher = segment.postings(fieldname, term)
        except TermNotFound:
            continue
        for doc in sorted(d - offset for d in docs if d >= offset):
            if not matcher.is_active():
                break
            matcher.skip_to(doc)
            if matcher.is_active() and matcher.id() == doc:
                found[doc + offset] = list(matcher.value_as("positions"))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_dir")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    files = IndexFiles(args.index_dir)
    draw = random.Random(11)
    vocabulary = [t.decode("utf-8") for t in files._reader.lexicon("summary")]
    common = [t for t in vocabulary if files.doc_frequency("summary", t) >= 500]
    middle = [t for t in vocabulary if 20 <= files.doc_frequency("summary", t) < 500]
    terms = draw.sample(common, 40) + draw.sample(middle, 160)
    rows = []

    def compare(what: str, door: Callable[[], object], public: Callable[[], object]) -> None:
        door_ms, door_result = cpu_ms(door, args.runs)
        public_ms, public_result = cpu_ms(public, args.runs)
        assert door_result == public_result, what
        rows.append((what, door_ms, public_ms))

    compare(
        f"postings of {len(terms)} summary terms (talks, frequencies)",
        lambda: [files.postings("summary", t) for t in terms],
        lambda: [public_postings(files, "summary", t) for t in terms],
    )
    words = draw.sample(common, 30)
    for count in (5, 40, 400):  # proximity checks the best 30 talks; a phrase, the talks having every word
        candidates = [(t, set(draw.sample(files.postings("summary", t)[0], count))) for t in words]
        compare(
            f"positions of 30 common words in {count} talks each",
            lambda c=candidates: [files.positions("summary", t, docs) for t, docs in c],
            lambda c=candidates: [public_positions(files, "summary", t, docs) for t, docs in c],
        )
    for fieldname in ("summary", "title", "words"):
        compare(
            f"length bytes of every talk, {fieldname}",
            lambda f=fieldname: files.length_bytes(f),
            lambda f=fieldname: b"".join(
                bytes(length_to_byte(s.doc_field_length(d, f) or 0) for d in range(s.doc_count_all()))
                for s, _ in files._segments
            ),
        )
    for fieldname in ("speaker_values", "date", "sort_title"):
        compare(
            f"column of every talk, {fieldname}",
            lambda f=fieldname: files.column(f),
            lambda f=fieldname: [v for s, _ in files._segments for v in s.column_reader(f, translate=False)],
        )
    files.close()
    print(f"{files.doc_count:,} talks, {args.runs} runs, least CPU ms")
    print(f"{'what':58} {'door':>8} {'public':>8} {'ratio':>6}")
    for what, door_ms, public_ms in rows:
        print(f"{what:58} {door_ms:8.2f} {public_ms:8.2f} {public_ms / max(door_ms, 0.01):6.1f}")


if __name__ == "__main__":
    main()
