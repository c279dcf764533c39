"""Talk records → a Whoosh index directory: full writes and in-place incremental updates.

This module and talksearch.schema are the only places the builder touches Whoosh.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.writing import SegmentWriter

from talksearch.schema import Talk, build_schema, talk_to_document

#: Memory for Whoosh's posting pool: big enough that a 20k-talk corpus is sorted in one run
#: (fewer temp files and merges), small enough for a 1 GB Lambda.
WRITER_LIMIT_MB = 256


def write_index(
    talks: Iterable[Talk], directory: str | os.PathLike, *, progress: Callable[[int], None] | None = None
) -> None:
    """Create a new index in ``directory`` (created if needed, must not hold an index) with these talks."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    ix = whoosh_index.create_in(str(path), build_schema())
    writer = ix.writer(limitmb=WRITER_LIMIT_MB)
    _add(writer, talks, progress)
    writer.commit()


def update_index(
    directory: str | os.PathLike,
    *,
    remove_ids: Iterable[str],
    add: Iterable[Talk],
    progress: Callable[[int], None] | None = None,
) -> None:
    """Delete talks by id and add new ones in an existing index (one new small segment)."""
    ix = whoosh_index.open_dir(str(directory))
    writer = ix.writer(limitmb=WRITER_LIMIT_MB)
    try:
        for talk_id in remove_ids:
            writer.delete_by_term("id", talk_id)
        _add(writer, add, progress)
    except BaseException:
        writer.cancel()
        raise
    writer.commit()


def _add(writer: SegmentWriter, talks: Iterable[Talk], progress: Callable[[int], None] | None) -> None:
    for n, talk in enumerate(talks, 1):
        writer.add_document(**talk_to_document(talk))
        if progress is not None and n % 500 == 0:
            progress(n)


def indexed_ids(directory: str | os.PathLike) -> set[str]:
    """Every talk id in an index (for checks after an incremental update)."""
    ix = whoosh_index.open_dir(str(directory))
    with ix.searcher() as searcher:
        return {fields["id"] for fields in searcher.all_stored_fields()}
