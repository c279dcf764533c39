"""What an index directory holds, read through the search function's own door (talksearch.index_files)."""

from __future__ import annotations

from talksearch.index_files.reading import IndexFiles


def indexed_ids(directory) -> set[str]:
    """Every talk id a reader of the index finds (deleted talks left out)."""
    files = IndexFiles(directory)
    try:
        return {files.stored(doc)["id"] for doc in range(files.doc_count) if doc not in files.deleted}
    finally:
        files.close()
