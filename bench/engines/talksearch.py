"""talksearch itself, through the code users meet: ``index_builder.build_and_publish`` from the content
files into a published version, then the search function's own ``SearchEngine`` over that version's
search pack, after the same download and sha256 check the Lambda does. Nothing is shortcut.

What a cold container downloads is the pack (``sizes.artifact_bytes``); the Whoosh artifact the builder
also publishes, for its own incremental builds, is ``sizes.whoosh_artifact_bytes``.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from bench.corpus import Corpus
from bench.engines import BuildResult

#: What a fresh process imports and calls with the pack's path for the cold start without the fetch.
COLD_START_MODULE = "bench.pack_engine"
COLD_START_OPENER = "open_pack"


class TalksearchEngine:
    name = "talksearch"
    #: it builds from the content folder, as the rebuild function does, not from records in memory
    reads_content_files = True

    def __init__(self) -> None:
        self.published: Path | None = None
        self.pack_path: Path | None = None
        self.artifact_bytes = 0
        self.whoosh_artifact_bytes = 0
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
        """Point at what ``build`` published and downloaded under ``workdir`` (in another process)."""
        self.published = workdir / "talksearch-published"
        self.pack_path = workdir / "talksearch.pack"
        manifest = self._manifest()
        self.artifact_bytes, self.whoosh_artifact_bytes = manifest.pack_bytes, manifest.artifact_bytes

    def _manifest(self):
        from talksearch.store import open_store

        assert self.published
        manifest, _ = open_store(str(self.published)).read_manifest()
        if manifest is None:
            raise RuntimeError(f"no manifest under {self.published}")
        return manifest

    def _download(self) -> None:
        """What the search function does on a cold start: read the manifest, download and check the pack (kept
        in ``pack_path`` too, for the parent process and the cold start without the fetch)."""
        from talksearch.search_pack import MAX_PACK_BYTES
        from talksearch.store import download_verified, open_reader

        assert self.published and self.pack_path
        manifest = self._manifest()
        store = open_reader(str(self.published))
        data = download_verified(store, manifest.pack_key, manifest.pack_sha256, manifest.pack_bytes, MAX_PACK_BYTES)
        self.pack_path.write_bytes(data)
        self.artifact_bytes, self.whoosh_artifact_bytes = manifest.pack_bytes, manifest.artifact_bytes

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
        """The pack is what the search function downloads and holds (in memory, not on disk)."""
        return {
            "disk_bytes": self.artifact_bytes,
            "artifact_bytes": self.artifact_bytes,
            "whoosh_artifact_bytes": self.whoosh_artifact_bytes,
        }

    def open(self) -> None:
        from bench.pack_engine import open_pack

        assert self.pack_path
        self.engine = open_pack(self.pack_path, self._manifest().index_version)

    def search(self, **params: Any) -> dict:
        return self.engine.search(**params)

    def cold_start_target(self) -> tuple[str, str, Path]:
        assert self.pack_path
        return COLD_START_MODULE, COLD_START_OPENER, self.pack_path

    def close(self) -> None:
        close = getattr(self.engine, "close", None)
        if close:
            close()
        self.engine = None
