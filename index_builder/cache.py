"""The builder's local copy of the last published index, so the next incremental build need not download it."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

from talksearch.contracts import PACK_NAME, Manifest

logger = logging.getLogger("index_builder")

#: Where the builder keeps its local copy of the last published index ("off" to disable).
ENV_BUILD_CACHE = "TALKSEARCH_BUILD_CACHE"


class IndexCache:
    """The last published index, unpacked, kept on local disk for the next incremental build.

    A warm Lambda (``/tmp``) or a developer's machine then skips downloading and unpacking the
    previous artifact. An entry is trusted only for the artifact checksum it was made from, and
    files are hard-linked out of it (Whoosh never rewrites a file, it adds new ones), so a build
    cannot alter it. ``TALKSEARCH_BUILD_CACHE`` sets the folder; ``off`` disables the cache.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def for_location(cls, location: str) -> IndexCache | None:
        setting = os.environ.get(ENV_BUILD_CACHE, "")
        if setting.lower() == "off":
            return None
        root = Path(setting) if setting else Path(tempfile.gettempdir()) / "talksearch-build-cache"
        return cls(root / hashlib.sha256(location.encode("utf-8")).hexdigest()[:16])

    def restore(self, manifest: Manifest, index_dir: Path) -> Path | None:
        """Link the cached index into ``index_dir``; returns the cached artifact, or None on a miss."""
        entry = self.directory / manifest.index_version
        try:
            if (self.directory / f"{manifest.index_version}.sha256").read_text() != manifest.artifact_sha256:
                return None
            index_dir.mkdir(parents=True)
            for path in (entry / "index").iterdir():
                _link_or_copy(path, index_dir / path.name)
            return entry / "index.tar.gz"
        except OSError:
            shutil.rmtree(index_dir, ignore_errors=True)
            return None

    def pack(self, manifest: Manifest) -> bytes | None:
        """The cached search pack of ``manifest``'s version when it has the manifest's sha256, else None (the
        next incremental build keeps what it can of it: ``talksearch.search_pack.previous``)."""
        try:
            data = (self.directory / manifest.index_version / PACK_NAME).read_bytes()
        except OSError:
            return None
        return data if manifest.pack_sha256 and hashlib.sha256(data).hexdigest() == manifest.pack_sha256 else None

    def keep(self, manifest: Manifest, index_dir: Path, archive: Path, pack: Path | None = None) -> None:
        """Replace the cached entry with the index (and its search ``pack``) just published (best effort: a cache
        is optional)."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            for old in self.directory.iterdir():
                if old.is_dir():
                    shutil.rmtree(old, ignore_errors=True)
                else:
                    old.unlink(missing_ok=True)
            entry = self.directory / manifest.index_version
            entry.mkdir()
            shutil.move(index_dir, entry / "index")
            shutil.move(archive, entry / "index.tar.gz")
            if pack is not None:
                shutil.move(pack, entry / PACK_NAME)
            (self.directory / f"{manifest.index_version}.sha256").write_text(manifest.artifact_sha256)
        except OSError as error:
            logger.warning("could not cache the built index in %s: %s", self.directory, error)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
