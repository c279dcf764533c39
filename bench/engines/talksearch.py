"""talksearch itself, through the code users meet: ``index_builder.build_and_publish`` from the content
files into a published artifact, then the search function's own ``SearchEngine`` over that artifact
after the same download-verify-unpack step the Lambda does. Nothing is shortcut.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from bench.corpus import Corpus
from bench.engines import BuildResult
from bench.measure import directory_bytes

ENGINE_MODULE = "functions.search.engine"
ENGINE_CLASS = "SearchEngine"


class TalksearchEngine:
    name = "talksearch"
    #: it builds from the content folder, as the rebuild function does, not from records in memory
    reads_content_files = True

    def __init__(self) -> None:
        self.published: Path | None = None
        self.index_dir: Path | None = None
        self.artifact_bytes = 0
        self.engine: Any = None

    def build(self, corpus: Corpus, content_dir: Path, workdir: Path) -> BuildResult:
        from index_builder import build_and_publish

        self.published = workdir / "talksearch-published"
        shutil.rmtree(self.published, ignore_errors=True)
        started = time.perf_counter()
        report = build_and_publish(str(content_dir), str(self.published), full=True)
        seconds = time.perf_counter() - started
        if not report.published:
            raise RuntimeError(f"talksearch build did not publish: {report.format()}")
        self.attach(workdir)
        self._download()
        return BuildResult(seconds, {"talks_indexed": float(report.talks_indexed)})

    def attach(self, workdir: Path) -> None:
        """Point at what ``build`` published and unpacked under ``workdir`` (in another process)."""
        self.published = workdir / "talksearch-published"
        self.index_dir = workdir / "talksearch-index"
        manifest = self._manifest()
        self.artifact_bytes = manifest.artifact_bytes

    def _manifest(self):
        from talksearch.store import open_store

        assert self.published
        manifest, _ = open_store(str(self.published)).read_manifest()
        if manifest is None:
            raise RuntimeError(f"no manifest under {self.published}")
        return manifest

    def _download(self) -> None:
        """What the search function does on a cold start: read the manifest, verify and unpack the artifact."""
        from talksearch.artifact import download_index
        from talksearch.store import open_store

        assert self.published and self.index_dir
        manifest = self._manifest()
        shutil.rmtree(self.index_dir, ignore_errors=True)
        download_index(open_store(str(self.published)), manifest, self.index_dir)
        self.artifact_bytes = manifest.artifact_bytes

    def update(self, corpus: Corpus, changes: list[dict], content_dir: Path) -> float:
        from index_builder import build_and_publish

        started = time.perf_counter()
        report = build_and_publish(str(content_dir), str(self.published))
        seconds = time.perf_counter() - started
        if not report.published:
            raise RuntimeError(f"talksearch incremental build did not publish: {report.format()}")
        self.close()
        self._download()
        self.open()
        return seconds

    def sizes(self) -> dict[str, int]:
        assert self.index_dir
        return {"disk_bytes": directory_bytes(self.index_dir), "artifact_bytes": self.artifact_bytes}

    def open(self) -> None:
        from functions.search.engine import SearchEngine

        self.engine = SearchEngine(self.index_dir)

    def search(self, **params: Any) -> dict:
        return self.engine.search(**params)

    def cold_start_target(self) -> tuple[str, str, Path]:
        assert self.index_dir
        return ENGINE_MODULE, ENGINE_CLASS, self.index_dir

    def close(self) -> None:
        close = getattr(self.engine, "close", None)
        if close:
            close()
        self.engine = None
