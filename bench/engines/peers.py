"""The two peers behind the harness' Engine interface: each module offers build, update and Searcher."""

from __future__ import annotations

import time
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.corpus import Corpus
from bench.engines import BuildResult
from bench.measure import directory_bytes, pack_artifact


class PeerEngine:
    def __init__(self, name: str, module: ModuleType, artifact_name: str) -> None:
        self.name = name
        self.module = module
        self.artifact_name = artifact_name
        self.path: Path | None = None
        self.archive: Path | None = None
        self.searcher: Any = None

    def build(self, corpus: Corpus, content_dir: Path, workdir: Path) -> BuildResult:
        self.attach(workdir)
        started = time.perf_counter()
        self.module.build(corpus.records, self.path)
        return BuildResult(time.perf_counter() - started)

    def attach(self, workdir: Path) -> None:
        """Point at the index ``build`` wrote under ``workdir`` (in another process)."""
        self.path = workdir / self.artifact_name
        self.archive = workdir / f"{self.artifact_name}.tar.gz"

    def update(self, corpus: Corpus, changes: list[dict], content_dir: Path) -> float:
        self.close()
        started = time.perf_counter()
        self.module.update(self.path, changes)
        seconds = time.perf_counter() - started
        self.open()
        return seconds

    def sizes(self) -> dict[str, int]:
        assert self.path
        assert self.archive
        return {"disk_bytes": directory_bytes(self.path), "artifact_bytes": pack_artifact(self.path, self.archive)}

    def open(self) -> None:
        self.searcher = self.module.Searcher(self.path)

    def search(self, **params: Any) -> dict:
        return self.searcher.search(**params)

    def cold_start_target(self) -> tuple[str, str, Path]:
        assert self.path
        return self.module.__name__, "Searcher", self.path

    def close(self) -> None:
        if self.searcher is not None:
            self.searcher.close()
        self.searcher = None


def fts5_engine() -> PeerEngine:
    from bench.engines import fts5

    return PeerEngine("fts5", fts5, "fts5.sqlite3")


def tantivy_engine() -> PeerEngine:
    from bench.engines import tantivy_peer

    return PeerEngine("tantivy", tantivy_peer, "tantivy-index")
