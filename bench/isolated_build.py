"""One engine's full build in a process of its own: ``python -m bench.isolated_build ENGINE CORPUS CONTENT WORKDIR``.

``make bench`` builds every engine this way, so that the peak resident memory it reports for a build
(``bench.measure.peak_rss_mb``) is that build's alone, not the harness' or another engine's. A peer is handed the
corpus records (its input, read from CORPUS, a JSONL file) before the clock starts; talksearch reads
the content folder itself, as the rebuild Lambda does. Prints one JSON line: the build's seconds and
details, the resident memory before it started and the peak.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from pathlib import Path

from bench.corpus import Corpus, read_jsonl
from bench.measure import peak_rss_mb


def make_engine(name: str):
    if name == "talksearch":
        from bench.engines.talksearch import TalksearchEngine

        return TalksearchEngine()
    from bench.engines import peers

    return peers.fts5_engine() if name == "fts5" else peers.tantivy_engine()


def resident_mb() -> float:
    """This process' resident memory now (Linux)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main(argv: list[str]) -> int:
    name, corpus_file, content_dir, workdir = argv
    engine = make_engine(name)
    records = [] if getattr(engine, "reads_content_files", False) else read_jsonl(Path(corpus_file))
    corpus = Corpus(Path(corpus_file).stem, records)
    before = resident_mb()
    build = engine.build(corpus, Path(content_dir), Path(workdir))
    peak = peak_rss_mb()
    # the builder's analysing process, when it used one (Linux reports kB)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": build.seconds,
                "detail": build.detail,
                "base_rss_mb": before,
                "peak_rss_mb": peak,
                "children_peak_rss_mb": children,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
