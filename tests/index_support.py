"""What a published Whoosh index holds: unpacked as the builder does, read through talksearch.index_files."""

from __future__ import annotations

from pathlib import Path

from talksearch.artifact import download_artifact, unpack_index
from talksearch.contracts import Manifest
from talksearch.index_files.reading import IndexFiles
from talksearch.store import Store


def unpacked_index(store: Store, manifest: Manifest, index_dir: Path) -> Path:
    """The manifest's Whoosh index in ``index_dir``: its artifact downloaded, checked and unpacked (the builder's way;
    the search function reads the search pack instead)."""
    index_dir = Path(index_dir)
    unpack_index(download_artifact(store, manifest, index_dir.parent / f"{index_dir.name}.tar.gz"), index_dir)
    return index_dir


def indexed_ids(directory) -> set[str]:
    """Every talk id a reader of the index finds (deleted talks left out)."""
    files = IndexFiles(directory)
    try:
        return {files.stored(doc)["id"] for doc in range(files.doc_count) if doc not in files.deleted}
    finally:
        files.close()
